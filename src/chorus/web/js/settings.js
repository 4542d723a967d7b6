// The settings view: tabs for API keys, default models and usage.

import { h, $ } from "./dom.js";
import { KeysPanel } from "./keys.js";
import { DefaultsPanel } from "./defaults.js";
import { UsagePanel } from "./usage.js";

const TABS = [["keys", "API keys"], ["defaults", "Default models"], ["usage", "Usage"]];

export class SettingsView {
  constructor(api, catalog, hooks) {
    this.root = $("#settings-view");
    this.panels = {
      keys: new KeysPanel(api, hooks.onRevokedOwn, hooks.onError),
      defaults: new DefaultsPanel(api, catalog, hooks.onDefaultsSaved),
      usage: new UsagePanel(api, hooks.onError),
    };
    this.onError = hooks.onError;
    this.tabs = new Map(TABS.map(([name, label]) => [name, h("a", {
      href: `#/settings/${name}`, role: "tab", id: `tab-${name}`, class: "tab",
      "aria-controls": `panel-${name}`,
    }, label)]));
    this.sections = new Map(TABS.map(([name, label]) => [name, h("section", {
      role: "tabpanel", id: `panel-${name}`, "aria-labelledby": `tab-${name}`, class: "tab-panel",
      hidden: true,
    }, h("h2", { class: "visually-hidden" }, label), this.panels[name].el)]));
    const tablist = h("nav", { role: "tablist", class: "tabs", "aria-label": "Settings" },
      [...this.tabs.values()]);
    tablist.addEventListener("keydown", (event) => this.arrowKeys(event));
    this.root.replaceChildren(tablist, ...this.sections.values());
  }

  /** Left and right arrows move between tabs, as in any tab list. */
  arrowKeys(event) {
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    const names = TABS.map(([name]) => name);
    const index = names.indexOf(this.current);
    const next = names[(index + (event.key === "ArrowRight" ? 1 : names.length - 1)) % names.length];
    location.hash = `#/settings/${next}`;
    this.tabs.get(next).focus();
  }

  async show(name) {
    const tab = this.panels[name] ? name : "keys";
    this.current = tab;
    for (const [key, link] of this.tabs) {
      link.setAttribute("aria-selected", String(key === tab));
      link.tabIndex = key === tab ? 0 : -1;
      this.sections.get(key).hidden = key !== tab;
    }
    try {
      await this.panels[tab].load();
    } catch (error) {
      this.onError(error);
    }
  }
}
