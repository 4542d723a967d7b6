// Settings › Usage: the period's queries, tokens and cost, charted by day and by model.
// Only what GET /v1/usage returns is shown; nothing is estimated in the browser.

import { h, formatCost, formatTokens } from "./dom.js";
import { barChart, columnChart } from "./chart.js";

const TOKEN_SERIES = ["input", "output"];

const DAY_MS = 86_400_000;

/** The numbers of one breakdown group ({queries, calls, failed_calls, tokens, cost_usd}). */
function figures(item) {
  const tokens = item.tokens || {};
  return {
    input: Number(tokens.input || 0),
    output: Number(tokens.output || 0),
    cost: Number(item.cost_usd || 0),
    queries: Number(item.queries || 0),
    calls: Number(item.calls || 0),
    failed: Number(item.failed_calls || 0),
  };
}

/**
 * Every day of the period up to today: the API lists only days with records, and a day
 * without records really had zero usage, so the chart reads as a timeline.
 */
function everyDay(byDay, period) {
  const known = new Map(byDay.map((group) => [group.date, group]));
  const start = Date.parse(period.start);
  const end = Math.min(Date.parse(period.end), Date.now());
  if (Number.isNaN(start) || Number.isNaN(end)) return byDay;
  const days = [];
  for (let t = start; t < end; t += DAY_MS) {
    const date = new Date(t).toISOString().slice(0, 10);
    days.push(known.get(date) || { date });
  }
  for (const group of byDay) if (!days.some((d) => d.date === group.date)) days.push(group);
  return days.sort((a, b) => a.date.localeCompare(b.date));
}

/** "Nov 1 – Nov 30, 2026": the period's end is exclusive, and its dates are UTC dates. */
function periodText(period) {
  const start = Date.parse(period.start);
  const end = Date.parse(period.end) - 1;
  if (Number.isNaN(start) || Number.isNaN(end)) return "—";
  const day = { month: "short", day: "numeric", timeZone: "UTC" };
  return `${new Date(start).toLocaleDateString(undefined, day)} – ${
    new Date(end).toLocaleDateString(undefined, { ...day, year: "numeric" })}`;
}

function stat(label, value) {
  return h("div", { class: "stat" }, h("span", { class: "stat-label" }, label),
    h("span", { class: "stat-value" }, value));
}

function table(caption, labelName, rows) {
  return h("table", { class: "data" }, h("caption", {}, caption),
    h("thead", {}, h("tr", {}, [labelName, "Queries", "Model calls", "Input tokens",
      "Output tokens", "Cost"].map((text) => h("th", { scope: "col" }, text)))),
    h("tbody", {}, rows.map(({ label, f }) => h("tr", {},
      h("th", { scope: "row" }, label), h("td", {}, String(f.queries)),
      h("td", {}, f.failed ? `${f.calls} (${f.failed} failed)` : String(f.calls)),
      h("td", {}, String(f.input)), h("td", {}, String(f.output)),
      h("td", {}, formatCost(f.cost))))));
}

function breakdown(title, labelName, items, labelOf, chart, tableItems = items) {
  const rows = items.map((item) => ({ label: String(labelOf(item)), f: figures(item) }));
  const tableRows = tableItems.map((item) => ({ label: String(labelOf(item)), f: figures(item) }));
  if (!tableRows.length) return h("p", { class: "hint" }, `No usage by ${labelName.toLowerCase()} yet.`);
  const tokenRows = rows.map(({ label, f }) => ({ label, values: [f.input, f.output] }));
  const costRows = rows.map(({ label, f }) => ({ label, values: [f.cost] }));
  return h("section", { class: "breakdown" }, h("h3", {}, title),
    h("div", { class: "charts" },
      chart(`Tokens by ${labelName.toLowerCase()}`, TOKEN_SERIES, tokenRows, formatTokens),
      chart(`Cost by ${labelName.toLowerCase()}`, ["cost"], costRows, formatCost)),
    table(`${title} in numbers`, labelName, tableRows));
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
        stat("Period", periodText(period)),
        stat("Queries", `${queries.used ?? 0} / ${queries.limit ?? "unlimited"}`),
        stat("Tokens", `${formatTokens(tokens.input)} in · ${formatTokens(tokens.output)} out`),
        stat("Cost", formatCost(usage.cost_usd))),
    ];
    if (Array.isArray(usage.by_day)) {
      parts.push(breakdown("By day", "Day", everyDay(usage.by_day, period),
        (item) => item.date, columnChart, usage.by_day));
    }
    parts.push(breakdown("By model", "Model", usage.by_model || [], (item) => item.model, barChart));
    if (Array.isArray(usage.by_mode) && usage.by_mode.length) {
      parts.push(breakdown("By mode", "Mode", usage.by_mode, (item) => item.mode, barChart));
    }
    this.el.replaceChildren(...parts);
  }
}
