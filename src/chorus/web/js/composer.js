// The composer: the message box and the mode picker with each mode's options.

import { h, $, icon } from "./dom.js";
import { aggregationLabel } from "./answer.js";

const AGGREGATIONS = ["synthesis", "best_of_n", "consensus", "union"];
const DEBATE_SIDES = ["Pro", "Con", "Judge"];
const MIN_SLOTS = 2;
const MAX_SLOTS = 5;
const MIN_ROLES = 2;
const MAX_ROLES = 8;
const DEFAULT_PANEL = "The default panel: Domain Expert, Devil's Advocate, Practical "
  + "Implementer and Strategic Thinker, then a Synthesizer.";

export class Composer {
  /** onSend(text) is called with the message; it returns a promise. */
  constructor(catalog, onSend, onStop) {
    this.catalog = catalog;
    this.onSend = onSend;
    this.onStop = onStop;
    this.form = $("#composer");
    this.input = $("#composer-input");
    this.modeSelect = $("#mode");
    this.options = $("#mode-options");
    this.details = $("#mode-details");
    this.summary = $("#mode-summary");
    this.lockNote = $("#mode-lock");
    this.error = $("#composer-error");
    this.sendButton = $("#send");
    this.stopButton = $("#stop");
    this.locked = null;
    this.busy = false;
    this.state = this.initialState();
    this.wire();
    this.render();
  }

  initialState() {
    const slots = (models) => models.map((model) => ({ model, persona: "" }));
    return {
      smart_chat: { model: "", persona: "" },
      ensemble: { slots: slots(this.catalog.defaultsFor("ensemble")),
                  aggregation: (this.catalog.settings || {}).ensemble_aggregation || "synthesis" },
      debate: { slots: slots(this.catalog.defaultsFor("debate")) },
      council: { custom: false, roles: [
        { name: "", perspective: "", model: "" }, { name: "", perspective: "", model: "" }] },
    };
  }

