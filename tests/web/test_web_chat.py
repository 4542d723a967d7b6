"""The web app in Chromium: sign in, smart_chat streaming, sessions in the sidebar, layout."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.web.browser import (
    Live,
    Page,
    expect,
    grew_while_streaming,
    screenshot,
    send_and_watch,
    sign_in,
)

NARROW = {"viewport": {"width": 390, "height": 780}, "has_touch": True}
DARK = {"color_scheme": "dark"}


def test_sign_in_rejects_a_bad_key_and_keeps_a_good_one(page: Page, live: Live) -> None:
    key = live.key()
    page.goto(live.url + "/")
    expect(page.locator("#signin")).to_be_visible()
    page.fill("#signin-key", "sk_test_" + "x" * 40)
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#signin-error")).to_contain_text("not accepted")
    page.fill("#signin-key", key)
    page.press("#signin-key", "Enter")
    expect(page.locator("#shell")).to_be_visible()
    expect(page.locator("#composer-input")).to_be_focused()
    assert page.evaluate("localStorage.getItem('chorus.apiKey')") == key
    page.reload()
    expect(page.locator("#shell")).to_be_visible()
    page.click("#sign-out")
    expect(page.locator("#signin")).to_be_visible()
    assert page.evaluate("localStorage.getItem('chorus.apiKey')") is None


def test_smart_chat_streams_and_says_which_model_answered_and_why(page: Page,
                                                                  live: Live) -> None:
    sign_in(page, live, live.key())
    frames = send_and_watch(page, "How do I write a python function to sort a list?")
    answer = page.locator(".answer").last
    expect(answer).to_have_attribute("data-status", "done")
    final = len(answer.locator(".final-text").text_content() or "")
    assert grew_while_streaming(
        [f["length"] for f in frames if f["status"] == "streaming"], final), frames
    expect(answer.locator(".route")).to_contain_text(re.compile(r"Answered by \S+ · \w"))
    expect(answer.locator(".final-text pre code")).to_contain_text("def solve(data):")
    expect(page).to_have_url(re.compile(r"#/s/sess_\w+$"))
    item = page.locator("#session-list .session")
    expect(item).to_have_count(1)
    expect(item.first).to_have_attribute("aria-current", "page")
    expect(item.first.locator(".title")).to_have_text(
        "How do I write a python function to sort a list?")
    expect(page.locator("#mode")).to_be_disabled()
    screenshot(page, "smart_chat")


def test_a_session_continues_with_its_history_and_survives_a_reload(page: Page,
                                                                    live: Live) -> None:
    sign_in(page, live, live.key())
    send_and_watch(page, "What is a vector database?")
    page.fill("#composer-input", "And when")
    page.press("#composer-input", "Shift+Enter")
    page.type("#composer-input", "should I use one?")
    assert page.input_value("#composer-input") == "And when\nshould I use one?"
    send_and_watch(page, page.input_value("#composer-input"))
    expect(page.locator(".answer[data-status=done]")).to_have_count(2)
    expect(page.locator(".answer").last).to_contain_text("Building on what you asked before")
    page.reload()
    expect(page.locator(".turn-user")).to_have_count(2)
    assert page.locator(".turn-user").last.inner_text() == "And when\nshould I use one?"
    expect(page.locator(".answer[data-status=done]")).to_have_count(2)
    expect(page.locator("#session-list .session .meta")).to_have_text("Smart chat · 4 messages")
    expect(page.locator("#mode")).to_be_disabled()
    page.click("#new-chat")
    expect(page.locator("#mode")).to_be_enabled()
    expect(page.locator(".empty")).to_be_visible()


def test_rename_in_place_and_delete_after_confirming(page: Page, live: Live) -> None:
    user, key = live.user_key()
    first, second = live.sessions(user, ["First chat", "Second chat"])
    sign_in(page, live, key)
    rows = page.locator("#session-list .session")
    expect(rows.locator(".title")).to_have_text(["Second chat", "First chat"])

    rows.first.locator("button[aria-label=Rename]").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("Renamed chat")
    page.keyboard.press("Enter")
    expect(rows.first.locator(".title")).to_have_text("Renamed chat")
    rows.last.locator(".session-link").dblclick()
    page.keyboard.type("never saved")
    page.keyboard.press("Escape")
    expect(rows.last.locator(".title")).to_have_text("First chat")
    assert live.session_titles(user) == ["Renamed chat", "First chat"]

    rows.last.locator(".session-link").click()
    expect(page.locator("#chat-title")).to_have_text("First chat")
    rows.last.locator("button[aria-label=Delete]").click()
    dialog = page.locator("#confirm")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Delete “First chat”?")
    page.click("#confirm-cancel")
    expect(dialog).to_be_hidden()
    expect(rows).to_have_count(2)
    rows.last.locator("button[aria-label=Delete]").click()
    page.click("#confirm-ok")
    expect(rows).to_have_count(1)
    expect(page.locator(".empty")).to_be_visible()
    assert live.session_titles(user) == ["Renamed chat"]
    assert first and second


def test_the_sidebar_loads_the_next_page_as_it_scrolls(page: Page, live: Live) -> None:
    user, key = live.user_key()
    live.sessions(user, [f"Chat number {n:02d}" for n in range(45)])
    sign_in(page, live, key)
    titles = page.locator("#session-list .session .title")
    expect(titles).to_have_count(30)
    expect(titles.first).to_have_text("Chat number 44")
    page.locator("#session-sentinel").scroll_into_view_if_needed()
    expect(titles).to_have_count(45)
    assert titles.all_text_contents() == [f"Chat number {n:02d}" for n in range(44, -1, -1)]


def test_search_narrows_the_sidebar_and_escape_clears_it(page: Page, live: Live) -> None:
    user, key = live.user_key()
    live.sessions(user, ["Where do quokkas live?", "Plan a trip to Perth", "Rust or Go?"])
    sign_in(page, live, key)
    titles = page.locator("#session-list .session .title")
    expect(titles).to_have_count(3)
    page.fill("#session-search", "quokka")
    expect(titles).to_have_text(["Where do quokkas live?"])
    expect(page.locator("#session-list .snippet strong")).to_have_text("quokkas")
    page.fill("#session-search", "zebra")
    expect(titles).to_have_count(0)
    expect(page.locator("#session-sentinel")).to_have_text("No chats match")
    page.press("#session-search", "Escape")
    expect(page.locator("#session-search")).to_have_value("")
    expect(titles).to_have_count(3)


@pytest.mark.parametrize("page", [NARROW], indirect=True)
def test_a_narrow_screen_collapses_the_sidebar(page: Page, live: Live) -> None:
    user, key = live.user_key()
    live.sessions(user, ["A stored chat"])
    sign_in(page, live, key)
    send_and_watch(page, "Give me three tips for writing clear documentation")
    sidebar = page.locator("#sidebar")
    expect(sidebar).not_to_be_visible()
    screenshot(page, "narrow_chat")
    page.click("#toggle-sidebar")
    expect(sidebar).to_be_visible()
    expect(page.locator("#new-chat")).to_be_focused()
    expect(sidebar).to_have_css("transform", "none")
    screenshot(page, "narrow_sidebar")
    page.keyboard.press("Escape")
    expect(sidebar).not_to_be_visible()
    page.click("#toggle-sidebar")
    page.locator("#session-list .session-link", has_text="A stored chat").click()
    expect(sidebar).not_to_be_visible()
    expect(page.locator("#chat-title")).to_have_text("A stored chat")


@pytest.mark.parametrize("page", [DARK], indirect=True)
def test_dark_mode_follows_the_system(page: Page, live: Live) -> None:
    sign_in(page, live, live.key())
    send_and_watch(page, "Explain how HTTPS keeps a connection private")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    text = page.evaluate("getComputedStyle(document.body).color")
    assert _luminance(background) < 0.1 < 0.7 < _luminance(text), (background, text)
    screenshot(page, "dark_mode")


def _luminance(css_color: str) -> float:
    red, green, blue = (int(v) / 255 for v in re.findall(r"\d+", css_color)[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def test_a_refused_message_comes_back_to_the_composer(page: Page, live: Live) -> None:
    sign_in(page, live, live.key(tier="free"))
    page.select_option("#mode", "ensemble")
    page.fill("#composer-input", "Compare three databases")
    page.press("#composer-input", "Enter")
    expect(page.locator("#composer-error")).to_contain_text("not part of the free tier")
    expect(page.locator("#composer-input")).to_have_value("Compare three databases")
    expect(page.locator("#composer-input")).to_be_focused()
    expect(page.locator(".answer")).to_have_count(0)
    expect(page.locator(".empty")).to_be_visible()
    expect(page.locator("#session-list .session")).to_have_count(0)
    expect(page.locator("#mode")).to_be_enabled()


def test_an_open_chat_downloads_as_markdown_or_json(page: Page, live: Live) -> None:
    user, key = live.user_key()
    (session,) = live.sessions(user, ["Export this chat"], answer="The stored answer.")
    sign_in(page, live, key)
    exporter = page.locator("#chat-export")
    expect(exporter).to_be_hidden()  # a new chat has nothing to export yet
    page.goto(f"{live.url}/#/s/{session}")
    files = {}
    for fmt in ("markdown", "json"):
        exporter.locator("summary").click()
        with page.expect_download() as download:
            exporter.locator(f"button[data-format={fmt}]").click()
        files[fmt] = (download.value.suggested_filename,
                      Path(download.value.path()).read_text(encoding="utf-8"))
    name, text = files["markdown"]
    assert name == "export-this-chat.md"
    assert text.startswith("# Export this chat\n") and "The stored answer." in text
    name, text = files["json"]
    exported = json.loads(text)
    assert name == "export-this-chat.json" and exported["id"] == session
    assert [m["content"] for m in exported["messages"]] == ["Export this chat",
                                                            "The stored answer."]
    exporter.locator("summary").click()
    expect(exporter.locator("button[data-format=json]")).to_be_visible()
    screenshot(page, "export_menu")
