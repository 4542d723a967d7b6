// Building DOM nodes. Text only ever enters the page as text nodes: nothing here parses HTML.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(node, props, children) {
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.setAttribute("class", value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name in node && !(node instanceof SVGElement)) node[name] = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** An HTML element: h("button", {class: "x", onclick: f}, "label", otherNode). */
export function h(tag, props, ...children) {
  return build(document.createElement(tag), props, children);
}

/** An SVG element, for the charts. */
export function svg(tag, props, ...children) {
  return build(document.createElementNS(SVG_NS, tag), props, children);
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

/** Tell screen readers something happened (the live region is in index.html). */
export function announce(text) {
  const region = $("#announcer");
  region.textContent = "";
  requestAnimationFrame(() => { region.textContent = text; });
}

export function formatDate(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function formatCost(usd) {
  const value = Number(usd) || 0;
  if (value === 0) return "$0";
  if (value >= 0.01) return `$${value.toFixed(2)}`;
  // Fractions of a cent: two significant digits, never exponent notation.
  const short = String(Number(value.toPrecision(2)));
  return `$${short.includes("e") ? value.toFixed(8) : short}`;
}

export function formatTokens(count) {
  const value = Number(count) || 0;
  if (value >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (value >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  return String(value);
}

const ICONS = {
  edit: "M4 20h4L19 9l-4-4L4 16v4zM14 6l4 4",
  trash: "M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13M10 11v6M14 11v6",
  close: "M6 6l12 12M18 6L6 18",
};

/** A small line icon (decorative: the button around it carries the label). */
export function icon(name) {
  return svg("svg", { viewBox: "0 0 24 24", width: 18, height: 18, class: "icon-svg",
                      "aria-hidden": "true", focusable: "false" },
    svg("path", { d: ICONS[name] }));
}
