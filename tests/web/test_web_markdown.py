"""The Markdown renderer on hostile input: nesting of any depth, and time linear in the text."""

from __future__ import annotations

from typing import Any

from tests.web.browser import Live, Page, expect, sign_in

DEEP_QUOTE = "> " * 3000 + "the bottom"


def test_a_chat_whose_answer_nests_quotes_thousands_deep_opens(page: Page, live: Live) -> None:
    user, key = live.user_key()
    (session,) = live.sessions(user, ["Deep quotes"], answer=DEEP_QUOTE)
    sign_in(page, live, key)
    page.goto(f"{live.url}/#/s/{session}")
    answer = page.locator(".answer .final-text").last
    expect(answer).to_contain_text("the bottom")
    depth = answer.evaluate("node => { let d = 0; let q = node.querySelector('blockquote');"
                            " while (q) { d += 1; q = q.querySelector(':scope > blockquote'); }"
                            " return d; }")
    assert 1 < depth <= 20, depth


NESTING = r"""async () => {
  const { renderMarkdown } = await import('/web/js/markdown.js');
  const render = (source) => {
    const box = document.createElement('div');
    box.append(renderMarkdown(source));
    return box;
  };
  const depthOf = (box) => {
    let deepest = 0;
    for (const node of box.querySelectorAll('*')) {
      let depth = 0;
      for (let up = node; up !== box; up = up.parentNode) depth += 1;
      deepest = Math.max(deepest, depth);
    }
    return deepest;
  };
  const out = {};
  for (const [name, source] of Object.entries({
    quotes: '> '.repeat(5000) + 'q',
    lists: '- '.repeat(5000) + 'l',
    indented: Array.from({length: 3000}, (_, i) => ' '.repeat(2 * i) + '- item ' + i).join('\n'),
    spans: '*_'.repeat(5000) + 's' + '_*'.repeat(5000),
    links: '['.repeat(5000) + 'x' + '](https://example.com/)'.repeat(5000),
  })) {
    const box = render(source);
    out[name] = [depthOf(box), box.textContent.length > 0];
  }
  return out;
}"""


def test_nesting_of_any_depth_renders_within_a_bounded_depth(page: Page, live: Live) -> None:
    page.goto(live.url + "/")
    out: dict[str, Any] = page.evaluate(NESTING)
    for name, (depth, has_text) in out.items():
        assert has_text and depth < 80, (name, depth)


TIMING = r"""async ([unit, small, large]) => {
  const { renderMarkdown } = await import('/web/js/markdown.js');
  const best = (source) => {
    let fastest = Infinity;
    for (let run = 0; run < 3; run += 1) {
      const started = performance.now();
      renderMarkdown(source);
      fastest = Math.min(fastest, performance.now() - started);
    }
    return fastest;
  };
  return [best(unit.repeat(small)), best(unit.repeat(large))];
}"""


def test_rendering_time_grows_linearly_with_the_text(page: Page, live: Live) -> None:
    """Eight times the text takes about eight times as long, where a quadratic renderer took
    40 to 150 times as long ("**a " * 16000: 4.7 s, against 60 ms for 2000). Best of three
    runs, and a floor for times too short to compare, as the machine is shared."""
    page.goto(live.url + "/")
    for unit in ("**a ", "__a ", "*a ", "_a ", "~~a ", "[[[ ", "[a ](", "`a ``", "<http://a "):
        small_ms, large_ms = page.evaluate(TIMING, [unit, 2000, 16000])
        assert large_ms < max(24 * small_ms, 300), (unit, small_ms, large_ms)
