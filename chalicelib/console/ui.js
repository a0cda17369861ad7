// Small DOM helpers. Text always goes in as text (never as HTML), so nothing the API
// returns can run as script.

import { newIdempotencyKey } from "./api.js";
import { keepDraft } from "./nav.js";

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

// An API timestamp (UTC) in China time, as the console shows every time: "2026-12-08 09:30:00 (UTC+8)".
const CHINA = 8 * 3600 * 1000;
export function when(iso) {
  if (!iso) return "—";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return String(iso);
  return `${new Date(t + CHINA).toISOString().slice(0, 19).replace("T", " ")} (UTC+8)`;
}

// A problem+json error is shown as its `detail` (and the field messages, as given).
export function problemText(err) {
  const fields = (err.errors || []).map((e) => `${e.field}: ${e.message}`);
  return [err.message || String(err), ...fields].join(" · ");
}

// Field errors beside their fields (a form's control named like the error's `field`); a
// new submission clears the last one's, so no stale error of another field stays.
export function clearFieldErrors(form) {
  for (const el of form.querySelectorAll(".field-error")) el.remove();
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

export function showFieldErrors(form, err) {
  for (const e of err.errors || []) {
    const field = form.querySelector(`[name="${CSS.escape(String(e.field))}"]`);
    if (!field) continue;
    field.setAttribute("aria-invalid", "true");
    field.after(h("span", { class: "field-error", role: "alert" }, e.message));
  }
}

// A form's submission: the last answer's field errors cleared, the button off while the
// API answers, then `run()`'s text shown, or the problem (and its field errors beside their
// fields). A check before the call throws an Error whose message is shown. `once`: the button
// stays off after a success (a shipment is sent once).
export function onSubmit(form, submit, status, run, { busy = "提交中… Submitting…", once = false } = {}) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    submit.disabled = true;
    say(status, busy, "busy");
    let done = false;
    try {
      say(status, await run(), "ok");
      done = true;
    } catch (err) {
      say(status, problemText(err), "error");
      showFieldErrors(form, err);
    } finally {
      submit.disabled = once && done;
    }
  });
}

// A hint beside a field's label (the format it expects), read with the field by screen readers.
let hints = 0;
export function hint(field, text) {
  hints += 1;
  const id = `hint-${hints}`;
  field.setAttribute("aria-describedby", id);
  return h("small", { class: "hint", id }, text);
}

// "29.90" (yuan, as typed) → 2990 fen, from the decimal digits (no float on the way); null
// when it is not an amount with at most two decimals.
export function fenFromYuan(text) {
  const m = /^\s*(\d{1,10})(?:\.(\d{1,2}))?\s*$/.exec(String(text));
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] || "").padEnd(2, "0"));
}

export function yuanDigits(fen) {
  return yuan(fen).replace("¥", "");
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
// after a lost answer replays it instead of deciding twice. A 409 (someone else decided
// first) calls `onConflict(err)`, which reloads the item so it shows its real status. The
// note is a draft kept across a sign-in (`draftKey`).
export function decisionForm({ choices, decide, note, label, onConflict, draftKey }) {
  const draft = draftKey ? keepDraft(note, draftKey) : null;
  const buttons = choices.map(([value, text, cls]) => h("button", { type: "submit", value, class: cls || null }, text));
  const status = statusLine();
  const keys = {};
  const form = h("form", { class: "decide", "aria-label": label || null },
    h("label", {}, "备注 Note ", note), h("div", { class: "actions" }, buttons), status);
  const enable = (on) => buttons.forEach((b) => { b.disabled = !on; });
  // Enter in a one-line note would submit the first choice (approve) while still typing: a
  // decision is only ever a press of its own button.
  note.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && note.tagName === "INPUT") event.preventDefault();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const decision = event.submitter ? event.submitter.value : choices[0][0];
    keys[decision] ||= newIdempotencyKey();
    enable(false);
    say(status, "提交中… Submitting…", "busy");
    try {
      say(status, await decide(decision, note.value.trim(), keys[decision]), "ok");
      if (draft) draft.clear();
    } catch (err) {
      say(status, problemText(err), "error");
      if (err.status === 409 && onConflict) onConflict(err);
      else enable(true);
    }
  });
  return form;
}

// A list that pages with the API's cursors: `load(cursor)` returns {items, next_cursor};
// `row(item)` renders one. "更多 More" appends the next page; `reload()` starts over, and
// an answer to a load that a later reload overtook is dropped (no item shown twice).
export function pagedList({ label, load, row, empty }) {
  let reloadList = null;
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
      for (const item of data.items) list.append(h("div", { role: "listitem" }, row(item, reloadList)));
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
  reloadList = () => page(true);
  return { element: h("div", { class: "paged" }, list, status, more), reload: reloadList };
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
  risk_review: "风控审核中 risk review",
};
