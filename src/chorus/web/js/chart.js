// Bar charts drawn as SVG: stacked columns (by day) and stacked horizontal bars (by model).
// Colours come from CSS classes, so the charts follow the light or dark theme.

import { h, svg } from "./dom.js";

const WIDTH = 480;

function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 2.5, 5, 10].find((m) => m * power >= value);
  return step * power;
}

function legend(series) {
  if (series.length < 2) return null;
  return h("ul", { class: "legend" }, series.map((name, index) =>
    h("li", {}, h("span", { class: `swatch series-${index}` }), name)));
}

function tooltip(label, series, values, format) {
  return `${label}: ${values.map((v, i) => `${series[i]} ${format(v)}`).join(", ")}`;
}

/**
 * Columns, one per row, stacking the row's values. rows: [{label, values: [..]}], series:
 * the names of the values, format: how a value reads.
 */
export function columnChart(title, series, rows, format) {
  const height = 200;
  const pad = { top: 12, right: 8, bottom: 34, left: 70 };
  const max = niceMax(Math.max(0, ...rows.map((r) => r.values.reduce((a, b) => a + b, 0))));
  const plotW = WIDTH - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const slot = plotW / Math.max(rows.length, 1);
  const barW = Math.max(2, Math.min(40, slot * 0.7));
  const y = (v) => pad.top + plotH - (v / max) * plotH;
  const grid = [0, 0.5, 1].map((f) => [
    svg("line", { x1: pad.left, x2: WIDTH - pad.right, y1: y(max * f), y2: y(max * f), class: "grid" }),
    svg("text", { x: pad.left - 6, y: y(max * f) + 4, class: "axis", "text-anchor": "end" },
      format(max * f)),
  ]);
  const labelEvery = Math.ceil(rows.length / 10);
  const bars = rows.map((row, index) => {
    const x = pad.left + slot * index + (slot - barW) / 2;
    let base = 0;
    const parts = row.values.map((value, s) => {
      const rect = svg("rect", { x, width: barW, y: y(base + value),
        height: Math.max(0, y(base) - y(base + value)), class: `series-${s}` });
      base += value;
      return rect;
    });
    // Dates read as MM-DD under the columns; the tooltip keeps the full label.
    const short = /^\d{4}-\d\d-\d\d$/.test(row.label) ? row.label.slice(5) : row.label;
    const label = index % labelEvery === 0 ? svg("text", { x: x + barW / 2, y: height - pad.bottom + 16,
      class: "axis", "text-anchor": "middle" }, short) : null;
    return svg("g", { class: "bar" }, svg("title", {}, tooltip(row.label, series, row.values, format)),
      parts, label);
  });
  return h("figure", { class: "chart" }, h("figcaption", {}, title),
    svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, role: "img", "aria-label": title }, grid, bars),
    legend(series));
}

/** Horizontal bars, one per row, stacking the row's values; labels on the left. */
export function barChart(title, series, rows, format) {
  const rowH = 26;
  const pad = { top: 6, right: 80, bottom: 6, left: 150 };
  const height = pad.top + pad.bottom + rowH * Math.max(rows.length, 1);
  const max = niceMax(Math.max(0, ...rows.map((r) => r.values.reduce((a, b) => a + b, 0))));
  const plotW = WIDTH - pad.left - pad.right;
  const bars = rows.map((row, index) => {
    const top = pad.top + index * rowH;
    let base = 0;
    const parts = row.values.map((value, s) => {
      const rect = svg("rect", { x: pad.left + (base / max) * plotW, y: top + 4,
        width: (value / max) * plotW, height: rowH - 8, class: `series-${s}` });
      base += value;
      return rect;
    });
    const name = row.label.length > 22 ? `${row.label.slice(0, 21)}…` : row.label;
    return svg("g", { class: "bar" },
      svg("title", {}, tooltip(row.label, series, row.values, format)),
      svg("text", { x: pad.left - 8, y: top + rowH / 2 + 4, class: "axis", "text-anchor": "end" }, name),
      parts,
      svg("text", { x: pad.left + (base / max) * plotW + 6, y: top + rowH / 2 + 4, class: "axis" },
        format(base)));
  });
  return h("figure", { class: "chart" }, h("figcaption", {}, title),
    svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, role: "img", "aria-label": title }, bars),
    legend(series));
}
