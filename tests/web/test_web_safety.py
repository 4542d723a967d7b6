"""Model output is shown as text and never runs: stored answers, streamed answers, Markdown."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.browser import (
    FAKE_MODEL,
    Live,
    Page,
    expect,
    screenshot,
    send_and_watch,
    sign_in,
)

PAYLOAD = "\n\n".join([
    "<script>window.__xss = 'script'</script>",
    "<img src=x onerror=\"window.__xss = 'img'\">",
    "[click me](javascript:window.__xss='link') and [data](data:text/html,<b>x</b>)",
    "**bold <b onmouseover=\"window.__xss='b'\">tag</b>**",
    "<svg onload=\"window.__xss='svg'\"></svg><iframe src=\"javascript:window.__xss='f'\">",
])

UNSAFE_NODES = """root => {
  const bad = [];
  for (const node of root.querySelectorAll('*')) {
    const tag = node.tagName.toLowerCase();
    if (['script', 'img', 'svg', 'iframe', 'b', 'object', 'embed', 'style'].includes(tag)) {
      bad.push(tag);
    }
    for (const attr of node.attributes) {
      if (attr.name.startsWith('on')) bad.push(`${tag}[${attr.name}]`);
    }
    if (tag === 'a' && !/^https?:/.test(node.getAttribute('href') || '')) bad.push('a[href]');
  }
  return bad;
}"""


# The page's Content-Security-Policy would stop inline script on its own; these pages bypass it
# so that the tests prove the renderer alone keeps model output inert.
WITHOUT_CSP = pytest.mark.parametrize("page", [{"bypass_csp": True}], indirect=True)


def assert_inert(page: Page, text: str) -> None:
    """`text` is on the page as characters, no element came from it, and no script ran."""
    conversation = page.locator("#conversation")
    expect(conversation).to_contain_text(text)
    page.wait_for_timeout(300)  # an image's onerror would fire by now
    assert page.evaluate("window.__xss") is None
    assert conversation.evaluate(UNSAFE_NODES) == []


@WITHOUT_CSP
def test_a_stored_answer_with_script_and_onerror_is_shown_as_text(page: Page,
                                                                  live: Live) -> None:
    user, key = live.user_key()
    (session,) = live.sessions(user, ["<img src=x onerror=\"window.__xss='title'\">"],
                               answer=PAYLOAD,
                               details={"routed_to": "<img src=x onerror=\"window.__xss='r'\">",
                                        "reason": "<script>window.__xss='reason'</script>"})
    sign_in(page, live, key)
    page.goto(f"{live.url}/#/s/{session}")
    answer = page.locator(".answer")
    expect(answer).to_have_attribute("data-status", "done")
    assert_inert(page, "<script>window.__xss = 'script'</script>")
    expect(answer).to_contain_text("<img src=x onerror=\"window.__xss = 'img'\">")
    expect(answer.locator(".final-text strong")).to_contain_text("bold <b onmouseover=")
    expect(answer.locator(".route")).to_contain_text("<script>window.__xss='reason'</script>")
    expect(page.locator(".turn-user")).to_have_text("<img src=x onerror=\"window.__xss='title'\">")
    expect(page.locator("#chat-title")).to_contain_text("<img src=x")
    title = page.locator("#session-list .title")
    expect(title).to_have_text("<img src=x onerror=\"window.__xss='title'\">")
    assert title.evaluate("node => node.childElementCount") == 0


@WITHOUT_CSP
def test_web_sources_are_links_only_when_their_url_is_http(page: Page, live: Live) -> None:
    user, key = live.user_key()
    (session,) = live.sessions(user, ["What changed in DNS?"], details={
        "routed_to": "gpt-4o-mini", "reason": "stored", "tools": "on",
        "sources": [{"title": "DNS <b onmouseover=x>explained</b>",
                     "url": "https://example.org/dns"},
                    {"title": "<img src=x onerror=\"window.__xss='src'\">",
                     "url": "javascript:window.__xss='href'"}]})
    sign_in(page, live, key)
    page.goto(f"{live.url}/#/s/{session}")
    sources = page.locator(".answer .sources")
    expect(sources.locator("summary")).to_have_text("Sources (2)")
    sources.locator("summary").click()
    links = sources.locator("a")
    expect(links).to_have_count(1)
    expect(links).to_have_text("DNS <b onmouseover=x>explained</b>")
    expect(links).to_have_attribute("href", "https://example.org/dns")
    expect(links).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(sources.locator("li").nth(1)).to_have_text("<img src=x onerror=\"window.__xss='src'\">")
    sources.locator("li").nth(1).click()
    assert_inert(page, "What changed in DNS?")
    screenshot(page, "sources")


@WITHOUT_CSP
def test_a_streamed_answer_echoing_markup_is_shown_as_text(
        page: Page, live_upstream: Live) -> None:
    sign_in(page, live_upstream, live_upstream.key(test=False))
    page.locator("#mode-options select").first.select_option(FAKE_MODEL)
    question = "<img src=x onerror=window.__xss=1> <script>window.__xss=2</script>"
    send_and_watch(page, question)
    answer = page.locator(".answer").last
    expect(answer).to_have_attribute("data-status", "done")
    expect(answer.locator(".route")).to_contain_text(
        f"Answered by {FAKE_MODEL} · the request names this model")
    expect(answer.locator(".final-text")).to_contain_text(f"Fake answer to: {question}")
    assert_inert(page, question)


MARKDOWN_CASES = r"""async () => {
  const { renderMarkdown } = await import('/web/js/markdown.js');
  const shape = (node) => node.nodeType === Node.TEXT_NODE ? node.textContent
    : [node.tagName.toLowerCase(), ...[...node.childNodes].map(shape)];
  const render = (source) => {
    const box = document.createElement('div');
    box.append(renderMarkdown(source));
    return box;
  };
  const cases = {
    heading: '## Title *here*',
    emphasis: 'a **b** _c_ ~~d~~ `<e>`',
    list: '- one\n- two\n  - nested\n1. first',
    code: '```python\nif a < b:\n    print("<b>")\n```',
    table: '| a | b |\n|---|--:|\n| 1 | **2** |',
    quote: '> quoted\n> more',
    escaped: '\\*not em\\* &amp; &lt;b&gt;',
  };
  const out = {};
  for (const [name, source] of Object.entries(cases)) {
    out[name] = [...render(source).childNodes].map(shape);
  }
  const links = render('[ok](https://example.com/a?b=1) [no](javascript:alert(1)) '
    + '[rel](/relative) <http://example.org> see https://example.net/x.');
  out.links = [...links.querySelectorAll('a')].map((a) => [a.getAttribute('href'), a.textContent,
                                                          a.rel, a.target]);
  out.linkText = links.textContent;
  return out;
}"""


def test_the_markdown_renderer_builds_only_safe_elements(page: Page, live: Live) -> None:
    page.goto(live.url + "/")
    out: dict[str, Any] = page.evaluate(MARKDOWN_CASES)
    assert out["heading"] == [["h2", "Title ", ["em", "here"]]]
    assert out["emphasis"] == [["p", "a ", ["strong", "b"], " ", ["em", "c"], " ", ["del", "d"],
                                " ", ["code", "<e>"]]]
    assert out["list"] == [
        ["ul", ["li", "one"], ["li", "two", ["ul", ["li", "nested"]]]],
        ["ol", ["li", "first"]],
    ]
    assert out["code"] == [["pre", ["code", 'if a < b:\n    print("<b>")']]]
    assert out["table"] == [["div", ["table", ["thead", ["tr", ["th", "a"], ["th", "b"]]],
                                     ["tbody", ["tr", ["td", "1"], ["td", ["strong", "2"]]]]]]]
    assert out["quote"] == [["blockquote", ["p", "quoted", ["br"], "more"]]]
    assert out["escaped"] == [["p", "*not em* &amp; &lt;b&gt;"]]
    rel = "noopener noreferrer nofollow"
    assert out["links"] == [
        ["https://example.com/a?b=1", "ok", rel, "_blank"],
        ["http://example.org/", "http://example.org", rel, "_blank"],
        ["https://example.net/x", "https://example.net/x", rel, "_blank"],
    ]
    assert "[no](javascript:alert(1))" in out["linkText"]
    assert "[rel](/relative)" in out["linkText"]
