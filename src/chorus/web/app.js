// Chorus in the browser: sign in with an API key, then chat, browse sessions and manage settings.
// Routes live in the URL hash: #/ (new chat), #/s/<session id>, #/settings/<tab>.

import { $, announce, h } from "./js/dom.js";
import { Api, ApiError } from "./js/api.js";
import { Catalog } from "./js/catalog.js";
import { Composer } from "./js/composer.js";
import { Conversation } from "./js/conversation.js";
import { Sidebar } from "./js/sidebar.js";
import { SettingsView } from "./js/settings.js";
import { modeLabel } from "./js/answer.js";

const KEY_STORAGE = "chorus.apiKey";
const NOTICE_STORAGE = "chorus.notice";

/** The sign-in form, holding `key` when the stored one could not be used this time. */
function showSignin(key = "") {
  $("#shell").hidden = true;
  $("#signin").hidden = false;
  const notice = sessionStorage.getItem(NOTICE_STORAGE);
  sessionStorage.removeItem(NOTICE_STORAGE);
  $("#signin-error").textContent = notice || "";
  $("#signin-key").value = key;
  $("#signin-key").focus();
  $("#signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = $("#signin-key").value.trim();
    const error = $("#signin-error");
    error.textContent = "";
    try {
      await new Api(key).get("/v1/sessions?limit=1");
    } catch (failure) {
      error.textContent = failure.status === 401
        ? "That key was not accepted. Check it and try again." : failure.message;
      return;
    }
    localStorage.setItem(KEY_STORAGE, key);
    location.reload();
  });
}

/** Forget the key; a reload starts from a clean page. */
function signOut(notice) {
  localStorage.removeItem(KEY_STORAGE);
  if (notice) sessionStorage.setItem(NOTICE_STORAGE, notice);
  location.hash = "";
  location.reload();
}

let toastTimer = null;
function toast(error) {
  const node = $("#toast");
  node.textContent = error.message || String(error);
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { node.hidden = true; }, 6000);
}

class App {
  constructor(api, catalog) {
    this.api = api;
    this.catalog = catalog;
    this.title = $("#chat-title");
    this.modeBadge = $("#chat-mode");
    this.composer = new Composer(catalog, (text, body, mode) => this.send(text, body, mode),
      () => this.conversation.stop());
    this.conversation = new Conversation(api, $("#conversation"), {
      onSession: (id, mode, text) => this.sessionStarted(id, mode, text),
      onTurnEnd: (id) => this.turnEnded(id),
      onBusy: (busy) => this.composer.setBusy(busy),
    });
    this.sidebar = new Sidebar(api, {
      onDeleted: (id) => { if (this.conversation.sessionId === id) location.hash = "#/"; },
      onRenamed: (summary) => {
        if (this.conversation.sessionId === summary.id) this.showTitle(summary);
      },
      onError: toast,
    });
    this.settings = new SettingsView(api, catalog, {
      onRevokedOwn: () => signOut("The key this browser used was revoked. Sign in with another."),
      onDefaultsSaved: (settings) => {
        catalog.settings = settings;
        this.composer.state = this.composer.initialState();
        this.composer.render();
      },
      onError: toast,
    });
    this.wireChrome();
  }

