// A small Markdown subset rendered straight to DOM nodes, safe for untrusted model output.
//
// The source is never parsed as HTML: text reaches the page only as text nodes, elements come
// from a fixed list of tags, and the one attribute taken from the source is a link's href,
// kept only when it parses as an absolute http(s) URL. `<script>` stays the characters
// "<script>". Supported: fenced code, headings, lists (nested), block quotes, rules, tables,
// paragraphs; inline code, bold, italic, strikethrough, links and bare URLs.

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*)$/; // closing #s are cut by headingText, not here:
// a lazy match followed by optional spaces costs the square of a line of spaces
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
//
// Linear in the text: an opener is judged from the characters around it, and its closer is
// looked up in a list of every possible closer, built once per text. Scanning ahead from each
// opener instead costs the square of the length when closers are missing ("**a " repeated).

// Nesting deeper than this (spans in spans, quotes in quotes, lists in lists) shows as text,
// so that no answer can exhaust the call stack ("> " repeated thousands of times).
const MAX_DEPTH = 16;

const SPACE = /\s/;
const WORD = /\w/;
const SPANS = [
  // [opener, element, opener needs no word character before it, closer at a position]
  ["**", "strong", false, /(?<=\S)(?=\*\*)/g],
  ["__", "strong", true, /(?<=\S)(?=__(?!\w))/g],
  ["~~", "del", false, /(?<=\S)(?=~~)/g],
  ["*", "em", false, /(?<=[^\s*])(?=\*(?!\*))/g],
  ["_", "em", true, /(?<=[^\s_])(?=_(?!\w))/g],
].map(([open, tag, word, closer]) => ({ open, tag, word, closer }));
const LINK_REST = /\(\s*<?([^\s<>()]+)>?(?:\s+"[^"\n]*")?\s*\)/y;
const AUTOLINK = /<(https?:\/\/[^\s<>]+)>/y;
const BARE_URL = /https?:\/\/[^\s<>"']*[^\s<>"'.,;:!?)\]]/y;
const ESCAPABLE = /[!-/:-@[-`{-~]/;

/** Sorted positions where `re` matches in `text`, each looked up with a cursor that only
 * moves forward, as openers are met left to right. */
class Positions {
  constructor(list) {
    this.list = list;
    this.at = 0;
  }

  static of(re, text) {
    return new Positions([...text.matchAll(re)].map((m) => m.index));
  }

  /** The first position at or after `min`, or -1. */
  next(min) {
    while (this.at < this.list.length && this.list[this.at] < min) this.at += 1;
    return this.at < this.list.length ? this.list[this.at] : -1;
  }
}

/** What one text's openers need to find their closers without scanning ahead. */
class Closers {
  constructor(text) {
    this.spans = SPANS.map((span) => Positions.of(span.closer, text));
    this.runs = new Map(); // code spans: backtick runs by length
    for (const m of text.matchAll(/`+/g)) {
      if (!this.runs.has(m[0].length)) this.runs.set(m[0].length, []);
      this.runs.get(m[0].length).push(m.index);
    }
    for (const [length, list] of this.runs) this.runs.set(length, new Positions(list));
    this.labelEnd = new Int32Array(text.length + 1); // the first "]" or newline at or after i
    this.labelEnd[text.length] = text.length;
    for (let i = text.length - 1; i >= 0; i -= 1) {
      this.labelEnd[i] = text[i] === "]" || text[i] === "\n" ? i : this.labelEnd[i + 1];
    }
    this.linkRest = new Map(); // a link's "(url)" by the position of its "]"
  }
}