  wire() {
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      } else if (event.key === "Escape" && this.busy) {
        this.onStop();
      }
    });
    this.input.addEventListener("input", () => this.grow());
    this.modeSelect.addEventListener("change", () => this.render());
    this.options.addEventListener("change", () => this.summarize());
    this.options.addEventListener("input", () => this.summarize());
    this.stopButton.addEventListener("click", () => this.onStop());
  }

  get mode() {
    return this.modeSelect.value;
  }

  grow() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 240)}px`;
  }

  /** Fix mode and aggregation to the open session's (null unlocks, for a new chat). */
  lock(session) {
    this.locked = session && session.mode ? session : null;
    if (this.locked) {
      this.modeSelect.value = this.locked.mode;
      if (this.locked.aggregation) this.state.ensemble.aggregation = this.locked.aggregation;
    }
    this.modeSelect.disabled = Boolean(this.locked);
    this.lockNote.hidden = !this.locked;
    // Once a chat runs, its options fold into one line to leave room for the answers.
    this.details.open = !this.locked;
    this.render();
  }

  setBusy(busy) {
    this.busy = busy;
    this.sendButton.hidden = busy;
    this.stopButton.hidden = !busy;
    this.form.dataset.busy = busy ? "true" : "false";
  }

  showError(message) {
    this.error.textContent = message || "";
    this.error.hidden = !message;
  }

  async submit() {
    const text = this.input.value;
    if (this.busy || !text.trim()) return;
    let body;
    try {
      body = this.request();
    } catch (error) {
      this.showError(error.message);
      return;
    }
    this.showError("");
    this.input.value = "";
    this.grow();
    try {
      await this.onSend(text, body, this.mode);
    } catch (error) {
      // Nothing was stored: give the text back so it can be sent again.
      this.input.value = text;
      this.grow();
      this.showError(error.message);
    }
    this.input.focus();
  }

  /** The /v1/chat body for the current mode's options; throws a readable Error if unfinished. */
  request() {
    const mode = this.mode;
    const body = { mode };
    const personas = (slots) => slots.filter((s) => s.persona && s.model)
      .map((s) => ({ personaId: s.persona, modelId: s.model }));
    if (mode === "smart_chat") {
      const { model, persona } = this.state.smart_chat;
      if (model) body.model = model;
      if (model && persona) body.personas = [{ personaId: persona, modelId: model }];
    } else if (mode === "ensemble" || mode === "debate") {
      const { slots } = this.state[mode];
      if (slots.some((s) => !s.model)) throw new Error("Choose a model for every slot.");
      if (mode === "ensemble" && new Set(slots.map((s) => s.model)).size < slots.length) {
        // Two slots of one model would stream as the same member, indistinguishable.
        throw new Error("Choose a different model for each slot.");
      }
      body.models = slots.map((s) => s.model);
      const chosen = personas(slots);
      const byModel = new Map(chosen.map((p) => [p.modelId, p.personaId]));
      if (chosen.some((p) => byModel.get(p.modelId) !== p.personaId)) {
        throw new Error("A persona applies to every slot of its model: give slots that share "
          + "a model the same persona.");
      }
      if (byModel.size) {
        body.personas = [...byModel].map(([modelId, personaId]) => ({ personaId, modelId }));
      }
      if (mode === "ensemble" && !this.locked) body.aggregation = this.state.ensemble.aggregation;
    } else if (mode === "council" && this.state.council.custom) {
      const { roles } = this.state.council;
      if (roles.some((r) => !r.name.trim() || !r.perspective.trim())) {
        throw new Error("Give every expert a name and a perspective.");
      }
      body.roles = roles.map((r) => ({ name: r.name.trim(), perspective: r.perspective.trim() }));
      if (roles.every((r) => r.model)) body.models = roles.map((r) => r.model);
      else if (roles.some((r) => r.model)) {
        throw new Error("Choose a model for every expert, or leave them all on Default.");
      }
    }
    return body;
  }

  render() {
    const build = {
      smart_chat: () => this.smartOptions(), ensemble: () => this.ensembleOptions(),
      debate: () => this.debateOptions(), council: () => this.councilOptions(),
    }[this.mode];
    this.options.replaceChildren(...build());
    this.options.dataset.mode = this.mode;
    this.summarize();
  }

  /** The options in one line, shown while they are folded. */
  summarize() {
    const withPersona = (slot) => (slot.persona ? `${slot.model} (${slot.persona})` : slot.model);
    const { smart_chat: smart, ensemble, debate, council } = this.state;
    const text = {
      smart_chat: () => (smart.model ? withPersona(smart) : "Model chosen by the router"),
      ensemble: () => `${ensemble.slots.map(withPersona).join(", ")} · ${
        aggregationLabel(ensemble.aggregation)}`,
      debate: () => ["Pro", "Con", "Judge"].map(
        (side, i) => `${side}: ${withPersona(debate.slots[i])}`).join(" · "),
      council: () => (council.custom
        ? `Experts: ${council.roles.map((r) => r.name.trim() || "unnamed").join(", ")}`
        : "The default panel of experts"),
    }[this.mode]();
    this.summary.textContent = text;
  }

  smartOptions() {
    const state = this.state.smart_chat;
    const model = this.catalog.modelSelect(state.model, { blank: "Auto (routed)", label: "Model" });
    const persona = this.catalog.personaSelect(state.persona);
    model.addEventListener("change", () => {
      state.model = model.value;
      if (persona) persona.disabled = !model.value;
    });
    const row = [h("label", { class: "field" }, h("span", {}, "Model"), model)];
    if (persona) {
      persona.disabled = !state.model;
      persona.title = "A persona applies to a chosen model";
      persona.addEventListener("change", () => { state.persona = persona.value; });
      row.push(h("label", { class: "field" }, h("span", {}, "Persona"), persona));
    }
    return [h("div", { class: "option-row" }, row)];
  }

  slotRow(slot, label, { removable = false, onRemove = null } = {}) {
    const model = this.catalog.modelSelect(slot.model, { label: `${label} model` });
    model.addEventListener("change", () => { slot.model = model.value; });
    const persona = this.catalog.personaSelect(slot.persona, `${label} persona`);
    persona?.addEventListener("change", () => { slot.persona = persona.value; });
    return h("div", { class: "slot" },
      h("span", { class: "slot-label" }, label), model, persona,
      removable ? h("button", { type: "button", class: "icon", "aria-label": `Remove ${label}`,
                                title: `Remove ${label}`, onclick: onRemove }, icon("close")) : null);
  }

  ensembleOptions() {
    const state = this.state.ensemble;
    const slots = state.slots.map((slot, index) => this.slotRow(slot, `Model ${index + 1}`, {
      removable: state.slots.length > MIN_SLOTS,
      onRemove: () => { state.slots.splice(index, 1); this.render(); },
    }));
    const add = h("button", { type: "button", class: "ghost", disabled: state.slots.length >= MAX_SLOTS,
      onclick: () => {
        state.slots.push({ model: this.catalog.models[state.slots.length % this.catalog.models.length] || "",
                           persona: "" });
        this.render();
        this.options.querySelector(".slot:last-of-type select")?.focus();
      } }, "+ Add model");
    const aggregation = h("select", { "aria-label": "Aggregation", disabled: Boolean(this.locked) },
      AGGREGATIONS.map((name) => h("option", { value: name }, aggregationLabel(name))));
    aggregation.value = state.aggregation;
    aggregation.addEventListener("change", () => { state.aggregation = aggregation.value; });
    return [h("div", { class: "slots" }, slots),
      h("div", { class: "option-row" }, add,
        h("label", { class: "field" }, h("span", {}, "Aggregation"), aggregation),
        this.locked ? h("span", { class: "hint" }, "fixed by the first message") : null)];
  }

  debateOptions() {
    return [h("div", { class: "slots" },
      this.state.debate.slots.map((slot, index) => this.slotRow(slot, DEBATE_SIDES[index])))];
  }

  councilOptions() {
    const state = this.state.council;
    const toggle = h("input", { type: "checkbox", checked: state.custom });
    toggle.addEventListener("change", () => { state.custom = toggle.checked; this.render(); });
    const head = h("label", { class: "check" }, toggle, "Choose the experts");
    if (!state.custom) return [head, h("p", { class: "hint" }, DEFAULT_PANEL)];
    const rows = state.roles.map((role, index) => {
      const name = h("input", { type: "text", value: role.name, placeholder: "Name",
                                "aria-label": `Expert ${index + 1} name`, maxLength: 100 });
      const perspective = h("input", { type: "text", value: role.perspective,
        placeholder: "Perspective", "aria-label": `Expert ${index + 1} perspective` });
      const model = this.catalog.modelSelect(role.model, { blank: "Default",
                                                           label: `Expert ${index + 1} model` });
      name.addEventListener("input", () => { role.name = name.value; });
      perspective.addEventListener("input", () => { role.perspective = perspective.value; });
      model.addEventListener("change", () => { role.model = model.value; });
      return h("div", { class: "slot role" }, name, perspective, model,
        state.roles.length > MIN_ROLES ? h("button", { type: "button", class: "icon",
          "aria-label": `Remove expert ${index + 1}`,
          onclick: () => { state.roles.splice(index, 1); this.render(); } }, icon("close")) : null);
    });
    const add = h("button", { type: "button", class: "ghost",
      disabled: state.roles.length >= MAX_ROLES,
      onclick: () => {
        state.roles.push({ name: "", perspective: "", model: "" });
        this.render();
        this.options.querySelector(".role:last-of-type input")?.focus();
      } }, "+ Add expert");
    return [head, h("div", { class: "slots" }, rows), h("div", { class: "option-row" }, add,
      h("span", { class: "hint" }, "A Synthesizer is always added."))];
  }
}
