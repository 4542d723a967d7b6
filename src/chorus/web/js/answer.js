// One assistant answer, drawn the same way live (from stream events) and from history (from a
// stored message): smart_chat's route, ensemble members side by side, debate rounds, council.
//
// Who speaks is in the event's slot: {model, persona, side, round, expert, role}. A slot with
// role "aggregator" or "synthesizer" writes the final answer (its text arrives as
// message.delta); role "judge" is the ensemble's or the debate's judge.

import { h, formatCost } from "./dom.js";
import { FinalBlock, MemberCard, errorBox, slotKey } from "./cards.js";
import { safeHref } from "./markdown.js";

const MODE_LABELS = {
  smart_chat: "Smart chat", ensemble: "Ensemble", debate: "Debate", council: "Council",
};
const AGGREGATION_LABELS = {
  synthesis: "Synthesis", best_of_n: "Best of N", consensus: "Consensus", union: "Union",
};
const STAGE_LABELS = {
  members: "The models are answering", aggregation: "Combining the answers",
  openings: "Opening statements", verdict: "The judge is deciding",
  experts: "The experts are answering", synthesis: "The Synthesizer is writing",
};
const WRITERS = new Set(["aggregator", "synthesizer"]);

export const modeLabel = (mode) => MODE_LABELS[mode] || mode;
export const aggregationLabel = (name) => AGGREGATION_LABELS[name] || name;

/** Scalar facts of `details` not shown otherwise (a judge's reason, an agreement level). */
function notes(details, skip) {
  const facts = Object.entries(details || {})
    .filter(([key, value]) => !skip.includes(key) && value !== null && value !== ""
            && ["string", "number", "boolean"].includes(typeof value));
  if (!facts.length) return null;
  return h("dl", { class: "notes" }, facts.map(([key, value]) => [
    h("dt", {}, key.replace(/_/g, " ")),
    h("dd", {}, typeof value === "number" && !Number.isInteger(value)
      ? value.toFixed(2) : String(value)),
  ]));
}

/** The pages a web search brought into the answer: links when their URL is http(s). */
function sourcesList(sources) {
  const found = (Array.isArray(sources) ? sources : []).filter((s) => s && s.url);
  if (!found.length) return null;
  return h("details", { class: "sources" },
    h("summary", {}, `Sources (${found.length})`),
    h("ol", {}, found.map((source) => {
      const href = safeHref(String(source.url));
      const label = String(source.title || source.url);
      return h("li", {}, href
        ? h("a", { href, target: "_blank", rel: "noopener noreferrer nofollow" }, label)
        : label);
    })));
}

/** The model writing the final answer: shown in the final block's byline, not as a card. */
class Writer {
  constructor(final, slot) {
    this.final = final;
    this.slot = slot;
    this.status = "waiting";
    final.setBy(`by ${slot.model}`);
  }

  setStatus(status) {
    this.status = status;
    this.final.el.dataset.status = status;
  }

  // Its text comes as message.delta, which the view routes to the final block already.
  append() {}

  finish(result) {
    this.setStatus(result.status === "failed" ? "failed" : "ok");
    if (result.status === "failed") this.final.extra.append(errorBox(result.error));
  }
}

class AnswerView {
  constructor(mode, finalTitle) {
    this.mode = mode;
    this.members = new Map();
    this.final = new FinalBlock(finalTitle);
    this.progress = h("p", { class: "progress", "aria-hidden": "true" });
    this.foot = h("footer", { class: "answer-foot" });
    this.panel = h("div", { class: "panel" });
    this.judgeBox = h("details", { class: "judge", open: true, hidden: true },
      h("summary", {}, "The judge's answer"));
    this.el = h("article", { class: `answer mode-${mode}`, dataset: { status: "pending" } },
      this.progress, this.panel, this.final.el, this.judgeBox, this.foot);
    this.setProgress("Waiting for the first model…");
  }

  setStatus(status) {
    this.el.dataset.status = status;
  }

  setProgress(text) {
    this.progress.textContent = text || "";
    this.progress.hidden = !text;
  }

