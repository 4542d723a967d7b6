// The sessions sidebar: newest first, the next page loaded as the list scrolls into view,
// search, rename in place, delete after a confirmation.

import { h, $, announce, icon } from "./dom.js";
import { modeLabel } from "./answer.js";
import { confirmDialog } from "./dialog.js";
import { inline } from "./markdown.js";

const PAGE = 30;
const SEARCH_DELAY_MS = 250;
const HAS_WORD = /[\p{L}\p{N}]/u;

export class Sidebar {
  /** hooks: onDeleted(id), onRenamed(summary), onError(error). */
  constructor(api, hooks) {
    this.api = api;
    this.hooks = hooks;
    this.list = $("#session-list");
    this.sentinel = $("#session-sentinel");
    this.scroller = $("#session-scroll");
    this.searchBox = $("#session-search");
    this.items = new Map();
    this.activeId = null;
    this.query = "";
    this.generation = 0;
    this.offset = 0;
    this.hasMore = true;
    this.loading = null;
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) this.loadMore();
    }, { root: this.scroller, rootMargin: "120px" });
    this.observer.observe(this.sentinel);
    this.wireSearch();
  }

  wireSearch() {
    let timer = null;
    this.searchBox.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.search(this.searchBox.value), SEARCH_DELAY_MS);
    });
    this.searchBox.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.searchBox.value) {
        event.stopPropagation();
        this.searchBox.value = "";
        clearTimeout(timer);
        this.search("");
      }
    });
  }

  /** Show the chats matching `text` (GET /v1/sessions/search), or all of them when empty. */
  search(text) {
    const query = HAS_WORD.test(text) ? text.trim() : "";
    if (query === this.query) return this.loading;
    this.query = query;
    return this.reset();
  }

  /** Start the list again from the first page; a page still loading is dropped. */
  reset() {
    this.generation += 1;
    this.list.replaceChildren();
    this.items.clear();
    this.offset = 0;
    this.hasMore = true;
    this.loading = null;
    return this.loadMore();
  }

  pagePath() {
    const page = `limit=${PAGE}&offset=${this.offset}`;
    return this.query
      ? `/v1/sessions/search?q=${encodeURIComponent(this.query)}&${page}`
      : `/v1/sessions?${page}`;
  }

  /** The next page, unless one is loading or none is left. */
  loadMore() {
    if (this.loading || !this.hasMore) return this.loading;
    const generation = this.generation;
    this.sentinel.textContent = "Loading…";
    const loading = this.api.get(this.pagePath())
      .then((page) => {
        if (generation !== this.generation) return;
        this.offset += page.data.length;
        this.hasMore = page.has_more;
        for (const summary of page.data) {
          if (!this.items.has(summary.id)) this.list.append(this.item(summary));
        }
        this.sentinel.textContent = this.items.size ? ""
          : this.query ? "No chats match" : "No chats yet";
      })
      .catch((error) => {
        if (generation !== this.generation) return;
        this.sentinel.textContent = "";
        this.hasMore = false;
        this.hooks.onError(error);
      })
      .finally(() => {
        if (generation !== this.generation) return;
        this.loading = null;
        // A short page may leave the sentinel in view, which fires no new intersection.
        if (this.hasMore && this.sentinelVisible()) this.loadMore();
      });
    this.loading = loading;
    return loading;
  }

  sentinelVisible() {
    const box = this.sentinel.getBoundingClientRect();
    const view = this.scroller.getBoundingClientRect();
    return box.top < view.bottom + 120 && view.height > 0;
  }

  item(summary) {
    const title = h("span", { class: "title" }, summary.title);
    const meta = h("span", { class: "meta" });
    // A search hit's excerpt marks the matched words in **bold**: rendered as safe Markdown.
    const snippet = summary.snippet ? inline(summary.snippet, h("span", { class: "snippet" }))
      : null;
    const link = h("a", { class: "session-link", href: `#/s/${summary.id}` }, title, snippet,
      meta);
    const li = h("li", { class: "session", dataset: { id: summary.id } }, link,
      h("span", { class: "actions" },
        h("button", { type: "button", class: "icon", title: "Rename", "aria-label": "Rename",
                      onclick: () => this.rename(summary.id) }, icon("edit")),
        h("button", { type: "button", class: "icon", title: "Delete", "aria-label": "Delete",
                      onclick: () => this.remove(summary.id) }, icon("trash"))));
    link.addEventListener("dblclick", (event) => {
      event.preventDefault();
      this.rename(summary.id);
    });
    const entry = { li, title, meta, link, summary };
    this.items.set(summary.id, entry);
    this.fill(entry, summary);
    if (summary.id === this.activeId) li.setAttribute("aria-current", "page");
    return li;
  }

  fill(entry, summary) {
    entry.summary = summary;
    entry.title.textContent = summary.title;
    entry.link.title = summary.title;
    const count = summary.message_count;
    entry.meta.textContent = `${modeLabel(summary.mode)} · ${count} message${count === 1 ? "" : "s"}`;
  }

  /** Show a session as the newest (a new chat, or one that just got a message). */
  toTop(summary) {
    const entry = this.items.get(summary.id);
    if (this.query) {
      // Search results keep their order; a chat outside them stays out.
      if (entry) this.fill(entry, summary);
      return;
    }
    if (!entry) {
      this.list.prepend(this.item(summary));
      this.offset += 1;
    } else {
      this.fill(entry, summary);
      this.list.prepend(entry.li);
    }
    this.sentinel.textContent = "";
  }

  setActive(id) {
    this.activeId = id;
    for (const [key, entry] of this.items) {
      if (key === id) entry.li.setAttribute("aria-current", "page");
      else entry.li.removeAttribute("aria-current");
    }
  }

  rename(id) {
    const entry = this.items.get(id);
    if (!entry || entry.li.querySelector("input")) return;
    const input = h("input", { type: "text", class: "rename", value: entry.summary.title,
                               "aria-label": "New title", maxLength: 200 });
    let done = false;
    const finish = async (save) => {
      if (done) return;
      done = true;
      const title = input.value.trim();
      input.replaceWith(entry.link);
      if (!save || !title || title === entry.summary.title) {
        entry.link.focus();
        return;
      }
      try {
        this.fill(entry, await this.api.patch(`/v1/sessions/${id}`, { title }));
        announce("Renamed");
        this.hooks.onRenamed(entry.summary);
      } catch (error) {
        this.hooks.onError(error);
      }
      entry.link.focus();
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); finish(true); }
      if (event.key === "Escape") { event.preventDefault(); finish(false); }
    });
    input.addEventListener("blur", () => finish(true));
    entry.link.replaceWith(input);
    input.focus();
    input.select();
  }

  async remove(id) {
    const entry = this.items.get(id);
    if (!entry) return;
    const sure = await confirmDialog(`Delete “${entry.summary.title}”?`,
      "The chat and all its messages are deleted for good.", "Delete");
    if (!sure) return;
    try {
      await this.api.delete(`/v1/sessions/${id}`);
    } catch (error) {
      if (error.status !== 404) {
        this.hooks.onError(error);
        return;
      }
    }
    const next = entry.li.nextElementSibling || entry.li.previousElementSibling;
    entry.li.remove();
    this.items.delete(id);
    this.offset = Math.max(0, this.offset - 1);
    if (!this.items.size) this.sentinel.textContent = "No chats yet";
    announce("Chat deleted");
    this.hooks.onDeleted(id);
    (next ? next.querySelector("a") : $("#new-chat")).focus();
  }
}
