"""Ensemble, debate and council in the browser: each streams into its own view."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from tests.web.browser import (
    BROKEN_MODEL,
    FAKE_MODEL,
    Live,
    Page,
    expect,
    screenshot,
    send_and_watch,
    sign_in,
)

pytestmark = pytest.mark.skipif(importlib.util.find_spec("chorus.modes.ensemble") is None,
                                reason="the multi-model modes are not in this build")

VERDICTS = ("Pro wins", "Con wins", "Draw", "No verdict")


def member_streamed(frames: list[dict[str, Any]], index: int = 0) -> bool:
    """Member `index` was seen streaming at several lengths before it was done."""
    lengths = {f["members"][index][1] for f in frames
               if len(f["members"]) > index and f["members"][index][0] == "streaming"}
    return len(lengths) >= 3


def test_ensemble_members_stream_side_by_side_then_combine(page: Page, live: Live) -> None:
    sign_in(page, live, live.key())
    page.select_option("#mode", "ensemble")
    page.click("text=+ Add model")
    slots = page.locator("#mode-options .slot")
    expect(slots).to_have_count(3)
    slots.nth(2).locator("select.persona").select_option("cto")
    page.get_by_label("Aggregation", exact=True).select_option("synthesis")
    frames = send_and_watch(page, "Should we use Rust or Go for a command line tool?")

    answer = page.locator(".answer").last
    expect(answer).to_have_attribute("data-status", "done")
    assert member_streamed(frames), frames
    members = answer.locator(".members .member")
    expect(members).to_have_count(3)
    expect(members.locator(".status")).to_have_text(["done", "done", "done"])
    expect(members.nth(2).locator(".chip")).to_have_text("cto")
    boxes = [m.bounding_box() for m in members.all()]
    assert all(b is not None for b in boxes)
    assert len({round(b["y"]) for b in boxes if b}) == 1, "members sit side by side"
    expect(answer.locator(".final-title")).to_have_text("Synthesis")
    expect(answer.locator(".byline")).to_contain_text("by ")
    assert (answer.locator(".final-text").text_content() or "").strip()
    expect(page.locator("#mode")).to_be_disabled()
    expect(page.get_by_label("Aggregation", exact=True)).to_be_disabled()
    screenshot(page, "ensemble")

    send_and_watch(page, "Which one is easier to hire for?")
    expect(page.locator(".answer[data-status=done]")).to_have_count(2)
    page.reload()
    expect(page.locator(".answer .members .member")).to_have_count(6)
    expect(page.get_by_label("Aggregation", exact=True)).to_have_value("synthesis")


def test_debate_shows_rounds_with_both_sides_and_the_verdict(page: Page, live: Live) -> None:
    sign_in(page, live, live.key())
    page.select_option("#mode", "debate")
    expect(page.locator("#mode-options .slot-label")).to_have_text(["Pro", "Con", "Judge"])
    frames = send_and_watch(page, "Should remote work be the default for software teams?")

    answer = page.locator(".answer").last
    expect(answer).to_have_attribute("data-status", "done")
    assert member_streamed(frames), frames
    rounds = answer.locator(".round")
    expect(rounds.locator(".round-title")).to_have_text(
        ["Openings", "Round 1", "Round 2", "Round 3"])
    for index in range(4):
        expect(rounds.nth(index).locator(".side-pro .member-title")).to_have_text("Pro")
        expect(rounds.nth(index).locator(".side-con .member-title")).to_have_text("Con")
    expect(answer.locator(".member[data-status=ok]")).to_have_count(9)
    verdict = answer.locator(".verdict").text_content()
    assert verdict in VERDICTS, verdict
    expect(answer.locator(".judge .member-title")).to_have_text("Judge")
    expect(answer.locator(".final-title")).to_have_text("Verdict")
    expect(answer.locator(".byline")).to_contain_text("judged by ")
    screenshot(page, "debate")
    answer.locator(".final").scroll_into_view_if_needed()
    screenshot(page, "debate_verdict", from_question=False)


def test_council_shows_expert_cards_and_the_synthesis(page: Page, live: Live) -> None:
    sign_in(page, live, live.key())
    page.select_option("#mode", "council")
    expect(page.locator("#mode-options")).to_contain_text("The default panel")
    frames = send_and_watch(page, "How should a small startup plan its first year?")

    answer = page.locator(".answer").last
    expect(answer).to_have_attribute("data-status", "done")
    assert member_streamed(frames), frames
    experts = answer.locator(".experts .member")
    expect(experts.locator(".member-title")).to_have_text(
        ["Domain Expert", "Devil's Advocate", "Practical Implementer", "Strategic Thinker"])
    expect(experts.locator(".status")).to_have_text(["done"] * 4)
    expect(answer.locator(".final-title")).to_have_text("Synthesis")
    expect(answer.locator(".byline")).to_contain_text("by ")
    assert (answer.locator(".final-text").text_content() or "").strip()
    screenshot(page, "council")

    page.click("#new-chat")
    page.select_option("#mode", "council")
    page.check("text=Choose the experts")
    for index, (name, view) in enumerate([("Economist", "costs and incentives"),
                                          ("Historian", "what happened before")]):
        page.get_by_label(f"Expert {index + 1} name").fill(name)
        page.get_by_label(f"Expert {index + 1} perspective").fill(view)
    send_and_watch(page, "Is a four-day week a good idea?")
    answer = page.locator(".answer").last
    expect(answer.locator(".experts .member-title")).to_have_text(["Economist", "Historian"])
    page.reload()
    expect(page.locator(".answer .experts .perspective")).to_have_text(
        ["costs and incentives", "what happened before"])


def test_a_failed_member_is_marked_and_the_others_still_answer(
        page: Page, live_upstream: Live) -> None:
    sign_in(page, live_upstream, live_upstream.key(test=False))
    page.select_option("#mode", "ensemble")
    slots = page.locator("#mode-options .slot select:not(.persona)")
    slots.nth(0).select_option(FAKE_MODEL)
    slots.nth(1).select_option(BROKEN_MODEL)
    send_and_watch(page, "Name three rivers")
    answer = page.locator(".answer").last
    expect(answer).to_have_attribute("data-status", "done")
    members = answer.locator(".members .member")
    expect(members.locator(".status")).to_have_text(["done", "failed"])
    expect(members.nth(1)).to_have_attribute("data-status", "failed")
    expect(members.nth(1).locator(".error-box")).to_contain_text("upstream_error")
    expect(answer.locator(".final-text")).to_contain_text("Fake answer to: Name three rivers")
    screenshot(page, "ensemble_failed_member")


def test_escape_stops_a_streaming_answer(page: Page, live: Live) -> None:
    sign_in(page, live, live.key())
    page.select_option("#mode", "debate")
    page.fill("#composer-input", "Is nuclear power the best way to cut emissions?")
    page.press("#composer-input", "Enter")
    expect(page.locator("#stop")).to_be_visible()
    expect(page.locator(".answer .member[data-status=streaming]").first).to_be_visible()
    page.press("#composer-input", "Escape")
    answer = page.locator(".answer").last
    expect(answer).to_have_attribute("data-status", "failed")
    expect(answer.locator(".answer-foot")).to_contain_text("stopped")
    expect(page.locator("#send")).to_be_visible()
    page.reload()
    expect(page.locator(".answer").last).to_have_attribute("data-status", "failed")
    expect(page.locator(".answer").last.locator(".answer-foot")).to_contain_text("cancelled")
