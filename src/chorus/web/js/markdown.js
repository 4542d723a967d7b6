// A small Markdown subset rendered straight to DOM nodes, safe for untrusted model output.
//
// The source is never parsed as HTML: text reaches the page only as text nodes, elements come
// from a fixed list of tags, and the one attribute taken from the source is a link's href,
// kept only when it parses as an absolute http(s) URL. `<script>` stays the characters
// "<script>". Supported: fenced code, headings, lists (nested), block quotes, rules, tables,
// paragraphs; inline code, bold, italic, strikethrough, links and bare URLs.

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/;
const RULE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}> ?/;
const ITEM = /^( *)([-*+]|\d{1,9}[.)])( +)(.*)$/;
const TABLE_RULE = /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/;

function el(tag, ...children) {
  const node = document.createElement(tag);
  node.append(...children);
  return node;
}

const indentOf = (line) => line.length - line.trimStart().length;
const isBlank = (line) => !line.trim();

function startsBlock(line, next) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line)
    || ITEM.test(line) || (line.includes("|") && next !== undefined && TABLE_RULE.test(next));
}

// ---- inline --------------------------------------------------------------------------------

const INLINE = [
  { re: /(`+)([\s\S]*?[^`])\1(?!`)/y, make: (m) => el("code", m[2].trim() || m[2]) },
  { re: /\\([!-/:-@[-`{-~])/y, make: (m) => m[1] },
  { re: /\*\*(?=\S)([\s\S]*?\S)\*\*/y, make: (m) => inline(m[1], el("strong")) },
  { re: /__(?=\S)([\s\S]*?\S)__(?!\w)/y, word: true, make: (m) => inline(m[1], el("strong")) },
  { re: /~~(?=\S)([\s\S]*?\S)~~/y, make: (m) => inline(m[1], el("del")) },
  { re: /\*(?=[^\s*])([\s\S]*?[^\s*])\*(?!\*)/y, make: (m) => inline(m[1], el("em")) },
  { re: /_(?=[^\s_])([\s\S]*?[^\s_])_(?!\w)/y, word: true, make: (m) => inline(m[1], el("em")) },
  { re: /\[([^\]\n]+)\]\(\s*<?([^\s<>()]+)>?(?:\s+"[^"\n]*")?\s*\)/y,
    make: (m) => link(m[2], m[1], m[0]) },
  { re: /<(https?:\/\/[^\s<>]+)>/y, make: (m) => link(m[1], null, m[0]) },
  { re: /https?:\/\/[^\s<>"']*[^\s<>"'.,;:!?)\]]/y, word: true, make: (m) => link(m[0], null, m[0]) },
];
const STARTERS = new Set(["`", "\\", "*", "_", "~", "[", "<", "h"]);

/** An absolute http(s) URL as the browser normalises it, or null. */
export function safeHref(raw) {
  try {
    const url = new URL(raw);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

function link(rawHref, label, source) {
  const href = safeHref(rawHref);
  if (href === null) return source;
  const anchor = el("a");
  anchor.href = href;
  anchor.target = "_blank";
  anchor.rel = "noopener noreferrer nofollow";
  if (label === null) anchor.textContent = rawHref;
  else inline(label, anchor);
  return anchor;
}

/** Render inline Markdown of `text` into `parent` and return it. */
export function inline(text, parent) {
  let plain = "";
  let i = 0;
  while (i < text.length) {
    const char = text[i];
    let made = null;
    if (STARTERS.has(char)) {
      for (const rule of INLINE) {
        if (rule.word && i > 0 && /\w/.test(text[i - 1])) continue;
        rule.re.lastIndex = i;
        const match = rule.re.exec(text);
        if (match) {
          made = rule.make(match);
          i += match[0].length;
          break;
        }
      }
    }
    if (made === null) {
      plain += char;
      i += 1;
    } else if (typeof made === "string") {
      plain += made; // an escaped character, or a link refused for its URL
    } else {
      if (plain) parent.append(plain);
      plain = "";
      parent.append(made);
    }
  }
  if (plain) parent.append(plain);
  return parent;
}

/** Lines joined by line breaks: model output uses single newlines on purpose. */
function inlineLines(lines, parent) {
  lines.forEach((line, index) => {
    if (index) parent.append(el("br"));
    inline(line.trim(), parent);
  });
  return parent;
}

// ---- blocks --------------------------------------------------------------------------------

function fence(lines, start) {
  const [, marker, lang] = FENCE.exec(lines[start]);
  const indent = indentOf(lines[start]);
  const body = [];
  let i = start + 1;
  // An unclosed fence runs to the end: that is what a streaming answer looks like mid-block.
  while (i < lines.length && !(lines[i].trim().startsWith(marker[0].repeat(marker.length))
                               && lines[i].trim().replace(/[`~]/g, "") === "")) {
    const line = lines[i];
    body.push(line.slice(Math.min(indent, indentOf(line))));
    i += 1;
  }
  const code = el("code", body.join("\n"));
  const pre = el("pre", code);
  if (lang) pre.dataset.lang = lang;
  return [pre, i + 1];
}

function cells(line) {
  let row = line.trim();
  if (row.startsWith("|")) row = row.slice(1);
  if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
  return row.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, "|"));
}

function table(lines, start) {
  const aligns = cells(lines[start + 1]).map((rule) => {
    const left = rule.startsWith(":");
    const right = rule.endsWith(":");
    return left && right ? "center" : right ? "right" : left ? "left" : "";
  });
  const row = (line, tag) => el("tr", ...cells(line).map((text, index) => {
    const cell = inline(text, el(tag));
    if (aligns[index]) cell.style.textAlign = aligns[index];
    return cell;
  }));
  const body = el("tbody");
  let i = start + 2;
  while (i < lines.length && !isBlank(lines[i]) && lines[i].includes("|")) {
    body.append(row(lines[i], "td"));
    i += 1;
  }
  const node = el("table", el("thead", row(lines[start], "th")), body);
  return [el("div", node), i];
}

function listItem(lines, start, baseIndent) {
  const match = ITEM.exec(lines[start]);
  const contentIndent = match[1].length + match[2].length + Math.min(match[3].length, 4);
  const body = [match[4]];
  let i = start + 1;
  while (i < lines.length) {
    const line = lines[i];
    if (isBlank(line)) {
      let next = i;
      while (next < lines.length && isBlank(lines[next])) next += 1;
      if (next >= lines.length || indentOf(lines[next]) < contentIndent) break;
      body.push(...lines.slice(i, next).map(() => ""));
      i = next;
    } else if (indentOf(line) >= contentIndent
               || (ITEM.test(line) && indentOf(line) > baseIndent)) {
      body.push(line.slice(Math.min(indentOf(line), contentIndent)));
      i += 1;
    } else if (ITEM.test(line) || startsBlock(line, lines[i + 1])) {
      break;
    } else {
      body.push(line.trim()); // a lazy continuation of the item's paragraph
      i += 1;
    }
  }
  const li = el("li");
  li.append(renderBlocks(body));
  // A tight item (no blank line inside) shows its text without paragraph spacing.
  if (!body.some(isBlank)) {
    for (const p of [...li.children].filter((node) => node.nodeName === "P")) {
      p.replaceWith(...p.childNodes);
    }
  }
  return [li, i];
}

function list(lines, start) {
  const first = ITEM.exec(lines[start]);
  const baseIndent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const node = el(ordered ? "ol" : "ul");
  if (ordered && parseInt(first[2], 10) !== 1) node.start = parseInt(first[2], 10);
  let i = start;
  for (;;) {
    const [li, next] = listItem(lines, i, baseIndent);
    node.append(li);
    let peek = next;
    while (peek < lines.length && isBlank(lines[peek])) peek += 1;
    const sibling = peek < lines.length ? ITEM.exec(lines[peek]) : null;
    i = next;
    if (!sibling || sibling[1].length !== baseIndent || /\d/.test(sibling[2]) !== ordered) break;
    i = peek;
  }
  return [node, i];
}

function quote(lines, start) {
  const body = [];
  let i = start;
  while (i < lines.length && QUOTE.test(lines[i])) {
    body.push(lines[i].replace(QUOTE, ""));
    i += 1;
  }
  return [el("blockquote", renderBlocks(body)), i];
}

function paragraph(lines, start) {
  const body = [lines[start]];
  let i = start + 1;
  while (i < lines.length && !isBlank(lines[i]) && !startsBlock(lines[i], lines[i + 1])) {
    body.push(lines[i]);
    i += 1;
  }
  return [inlineLines(body, el("p")), i];
}

function block(lines, i) {
  const line = lines[i];
  if (FENCE.test(line)) return fence(lines, i);
  const heading = HEADING.exec(line);
  if (heading) return [inline(heading[2], el(`h${heading[1].length}`)), i + 1];
  if (RULE.test(line)) return [el("hr"), i + 1];
  if (QUOTE.test(line)) return quote(lines, i);
  if (ITEM.test(line)) return list(lines, i);
  if (line.includes("|") && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1])) {
    return table(lines, i);
  }
  return paragraph(lines, i);
}

function renderBlocks(lines) {
  const out = document.createDocumentFragment();
  let i = 0;
  while (i < lines.length) {
    if (isBlank(lines[i])) {
      i += 1;
      continue;
    }
    const [node, next] = block(lines, i);
    out.append(node);
    i = next;
  }
  return out;
}

/** The Markdown `source` as a DocumentFragment of safe nodes. */
export function renderMarkdown(source) {
  const lines = String(source ?? "").replace(/\r\n?/g, "\n").replace(/\t/g, "    ").split("\n");
  return renderBlocks(lines);
}
