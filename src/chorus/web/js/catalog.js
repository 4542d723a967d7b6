// What the composer and settings offer: models, personas and the user's default models.
// Endpoints this server does not have (yet) answer 404 and simply leave their part out.

import { h } from "./dom.js";

export class Catalog {
  constructor(api) {
    this.api = api;
    this.models = [];
    this.personas = null;
    this.settings = null;
  }

  async load() {
    const [models, personas, settings] = await Promise.all([
      this.api.get("/v1/models"),
      this.api.optional("/v1/personas"),
      this.api.optional("/v1/settings"),
    ]);
    // Pattern models (konnect-ensemble, ...) are modes, not models a slot can hold.
    this.models = models.data.filter((m) => !(m.konnect && m.konnect.pattern)).map((m) => m.id);
    this.personas = personas ? personas.personas : null;
    this.settings = settings;
    return this;
  }

  /** The user's default models for a mode, else the first models of the catalog. */
  defaultsFor(mode) {
    const s = this.settings || {};
    const pick = (count) => Array.from({ length: count },
      (_, i) => this.models[i % Math.max(this.models.length, 1)] || "");
    if (mode === "ensemble") return s.ensemble_models && s.ensemble_models.length
      ? [...s.ensemble_models] : pick(2);
    if (mode === "debate") {
      const d = s.debate_models || {};
      const base = pick(3);
      return [d.pro || base[0], d.con || base[1], d.judge || base[2]];
    }
    if (mode === "council") return s.council_models ? [...s.council_models] : [];
    return [];
  }

  /** A <select> of models; `blank` labels an empty first choice (the server decides). */
  modelSelect(value, { blank = null, label = "Model", id = null } = {}) {
    const options = [];
    if (blank !== null) options.push(h("option", { value: "" }, blank));
    const ids = value && !this.models.includes(value) ? [value, ...this.models] : this.models;
    for (const model of ids) options.push(h("option", { value: model }, model));
    const select = h("select", { "aria-label": label, id }, options);
    select.value = value || "";
    return select;
  }

  /** A <select> of personas, or null when this server has no personas endpoint. */
  personaSelect(value, label = "Persona") {
    if (!this.personas) return null;
    const groups = new Map();
    for (const persona of this.personas) {
      const group = persona.category || "other";
      if (!groups.has(group)) groups.set(group, []);
      groups.get(group).push(h("option", { value: persona.id, title: persona.description || "" },
        persona.name || persona.id));
    }
    const select = h("select", { "aria-label": label, class: "persona" },
      h("option", { value: "" }, "No persona"),
      [...groups].map(([group, options]) =>
        h("optgroup", { label: group.replace(/_/g, " ") }, options)));
    select.value = value || "";
    return select;
  }
}