  /** Route one stream event; the conversation calls this for each event of the turn. */
  handle(event, data) {
    if (this.el.dataset.status === "pending") {
      this.setStatus("streaming");
      this.setProgress("");
    }
    switch (event) {
      case "member.started": this.card(data).setStatus("streaming"); break;
      case "member.delta": this.card(data).append(data.delta || ""); break;
      case "member.completed":
      case "member.failed": this.card(data).finish(data); break;
      case "stage": this.stage(data); break;
      case "message.delta": this.answerDelta(data.delta || ""); break;
      case "message.completed": this.completed(data); break;
      case "error": this.failed(data.error); break;
      default: break;
    }
  }

  answerDelta(text) {
    this.final.body.append(text);
  }

  stage(data) {
    if (data.status !== "started") {
      this.setProgress("");
      return;
    }
    const label = data.stage === "round" ? `Round ${data.round}`
      : STAGE_LABELS[data.stage] || String(data.stage || "").replace(/_/g, " ");
    this.setProgress(`${label}…`);
  }

  /** The card (or writer) of the member a slot names, made on first sight. */
  card(slot) {
    const key = slotKey(slot);
    let card = this.members.get(key);
    if (!card) {
      if (WRITERS.has(slot.role)) card = new Writer(this.final, slot);
      else {
        card = new MemberCard(slot, this.titleOf(slot));
        this.place(card);
      }
      this.members.set(key, card);
    }
    return card;
  }

  titleOf(slot) {
    return slot.role === "judge" ? "Judge" : slot.model;
  }

  place(card) {
    if (card.slot.role === "judge") {
      this.judgeBox.hidden = false;
      this.judgeBox.append(card.el);
    } else {
      this.panel.append(card.el);
    }
  }

  /** The whole answer as stored: fills in what the stream may not have shown, then settles. */
  completed(message) {
    this.fromDetails(message.details || {});
    this.final.body.set(this.finalText(message));
    this.setProgress("");
    this.judgeBox.open = false;
    this.foot.replaceChildren();
    if (message.error) {
      this.failed(message.error);
      return;
    }
    const facts = [];
    if (message.models_used && message.models_used.length) {
      facts.push(`models: ${message.models_used.join(", ")}`);
    }
    if (message.usage) {
      facts.push(`${message.usage.total_tokens} tokens`, formatCost(message.usage.cost_usd));
    }
    if (message.latency_ms) facts.push(`${(message.latency_ms / 1000).toFixed(1)} s`);
    if (facts.length) this.foot.append(h("span", { class: "facts" }, facts.join(" · ")));
    const sources = sourcesList((message.details || {}).sources);
    if (sources) this.foot.append(sources);
    this.setStatus("done");
  }

  finalText(message) {
    return message.content || "";
  }

  fromDetails(details) {
    for (const member of details.members || []) this.card(member).finish(member);
  }

  failed(error) {
    this.setProgress("");
    this.foot.replaceChildren(errorBox(error));
    for (const card of this.members.values()) {
      if (card.status === "waiting" || card.status === "streaming") card.setStatus("failed");
    }
    this.setStatus("failed");
  }
}

class SmartChatView extends AnswerView {
  constructor() {
    super("smart_chat", "Answer");
    this.route = h("p", { class: "route" });
    this.final.extra.append(this.route);
    this.panel.hidden = true;
  }

  card(slot) {
    this.route.textContent = `Answering: ${slot.model}`;
    return super.card(slot);
  }

  fromDetails(details) {
    if (!details.routed_to) return;
    const parts = [];
    const reason = details.reason || "";
    if (reason) parts.push(reason);
    // The router's reason usually names both already; say them only when it does not.
    if (details.category && !reason.includes(details.category)) {
      parts.push(`category: ${details.category}`);
    }
    if (typeof details.difficulty === "number" && !reason.includes("difficulty")) {
      parts.push(`difficulty ${details.difficulty.toFixed(2)}`);
    }
    this.route.replaceChildren(h("strong", {}, `Answered by ${details.routed_to}`),
      parts.length ? ` · ${parts.join(" · ")}` : "");
  }
}

class EnsembleView extends AnswerView {
  constructor(aggregation) {
    super("ensemble", aggregationLabel(aggregation || "synthesis"));
    this.panel.classList.add("members");
  }

