// The building blocks of an answer: a member's card and the final answer block, both of which
// render Markdown as text arrives (at most once per frame).

import { h, formatCost } from "./dom.js";
import { renderMarkdown } from "./markdown.js";

const pending = new Set();

function scheduleRender(target) {
  if (pending.size === 0) requestAnimationFrame(flush);
  pending.add(target);
}

function flush() {
  const targets = [...pending];
  pending.clear();
  for (const target of targets) target.render();
}

const STATUS_LABELS = { waiting: "waiting", streaming: "streaming", ok: "done", failed: "failed" };

/** A block of Markdown that grows as deltas arrive. */
export class MarkdownBody {
  constructor(className = "md") {
    this.text = "";
    this.el = h("div", { class: className });
  }

  append(delta) {
    this.text += delta;
    scheduleRender(this);
  }

  set(text) {
    this.text = text || "";
    pending.delete(this);
    this.render();
  }

  render() {
    this.el.replaceChildren(renderMarkdown(this.text));
  }
}

export function errorBox(error) {
  const message = (error && error.message) || "unknown error";
  const code = error && error.code ? `${error.code}: ` : "";
  return h("p", { class: "error-box", role: "note" }, `${code}${message}`);
}

/** One model's contribution: header (who, in what role), status, the text as it streams. */
export class MemberCard {
  constructor(slot, title) {
    this.slot = slot;
    this.body = new MarkdownBody();
    this.badge = h("span", { class: "status" });
    this.foot = h("footer", { class: "member-foot" });
    const persona = slot.persona ? h("span", { class: "chip" }, slot.persona) : null;
    this.el = h("article", { class: "member", tabIndex: 0 },
      h("header", { class: "member-head" },
        h("span", { class: "member-title" }, title || slot.model),
        title && title !== slot.model ? h("span", { class: "model" }, slot.model) : null,
        persona, this.badge),
      this.body.el, this.foot);
    this.setStatus("waiting");
  }

  setStatus(status) {
    this.status = status;
    this.el.dataset.status = status;
    this.badge.textContent = STATUS_LABELS[status] || status;
  }

  append(delta) {
    if (this.status === "waiting") this.setStatus("streaming");
    this.body.append(delta);
  }

  /** The member's final result, as a member.completed/failed event or stored details carry it. */
  finish(result) {
    const failed = result.status === "failed";
    this.setStatus(failed ? "failed" : "ok");
    if (result.content || !this.body.text) this.body.set(result.content || "");
    this.foot.replaceChildren();
    if (failed) this.foot.append(errorBox(result.error));
    const facts = [];
    if (result.latency_ms) facts.push(`${(result.latency_ms / 1000).toFixed(1)} s`);
    if (result.usage && result.usage.total_tokens) {
      facts.push(`${result.usage.total_tokens} tokens`, formatCost(result.usage.cost_usd));
    }
    if (facts.length) this.foot.append(h("span", { class: "facts" }, facts.join(" · ")));
  }
}

/** The answer of the whole turn: a title, who wrote it and the text. */
export class FinalBlock {
  constructor(title) {
    this.body = new MarkdownBody("md final-text");
    this.titleEl = h("h3", { class: "final-title" }, title);
    this.byline = h("span", { class: "byline" });
    this.extra = h("div", { class: "final-extra" });
    this.el = h("section", { class: "final" },
      h("header", { class: "final-head" }, this.titleEl, this.byline), this.extra, this.body.el);
  }

  setBy(text) {
    this.byline.textContent = text || "";
  }
}

/** A key that tells one member's events from another's. */
export function slotKey(slot) {
  return [slot.model, slot.persona, slot.side, slot.round, slot.expert, slot.role]
    .map((part) => (part === undefined || part === null ? "" : String(part))).join("\u241f");
}
