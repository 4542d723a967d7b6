// The open conversation: its messages, and the turn being streamed into it.

import { h, announce } from "./dom.js";
import { ApiError } from "./api.js";
import { answerView, storedAnswer } from "./answer.js";

function userBubble(text) {
  return h("div", { class: "turn-user" }, h("p", { class: "bubble" }, text));
}

function emptyState() {
  return h("div", { class: "empty" },
    h("h2", {}, "Ask anything"),
    h("p", {}, "Pick a mode below: one routed model, an ensemble side by side, a debate or "
      + "a council of experts. Enter sends, Shift+Enter starts a new line."));
}

function lastAggregation(messages) {
  for (const message of [...messages].reverse()) {
    if (message.details && message.details.aggregation) return message.details.aggregation;
  }
  return null;
}

export class Conversation {
  /**
   * hooks: onSession(id, mode, text) when a new session starts, onTurnEnd(id) when a turn
   * ends, onBusy(bool) while the visible turn streams.
   */
  constructor(api, root, hooks) {
    this.api = api;
    this.root = root;
    this.hooks = hooks;
    this.session = null;
    this.turn = null;
    this.loadToken = 0;
  }

  get sessionId() {
    return this.session ? this.session.id : null;
  }

  /** Forget the visible turn without cancelling it: it finishes and is stored server-side. */
  detach() {
    if (this.turn) this.turn.detached = true;
    this.turn = null;
    this.hooks.onBusy(false);
  }

  showEmpty() {
    this.detach();
    this.session = null;
    this.root.replaceChildren(emptyState());
  }

  /** Load a session and draw every message; answers the session with its aggregation. */
  async open(sessionId) {
    this.detach();
    const token = ++this.loadToken;
    this.root.replaceChildren(h("p", { class: "loading" }, "Loading…"));
    const session = await this.api.get(`/v1/sessions/${encodeURIComponent(sessionId)}`);
    if (token !== this.loadToken) return null;
    this.session = session;
    this.root.replaceChildren();
    for (const message of session.messages) {
      if (message.role === "user") this.root.append(userBubble(message.content));
      else if (message.role === "assistant") {
        this.root.append(storedAnswer(session.mode, message).el);
      }
    }
    this.root.lastElementChild?.scrollIntoView({ block: "end" });
    return { ...session, aggregation: lastAggregation(session.messages) };
  }

  /** Stream one turn. Resolves true when the server took the message (even if it failed). */
  async send(text, body, mode, aggregation) {
    if (!this.session) this.root.replaceChildren();
    const question = userBubble(text);
    const view = answerView(mode, aggregation);
    this.root.append(question, view.el);
    question.scrollIntoView({ block: "start", behavior: "smooth" });
    const turn = { controller: new AbortController(), detached: false, view };
    this.turn = turn;
    this.hooks.onBusy(true);
    let sessionId = this.sessionId;
    let accepted = false;
    try {
      const request = { ...body, message: text };
      if (sessionId) request.session_id = sessionId;
      for await (const { event, data } of this.api.chat(request, turn.controller.signal)) {
        accepted = true;
        if (event === "session") {
          sessionId = data.session_id;
          if (!turn.detached && !this.session) {
            this.session = { id: sessionId, mode: data.mode, messages: [] };
            this.hooks.onSession(sessionId, data.mode, text);
          }
        }
        view.handle(event, data);
        if (!turn.detached) this.follow(view);
      }
      if (view.el.dataset.status === "streaming") view.failed({ message: "the stream ended early" });
    } catch (error) {
      if (error.name === "AbortError") {
        view.failed({ code: "cancelled", message: "stopped" });
      } else if (!accepted && error instanceof ApiError) {
        question.remove();
        view.el.remove();
        if (!this.root.childElementCount) this.root.append(emptyState());
        throw error;
      } else {
        view.failed({ code: error.code || "network_error", message: error.message });
      }
    } finally {
      if (this.turn === turn) {
        this.turn = null;
        this.hooks.onBusy(false);
      }
      if (sessionId) this.hooks.onTurnEnd(sessionId);
    }
    if (!turn.detached) announce(view.el.dataset.status === "done" ? "Answer complete" : "Answer failed");
    return accepted;
  }

  stop() {
    if (this.turn) this.turn.controller.abort();
  }

  /** Keep the newest text in view while streaming, unless the reader scrolled up. */
  follow(view) {
    const scroller = this.root;
    const nearBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
    if (nearBottom) scroller.scrollTop = scroller.scrollHeight;
    return view;
  }
}
