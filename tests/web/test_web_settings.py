"""Settings in the browser: API keys, default models, usage with its charts."""

from __future__ import annotations

import re

from tests.web.browser import Live, Page, expect, screenshot, send_and_watch, sign_in

STATUS_WITH = """async key => (await fetch('/v1/models',
  {headers: {authorization: `Bearer ${key}`}})).status"""

USAGE_RECORDED = """async () => {  // once the query is counted: its limit
  const headers = {authorization: `Bearer ${localStorage.getItem('chorus.apiKey')}`};
  for (let attempt = 0; attempt < 50; attempt++) {
    const usage = await (await fetch('/v1/usage', {headers})).json();
    if (usage.queries.used) return usage.queries.limit;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the query was not recorded');
}"""


def test_create_a_key_see_it_once_and_revoke_it(page: Page, live: Live) -> None:
    sign_in(page, live, live.key())
    page.click("text=Settings")
    expect(page).to_have_url(f"{live.url}/#/settings/keys")
    rows = page.locator(".keys tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("active (this browser)")

    page.fill("#key-name", "laptop")
    page.press("#key-name", "Enter")
    secret_box = page.locator(".secret-value")
    expect(secret_box).to_be_focused()
    secret = secret_box.input_value()
    assert secret.startswith("sk_test_")
    expect(rows).to_have_count(2)
    assert page.evaluate(STATUS_WITH, secret) == 200
    screenshot(page, "settings_keys")
    page.click("text=I have saved it")
    expect(page.locator(".secret")).to_be_hidden()
    page.reload()
    expect(rows).to_have_count(2)
    assert secret not in page.content()

    laptop = rows.filter(has_text="laptop")
    laptop.get_by_role("button", name="Revoke laptop").click()
    expect(page.locator("#confirm")).to_contain_text("Programs using this key stop working")
    page.click("#confirm-ok")
    expect(laptop).to_contain_text("revoked")
    expect(laptop.get_by_role("button")).to_have_count(0)
    assert page.evaluate(STATUS_WITH, secret) == 401

    rows.filter(has_text="this browser").get_by_role("button").click()
    expect(page.locator("#confirm")).to_contain_text("you will be signed out")
    page.click("#confirm-ok")
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#signin-error")).to_contain_text("was revoked")


def test_default_models_are_saved_and_prefill_the_composer(page: Page, live: Live) -> None:
    sign_in(page, live, live.key())
    models = page.locator("#mode-options select").first.locator("option").all_text_contents()
    first, second, third = models[1:4]
    page.goto(f"{live.url}/#/settings/defaults")
    page.get_by_label("Ensemble model 1").select_option(second)
    page.get_by_label("Ensemble model 2").select_option(third)
    page.get_by_label("Ensemble model 3").select_option(first)
    page.get_by_label("Ensemble aggregation").select_option("union")
    page.get_by_label("Debate judge").select_option(third)
    page.click("text=Save defaults")
    expect(page.locator(".settings-form button[type=submit]")).to_have_text("Saved")
    saved = page.evaluate("""async () => (await fetch('/v1/settings', {headers:
        {authorization: `Bearer ${localStorage.getItem('chorus.apiKey')}`}})).json()""")
    assert saved["ensemble_models"] == [second, third, first]
    assert saved["ensemble_aggregation"] == "union"
    assert saved["debate_models"] == {"pro": None, "con": None, "judge": third}
    assert saved["default_model"] is None and saved["cost_preference"] is None

    page.click("#new-chat")
    page.select_option("#mode", "ensemble")
    slots = page.locator("#mode-options .slot select:not(.persona)")
    expect(slots).to_have_count(3)
    assert [s.input_value() for s in slots.all()] == [second, third, first]
    assert page.get_by_label("Aggregation", exact=True).input_value() == "union"
    page.reload()
    page.select_option("#mode", "debate")
    assert page.get_by_label("Judge model").input_value() == third


def test_usage_shows_the_period_with_charts_by_day_and_by_model(page: Page,
                                                                 live: Live) -> None:
    sign_in(page, live, live.key())
    send_and_watch(page, "What is the capital of France?")
    limit = page.evaluate(USAGE_RECORDED)
    page.goto(f"{live.url}/#/settings/usage")
    usage = page.locator(".usage")
    expect(usage.locator(".stat", has_text="Queries")).to_contain_text(
        f"1 / {limit or 'unlimited'}")
    expect(usage.locator(".stat", has_text="Tier")).to_contain_text("power")
    day_chart = usage.locator("figure", has_text="Tokens by day")
    expect(day_chart.locator("svg")).to_be_visible()
    assert day_chart.locator("g.bar").count() >= 1
    model_chart = usage.locator("figure", has_text="Tokens by model")
    expect(model_chart.locator("g.bar")).to_have_count(1)
    expect(model_chart.locator("g.bar title")).to_have_text(
        re.compile(r"^\S+: input \d+, output \d+$"))
    expect(usage.locator("figure", has_text="Cost by model").locator("g.bar")).to_have_count(1)
    model_table = usage.locator("table", has_text="By model in numbers")
    expect(model_table.locator("tbody tr")).to_have_count(1)
    screenshot(page, "settings_usage")
