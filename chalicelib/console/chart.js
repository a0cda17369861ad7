// A daily bar chart in plain SVG (no library): one group of bars per day, one bar per
// series. The numbers are also in a table for screen readers and for reading exact values.

import { h, yuan } from "./ui.js";

const SVG = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

// The last `days` China-time dates ending with `end` (a Date), oldest first, as YYYY-MM-DD.
export function lastDays(end, days) {
  const out = [];
  for (let i = days - 1; i >= 0; i -= 1) {
    out.push(chinaDate(new Date(end.getTime() - i * 86400000)));
  }
  return out;
}

export function chinaDate(date) {
  return new Date(date.getTime() + 8 * 3600000).toISOString().slice(0, 10);
}

// series: [{name, className, values: {date: fen}}]
export function dailyBars({ title, dates, series }) {
  const width = 720;
  const height = 220;
  const pad = { left: 64, right: 8, top: 12, bottom: 28 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const max = Math.max(1, ...series.flatMap((x) => dates.map((d) => Math.abs(x.values[d] || 0))));
  const groupW = plotW / dates.length;
  const barW = Math.max(1, (groupW * 0.8) / Math.max(1, series.length));
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": "chart-title", class: "chart" });
  svg.append(s("title", { id: "chart-title" }, title));
  for (const frac of [0, 0.5, 1]) {
    const y = pad.top + plotH * (1 - frac);
    svg.append(s("line", { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: "grid" }));
    svg.append(s("text", { x: pad.left - 6, y: y + 4, class: "axis", "text-anchor": "end" }, yuan(Math.round(max * frac))));
  }
  dates.forEach((date, i) => {
    series.forEach((x, j) => {
      const value = Math.abs(x.values[date] || 0);
      if (!value) return;
      const barH = (value / max) * plotH;
      const rect = s("rect", {
        x: pad.left + i * groupW + groupW * 0.1 + j * barW,
        y: pad.top + plotH - barH,
        width: barW,
        height: barH,
        class: `bar ${x.className}`,
        "data-date": date,
      });
      rect.append(s("title", {}, `${date} ${x.name}: ${yuan(x.values[date])}`));
      svg.append(rect);
    });
    if (i % 7 === dates.length % 7 || i === dates.length - 1) {
      svg.append(s("text", { x: pad.left + i * groupW + groupW / 2, y: height - 8, class: "axis", "text-anchor": "middle" }, date.slice(5)));
    }
  });
  const legend = h("ul", { class: "legend" }, series.map((x) => h("li", { class: x.className }, x.name)));
  const rows = dates
    .filter((d) => series.some((x) => x.values[d]))
    .map((d) => h("tr", {}, h("th", { scope: "row" }, d), series.map((x) => h("td", {}, yuan(x.values[d] || 0)))));
  const table = h("details", { class: "chart-data" },
    h("summary", {}, "数据 Data"),
    h("div", { class: "scroll" }, h("table", {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "日期 Date"), series.map((x) => h("th", { scope: "col" }, x.name)))),
      h("tbody", {}, rows))));
  return h("figure", { class: "chart-box" }, svg, legend, table);
}
