// Settings › Usage: the period's queries, tokens and cost, charted by day and by model.
// Only what GET /v1/usage returns is shown; nothing is estimated in the browser.

import { h, formatCost, formatDate, formatTokens } from "./dom.js";
import { barChart, columnChart } from "./chart.js";

const TOKEN_SERIES = ["input", "output"];

/** The numbers of one breakdown row, whatever its label field. */
function figures(item) {
  const tokens = item.tokens || {};
  return {
    input: Number(tokens.input ?? item.input_tokens ?? item.prompt_tokens ?? 0),
    output: Number(tokens.output ?? item.output_tokens ?? item.completion_tokens ?? 0),
    cost: Number(item.cost_usd ?? 0),
    requests: item.requests ?? item.queries ?? item.calls ?? null,
  };
}

function stat(label, value) {
  return h("div", { class: "stat" }, h("span", { class: "stat-label" }, label),
    h("span", { class: "stat-value" }, value));
}

function table(caption, labelName, rows) {
  return h("table", { class: "data" }, h("caption", {}, caption),
    h("thead", {}, h("tr", {}, [labelName, "Requests", "Input tokens", "Output tokens", "Cost"]
      .map((text) => h("th", { scope: "col" }, text)))),
    h("tbody", {}, rows.map(({ label, f }) => h("tr", {},
      h("th", { scope: "row" }, label), h("td", {}, f.requests ?? "—"),
      h("td", {}, String(f.input)), h("td", {}, String(f.output)), h("td", {}, formatCost(f.cost))))));
}

function breakdown(title, labelName, items, labelOf, chart) {
  const rows = items.map((item) => ({ label: String(labelOf(item)), f: figures(item) }));
  if (!rows.length) return h("p", { class: "hint" }, `No usage by ${labelName.toLowerCase()} yet.`);
  const tokenRows = rows.map(({ label, f }) => ({ label, values: [f.input, f.output] }));
  const costRows = rows.map(({ label, f }) => ({ label, values: [f.cost] }));
  return h("section", { class: "breakdown" }, h("h3", {}, title),
    h("div", { class: "charts" },
      chart(`Tokens by ${labelName.toLowerCase()}`, TOKEN_SERIES, tokenRows, formatTokens),
      chart(`Cost by ${labelName.toLowerCase()}`, ["cost"], costRows, formatCost)),
    table(`${title} in numbers`, labelName, rows));
}

export class UsagePanel {
  constructor(api, onError) {
    this.api = api;
    this.onError = onError;
    this.el = h("div", { class: "usage" });
  }

  async load() {
    let usage;
    try {
      usage = await this.api.optional("/v1/usage");
    } catch (error) {
      this.onError(error);
      return;
    }
    if (!usage) {
      this.el.replaceChildren(h("p", { class: "hint" }, "This server does not report usage yet."));
      return;
    }
    this.render(usage);
  }

  render(usage) {
    const queries = usage.queries || {};
    const tokens = usage.tokens || {};
    const period = usage.period || {};
    const parts = [
      h("div", { class: "stats" },
        stat("Tier", usage.tier || "—"),
        stat("Period", `${formatDate(period.start)} – ${formatDate(period.end)}`),
        stat("Queries", `${queries.used ?? 0} / ${queries.limit ?? "unlimited"}`),
        stat("Tokens", `${formatTokens(tokens.input)} in · ${formatTokens(tokens.output)} out`),
        stat("Cost", formatCost(usage.cost_usd))),
    ];
    if (Array.isArray(usage.by_day)) {
      parts.push(breakdown("By day", "Day", usage.by_day,
        (item) => item.date || item.day, columnChart));
    }
    parts.push(breakdown("By model", "Model", usage.by_model || [], (item) => item.model, barChart));
    if (Array.isArray(usage.by_mode) && usage.by_mode.length) {
      parts.push(breakdown("By mode", "Mode", usage.by_mode, (item) => item.mode, barChart));
    }
    this.el.replaceChildren(...parts);
  }
}