  fromDetails(details) {
    super.fromDetails(details);
    if (details.aggregation) this.final.titleEl.textContent = aggregationLabel(details.aggregation);
    const step = details.aggregator;
    if (step && step.model) {
      this.final.setBy(`${step.role === "judge" ? "judged" : "written"} by ${step.model}`);
    }
    this.final.extra.replaceChildren(notes(details, ["aggregation"]) || "");
    if (step && step.status === "failed") this.final.extra.append(errorBox(step.error));
  }
}

const WINNERS = { pro: "Pro wins", con: "Con wins", draw: "Draw" };

class DebateView extends AnswerView {
  constructor() {
    super("debate", "Verdict");
    this.rounds = new Map();
    this.verdict = h("p", { class: "verdict" });
    this.final.extra.append(this.verdict);
  }

  titleOf(slot) {
    if (slot.side === "pro") return "Pro";
    if (slot.side === "con") return "Con";
    return super.titleOf(slot);
  }

  // message.delta carries the whole transcript, which the rounds already show.
  answerDelta() {}

  roundSection(number) {
    let section = this.rounds.get(number);
    if (!section) {
      const title = number === 0 ? "Openings" : `Round ${number}`;
      const pro = h("div", { class: "side side-pro" });
      const con = h("div", { class: "side side-con" });
      section = { el: h("section", { class: "round", dataset: { round: number } },
        h("h3", { class: "round-title" }, title), h("div", { class: "sides" }, pro, con)), pro, con };
      this.rounds.set(number, section);
      const later = [...this.rounds.entries()].filter(([n]) => n > number).sort((a, b) => a[0] - b[0]);
      this.panel.insertBefore(section.el, later.length ? later[0][1].el : null);
    }
    return section;
  }

  place(card) {
    const { side, round } = card.slot;
    if (side === "pro" || side === "con") this.roundSection(Number(round) || 0)[side].append(card.el);
    else super.place(card);
  }

  fromDetails(details) {
    for (const round of details.rounds || []) {
      for (const side of ["pro", "con"]) {
        const result = round[side];
        if (result) this.card({ ...result, side, round: round.round }).finish(result);
      }
    }
    if (details.judge) this.card(details.judge).finish(details.judge);
    const verdict = details.verdict;
    if (!verdict) return;
    this.verdict.dataset.winner = verdict.winner || "none";
    this.verdict.textContent = WINNERS[verdict.winner] || "No verdict";
    if (details.judge) this.final.setBy(`judged by ${details.judge.model}`);
    if (verdict.error) this.verdict.after(errorBox(verdict.error));
  }

  finalText(message) {
    const verdict = (message.details || {}).verdict;
    return verdict ? verdict.reasoning || "" : message.content || "";
  }
}

class CouncilView extends AnswerView {
  constructor() {
    super("council", "Synthesis");
    this.panel.classList.add("experts");
  }

  titleOf(slot) {
    return slot.expert || slot.name || slot.model;
  }

  card(slot) {
    const card = super.card({ ...slot, expert: slot.expert || slot.name });
    if (slot.perspective && card.body && !card.perspective) {
      card.perspective = h("p", { class: "perspective" }, slot.perspective);
      card.body.el.before(card.perspective);
    }
    return card;
  }

  fromDetails(details) {
    for (const expert of details.experts || []) this.card(expert).finish(expert);
    if (details.synthesizer) this.final.setBy(`by ${details.synthesizer}`);
    if (details.synthesizer_status === "failed") {
      this.final.extra.replaceChildren(errorBox(details.synthesizer_error));
    }
    if (details.fallback) this.final.extra.append(h("p", { class: "hint" }, details.fallback));
  }
}

/** An empty view for a turn of `mode` (an ensemble's aggregation names its final block). */
export function answerView(mode, aggregation = null) {
  switch (mode) {
    case "ensemble": return new EnsembleView(aggregation);
    case "debate": return new DebateView();
    case "council": return new CouncilView();
    default: return new SmartChatView();
  }
}

/** A stored assistant message, drawn as it was when it streamed. */
export function storedAnswer(mode, message) {
  const view = answerView(mode);
  view.completed(message);
  return view;
}