  wireChrome() {
    $("#new-chat").addEventListener("click", () => {
      location.hash = "#/";
      this.closeSidebar();
      this.composer.input.focus();
    });
    $("#sign-out").addEventListener("click", () => signOut());
    $("#toggle-sidebar").addEventListener("click", () => {
      if ($("#shell").classList.contains("sidebar-open")) this.closeSidebar();
      else this.openSidebar();
    });
    $("#sidebar-backdrop").addEventListener("click", () => this.closeSidebar());
    $("#sidebar").addEventListener("click", (event) => {
      if (event.target.closest("a")) this.closeSidebar();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && $("#shell").classList.contains("sidebar-open")) {
        this.closeSidebar();
        $("#toggle-sidebar").focus();
      }
    });
    window.addEventListener("hashchange", () => this.route());
    $("#chat-export").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-format]");
      if (button) this.exportChat(button.dataset.format);
    });
  }

  /** Download the open chat (GET /v1/sessions/{id}/export) under the server's file name. */
  async exportChat(format) {
    const id = this.conversation.sessionId;
    if (!id) return;
    $("#chat-export").open = false;
    try {
      const response = await this.api.send(
        "GET", `/v1/sessions/${encodeURIComponent(id)}/export?format=${format}`);
      const disposition = response.headers.get("content-disposition") || "";
      const name = (/filename="([^"]+)"/.exec(disposition) || [])[1]
        || `${id}.${format === "json" ? "json" : "md"}`;
      const url = URL.createObjectURL(await response.blob());
      const link = h("a", { href: url, download: name, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (error) {
      toast(error);
    }
  }

  openSidebar() {
    $("#shell").classList.add("sidebar-open");
    $("#toggle-sidebar").setAttribute("aria-expanded", "true");
    $("#new-chat").focus();
  }

  closeSidebar() {
    $("#shell").classList.remove("sidebar-open");
    $("#toggle-sidebar").setAttribute("aria-expanded", "false");
  }

  showTitle(session) {
    this.title.textContent = session ? session.title : "New chat";
    this.modeBadge.textContent = session ? modeLabel(session.mode) : "";
    this.modeBadge.hidden = !session;
    $("#chat-export").hidden = !session;
    document.title = session ? `${session.title} · Chorus` : "Chorus";
  }

  showView(name) {
    $("#chat-view").hidden = name !== "chat";
    $("#settings-view").hidden = name !== "settings";
  }

  async route() {
    const [, section, arg] = (location.hash || "#/").split("/");
    if (section === "settings") {
      this.showView("settings");
      this.showTitle(null);
      this.title.textContent = "Settings";
      this.sidebar.setActive(null);
      await this.settings.show(arg);
      return;
    }
    this.showView("chat");
    if (section === "s" && arg) {
      if (this.conversation.sessionId === arg) return;
      this.sidebar.setActive(arg);
      try {
        const session = await this.conversation.open(decodeURIComponent(arg));
        if (!session) return;
        this.showTitle(session);
        this.composer.lock(session.messages.length ? session : null);
      } catch (error) {
        toast(error.status === 404 ? new Error("That chat does not exist any more.") : error);
        location.hash = "#/";
      }
      return;
    }
    this.sidebar.setActive(null);
    this.conversation.showEmpty();
    this.showTitle(null);
    this.composer.lock(null);
  }

  async send(text, body, mode) {
    const aggregation = mode === "ensemble" ? this.composer.state.ensemble.aggregation : null;
    await this.conversation.send(text, body, mode, aggregation);
  }

  sessionStarted(id, mode, text) {
    history.replaceState(null, "", `#/s/${id}`);
    const aggregation = mode === "ensemble" ? this.composer.state.ensemble.aggregation : null;
    this.composer.lock({ mode, aggregation });
    // Until the turn ends and the server's title is read: the question's first line.
    const line = text.trim().split("\n")[0];
    const title = line.length > 60 ? `${line.slice(0, 59)}…` : line || "New chat";
    this.sidebar.toTop({ id, title, mode, message_count: 1 });
    this.sidebar.setActive(id);
    this.showTitle({ title, mode });
  }

  /**
   * Refresh the session's summary (its title may come from a title model) once its turn is
   * over: the newest session of the list is the one that just got its answer.
   */
  async turnEnded(id) {
    try {
      const [summary] = (await this.api.get("/v1/sessions?limit=1")).data;
      if (!summary || summary.id !== id) return;
      this.sidebar.toTop(summary);
      if (this.conversation.sessionId === id) this.showTitle(summary);
    } catch (error) {
      toast(error);
    }
  }
}

async function main() {
  const key = localStorage.getItem(KEY_STORAGE);
  if (!key) {
    showSignin();
    return;
  }
  const api = new Api(key, () => signOut("Your key was not accepted any more. Sign in again."));
  let catalog;
  try {
    catalog = await new Catalog(api).load();
  } catch (error) {
    // A 401 has signed out already. Anything else (a 429, a 5xx, no network) says nothing about
    // the key: keep it, in storage and in the form, and show what the server said.
    if (error.status !== 401) {
      showSignin(key);
      $("#signin-error").textContent = error instanceof ApiError
        ? error.message : `The app could not start: ${error.message}`;
    }
    return;
  }
  $("#signin").hidden = true;
  $("#shell").hidden = false;
  const app = new App(api, catalog);
  await Promise.all([app.route(), app.sidebar.reset()]);
  if (!$("#settings-view").hidden) return;
  app.composer.input.focus();
  announce("Signed in");
}

main();