/** An absolute http(s) URL as the browser normalises it, or null. */
export function safeHref(raw) {
  try {
    const url = new URL(raw);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

function link(rawHref, label, source, depth) {
  const href = safeHref(rawHref);
  if (href === null) return source;
  const anchor = el("a");
  anchor.href = href;
  anchor.target = "_blank";
  anchor.rel = "noopener noreferrer nofollow";
  if (label === null) anchor.textContent = rawHref;
  else inline(label, anchor, depth + 1);
  return anchor;
}

function codeSpan(text, i, closers) {
  let run = 1;
  while (text[i + run] === "`") run += 1;
  const close = closers.runs.get(run)?.next(i + run + 1) ?? -1; // none: after an escaped "`"
  if (close < 0) return [text.slice(i, i + run), run]; // no closer: the run is text
  const body = text.slice(i + run, close);
  return [el("code", body.trim() || body), close + run - i];
}

function span(text, i, closers, depth) {
  for (const [index, rule] of SPANS.entries()) {
    const after = text[i + rule.open.length];
    if (!text.startsWith(rule.open, i) || after === undefined || SPACE.test(after)
        || (rule.open.length === 1 && after === rule.open)
        || (rule.word && i > 0 && WORD.test(text[i - 1]))) continue;
    const close = closers.spans[index].next(i + rule.open.length + 1);
    if (close < 0) continue;
    const body = text.slice(i + rule.open.length, close);
    return [inline(body, el(rule.tag), depth + 1), close + rule.open.length - i];
  }
  return null;
}

function bracketLink(text, i, closers, depth) {
  const end = closers.labelEnd[i + 1];
  if (end === i + 1 || text[end] !== "]" || text[end + 1] !== "(") return null;
  if (!closers.linkRest.has(end)) {
    LINK_REST.lastIndex = end + 1;
    closers.linkRest.set(end, LINK_REST.exec(text));
  }
  const rest = closers.linkRest.get(end);
  if (rest === null) return null;
  const length = end + 1 + rest[0].length - i;
  return [link(rest[1], text.slice(i + 1, end), text.slice(i, i + length), depth), length];
}

function sticky(re, text, i) {
  re.lastIndex = i;
  return re.exec(text);
}

/** The node (or text) the markup at `i` makes and the characters it takes, or null. */
function markup(text, i, closers, depth) {
  const char = text[i];
  if (char === "`") return codeSpan(text, i, closers);
  if (char === "\\") return ESCAPABLE.test(text[i + 1] ?? "") ? [text[i + 1], 2] : null;
  if (char === "*" || char === "_" || char === "~") return span(text, i, closers, depth);
  if (char === "[") return bracketLink(text, i, closers, depth);
  if (char === "<") {
    const m = sticky(AUTOLINK, text, i);
    return m && [link(m[1], null, m[0], depth), m[0].length];
  }
  if (char === "h" && !(i > 0 && WORD.test(text[i - 1]))) {
    const m = sticky(BARE_URL, text, i);
    return m && [link(m[0], null, m[0], depth), m[0].length];
  }
  return null;
}

/** Render inline Markdown of `text` into `parent` and return it. */
export function inline(text, parent, depth = 0) {
  if (depth > MAX_DEPTH) {
    parent.append(text);
    return parent;
  }
  const closers = new Closers(text);
  let plain = "";
  let i = 0;
  while (i < text.length) {
    const found = markup(text, i, closers, depth);
    if (found === null) {
      plain += text[i];
      i += 1;
      continue;
    }
    const [made, length] = found;
    i += length;
    if (typeof made === "string") {
      plain += made; // an escaped character, a lone backtick run, or a link refused for its URL
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

function listItem(lines, start, baseIndent, depth) {
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
  li.append(renderBlocks(body, depth + 1));
  // A tight item (no blank line inside) shows its text without paragraph spacing.
  if (!body.some(isBlank)) {
    for (const p of [...li.children].filter((node) => node.nodeName === "P")) {
      p.replaceWith(...p.childNodes);
    }
  }
  return [li, i];
}

function list(lines, start, depth) {
  const first = ITEM.exec(lines[start]);
  const baseIndent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const node = el(ordered ? "ol" : "ul");
  if (ordered && parseInt(first[2], 10) !== 1) node.start = parseInt(first[2], 10);
  let i = start;
  for (;;) {
    const [li, next] = listItem(lines, i, baseIndent, depth);
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

function quote(lines, start, depth) {
  const body = [];
  let i = start;
  while (i < lines.length && QUOTE.test(lines[i])) {
    body.push(lines[i].replace(QUOTE, ""));
    i += 1;
  }
  return [el("blockquote", renderBlocks(body, depth + 1)), i];
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

/** A heading's text without trailing spaces, nor the closing #s after a space ("## A ##"). */
function headingText(text) {
  const trimmed = text.trimEnd();
  let end = trimmed.length;
  while (end > 0 && trimmed[end - 1] === "#") end -= 1;
  return end > 0 && end < trimmed.length && SPACE.test(trimmed[end - 1])
    ? trimmed.slice(0, end).trimEnd() : trimmed;
}

function block(lines, i, depth) {
  const line = lines[i];
  if (FENCE.test(line)) return fence(lines, i);
  const heading = HEADING.exec(line);
  if (heading) return [inline(headingText(heading[2]), el(`h${heading[1].length}`)), i + 1];
  if (RULE.test(line)) return [el("hr"), i + 1];
  if (QUOTE.test(line)) return quote(lines, i, depth);
  if (ITEM.test(line)) return list(lines, i, depth);
  if (line.includes("|") && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1])) {
    return table(lines, i);
  }
  return paragraph(lines, i);
}

function renderBlocks(lines, depth = 0) {
  const out = document.createDocumentFragment();
  if (depth > MAX_DEPTH) {
    const text = el("p");
    lines.forEach((line, index) => text.append(...(index ? [el("br"), line] : [line])));
    out.append(text);
    return out;
  }
  let i = 0;
  while (i < lines.length) {
    if (isBlank(lines[i])) {
      i += 1;
      continue;
    }
    const [node, next] = block(lines, i, depth);
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
