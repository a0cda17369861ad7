// Small DOM helpers. Text always goes in as text (never as HTML), so nothing the API
// returns can run as script.

import { newIdempotencyKey } from "./api.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// Integer fen → "¥12.34" (no floats on the way).
export function yuan(fen) {
  const n = Number(fen);
  const sign = n < 0 ? "-" : "";
  const abs = Math.abs(n);
  return `${sign}¥${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}

export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} 秒 s`;
  if (s < 3600) return `${Math.floor(s / 60)} 分钟 min`;
  if (s < 86400) return `${Math.floor(s / 3600)} 小时 h ${Math.floor((s % 3600) / 60)} 分 min`;
  return `${Math.floor(s / 86400)} 天 d ${Math.floor((s % 86400) / 3600)} 小时 h`;
}

export function when(iso) {
  if (!iso) return "—";
  return iso.replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC");
}

// A problem+json error is shown as its `detail` (and the field messages, if any).
export function problemText(err) {
  const fields = (err.errors || []).map((e) => `${e.field}: ${e.message}`);
  return [err.message || String(err), ...fields].join(" · ");
}

// The API returns people's free text HTML-escaped (Python's html.escape): decode those five
// entities back to the characters the person typed; the result only ever goes in as text.
const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'", "&#39;": "'" };
export function unescapeHtml(text) {
  return String(text ?? "").replace(/&(?:amp|lt|gt|quot|#x27|#39);/g, (m) => ENTITIES[m]);
}

export function statusLine() {
  return h("p", { class: "status", role: "status", "aria-live": "polite" });
}

export function say(el, text, kind = "ok") {
  el.textContent = text;
  el.dataset.kind = kind;
}

// A note and one submit button per choice ([value, label, class]); `decide(decision, note,
// idempotencyKey)` calls the API and returns the text to show. One key per decision: a retry
// after a lost answer replays it instead of deciding twice.
export function decisionForm({ choices, decide, note, label }) {
  const buttons = choices.map(([value, text, cls]) => h("button", { type: "submit", value, class: cls || null }, text));
  const status = statusLine();
  const keys = {};
  const form = h("form", { class: "decide", "aria-label": label || null },
    h("label", {}, "备注 Note ", note), h("div", { class: "actions" }, buttons), status);
  const enable = (on) => buttons.forEach((b) => { b.disabled = !on; });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const decision = event.submitter ? event.submitter.value : choices[0][0];
    keys[decision] ||= newIdempotencyKey();
    enable(false);
    say(status, "提交中… Submitting…", "busy");
    try {
      say(status, await decide(decision, note.value.trim(), keys[decision]), "ok");
    } catch (err) {
      say(status, problemText(err), "error");
      enable(true);
    }
  });
  return form;
}

// A list that pages with the API's cursors: `load(cursor)` returns {items, next_cursor};
// `row(item)` renders one. "更多 More" appends the next page; `reload()` starts over, and
// an answer to a load that a later reload overtook is dropped (no item shown twice).
export function pagedList({ label, load, row, empty }) {
  const list = h("div", { class: "list", role: "list", "aria-label": label });
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "加载更多 Load more");
  const status = statusLine();
  let cursor = null;
  let generation = 0;
  async function page(reset) {
    if (reset) generation += 1;
    const mine = generation;
    more.disabled = true;
    say(status, "加载中… Loading…", "busy");
    try {
      const data = await load(reset ? null : cursor);
      if (mine !== generation) return;
      if (reset) list.replaceChildren();
      for (const item of data.items) list.append(h("div", { role: "listitem" }, row(item)));
      cursor = data.next_cursor || null;
      more.hidden = !cursor;
      say(status, list.children.length ? "" : empty, "ok");
    } catch (err) {
      if (mine === generation) say(status, problemText(err), "error");
    } finally {
      if (mine === generation) more.disabled = false;
    }
  }
  more.addEventListener("click", () => page(false));
  return { element: h("div", { class: "paged" }, list, status, more), reload: () => page(true) };
}

export const ORDER_STATUS = {
  placed: "待发货 placed",
  paid: "已付款 paid",
  shipped: "已发货 shipped",
  received: "已收货 received",
  return_requested: "退货中 return requested",
  returned: "已退货 returned",
  completed: "已完成 completed",
  cancelled: "已取消 cancelled",
  overdue: "逾期 overdue",
  awaiting_confirmation: "待确认 awaiting confirmation",
  awaiting_payment: "待付款 awaiting payment",
};
