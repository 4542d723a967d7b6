// Settings › Default models: GET/PATCH /v1/settings. An empty choice means the server default.

import { h, announce } from "./dom.js";
import { aggregationLabel } from "./answer.js";

const LIST_SLOTS = 5;

export class DefaultsPanel {
  /** onSaved(settings) lets the composer pick up the new defaults. */
  constructor(api, catalog, onSaved) {
    this.api = api;
    this.catalog = catalog;
    this.onSaved = onSaved;
    this.el = h("div", { class: "defaults" });
  }

  async load() {
    this.settings = await this.api.optional("/v1/settings");
    this.render();
  }

  render() {
    if (!this.settings) {
      this.el.replaceChildren(h("p", { class: "hint" }, "This server has no settings endpoint."));
      return;
    }
    const s = this.settings;
    const pick = (value, label, blank = "Server default") =>
      this.catalog.modelSelect(value, { blank, label });
    this.defaultModel = pick(s.default_model, "Default model", "Routed by question");
    this.costDefault = h("input", { type: "checkbox", checked: s.cost_preference === null });
    this.cost = h("input", { type: "range", min: 0, max: 1, step: 0.05, "aria-label": "Cost preference",
                             value: s.cost_preference ?? 0.5, disabled: s.cost_preference === null });
    const costValue = h("output", {}, Number(this.cost.value).toFixed(2));
    this.cost.addEventListener("input", () => { costValue.textContent = Number(this.cost.value).toFixed(2); });
    this.costDefault.addEventListener("change", () => { this.cost.disabled = this.costDefault.checked; });
    this.ensemble = this.listSelects(s.ensemble_models, "Ensemble model");
    this.aggregation = h("select", { "aria-label": "Ensemble aggregation" },
      h("option", { value: "" }, "Server default"),
      ["synthesis", "best_of_n", "consensus", "union"].map(
        (name) => h("option", { value: name }, aggregationLabel(name))));
    this.aggregation.value = s.ensemble_aggregation || "";
    const debate = s.debate_models || {};
    this.debate = ["pro", "con", "judge"].map((side) => pick(debate[side], `Debate ${side}`));
    this.council = this.listSelects(s.council_models, "Council model");
    const field = (label, ...control) => h("div", { class: "field-row" },
      h("span", { class: "field-label" }, label), h("div", { class: "controls" }, control));
    this.el.replaceChildren(h("form", { class: "settings-form", onsubmit: (event) => {
      event.preventDefault();
      this.save();
    } },
      field("Smart chat model", this.defaultModel),
      field("Cost preference", h("label", { class: "check" }, this.costDefault, "Server default"),
        this.cost, costValue, h("span", { class: "hint" }, "0 best model · 1 cheapest")),
      field("Ensemble models", this.ensemble),
      field("Ensemble aggregation", this.aggregation),
      field("Debate: Pro, Con, Judge", this.debate),
      field("Council models", this.council),
      h("div", { class: "option-row" }, h("button", { type: "submit" }, "Save defaults"),
        h("p", { class: "error", role: "alert", hidden: true }))));
  }

  listSelects(values, label) {
    return Array.from({ length: LIST_SLOTS }, (_, i) =>
      this.catalog.modelSelect((values || [])[i], { blank: "—", label: `${label} ${i + 1}` }));
  }

  body() {
    const list = (selects) => {
      const chosen = selects.map((s) => s.value).filter(Boolean);
      return chosen.length ? chosen : null;
    };
    const ensemble = list(this.ensemble);
    if (ensemble && ensemble.length < 2) throw new Error("An ensemble needs at least two models.");
    const [pro, con, judge] = this.debate.map((s) => s.value || null);
    return {
      default_model: this.defaultModel.value || null,
      cost_preference: this.costDefault.checked ? null : Number(this.cost.value),
      ensemble_models: ensemble,
      ensemble_aggregation: this.aggregation.value || null,
      debate_models: pro || con || judge ? { pro, con, judge } : null,
      council_models: list(this.council),
    };
  }

  async save() {
    const error = this.el.querySelector(".error");
    error.hidden = true;
    try {
      this.settings = await this.api.patch("/v1/settings", this.body());
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
      return;
    }
    this.onSaved(this.settings);
    announce("Defaults saved");
    this.el.querySelector("button[type=submit]").textContent = "Saved";
    setTimeout(() => {
      const button = this.el.querySelector("button[type=submit]");
      if (button) button.textContent = "Save defaults";
    }, 1500);
  }
}
