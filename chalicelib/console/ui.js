// Small DOM helpers. Text always goes in as text (never as HTML), so nothing the API
// returns can run as script.

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

export function statusLine() {
  return h("p", { class: "status", role: "status", "aria-live": "polite" });
}

export function say(el, text, kind = "ok") {
  el.textContent = text;
  el.dataset.kind = kind;
}

// A list that pages with the API's cursors: `load(cursor)` returns {items, next_cursor};
// `row(item)` renders one. "更多 More" appends the next page.
export function pagedList({ label, load, row, empty }) {
  const list = h("div", { class: "list", role: "list", "aria-label": label });
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "加载更多 Load more");
  const status = statusLine();
  let cursor = null;
  async function page(reset) {
    if (reset) {
      list.replaceChildren();
      cursor = null;
    }
    more.disabled = true;
    say(status, "加载中… Loading…", "busy");
    try {
      const data = await load(cursor);
      for (const item of data.items) list.append(h("div", { role: "listitem" }, row(item)));
      cursor = data.next_cursor || null;
      more.hidden = !cursor;
      say(status, list.children.length ? "" : empty, "ok");
    } catch (err) {
      say(status, problemText(err), "error");
    } finally {
      more.disabled = false;
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
