// Merchant (商家): orders by status with a ship form, return requests to approve or reject,
// and settlements with a 30-day chart.

import { call } from "./api.js";
import { chinaDate, dailyBars, lastDays } from "./chart.js";
import { ORDER_STATUS, h, pagedList, problemText, say, statusLine, when, yuan } from "./ui.js";

const SHIPPABLE = new Set(["placed", "paid"]);
const RETURN_STATUS = { pending: "待处理 pending", approved: "已同意 approved", rejected: "已拒绝 rejected" };
const CARRIERS = [
  ["SF", "顺丰 SF Express"],
  ["YTO", "圆通 YTO"],
  ["ZTO", "中通 ZTO"],
  ["STO", "申通 STO"],
  ["YD", "韵达 Yunda"],
  ["EMS", "EMS"],
  ["JD", "京东 JD Logistics"],
];

function shipForm(order, onShipped) {
  const carrier = h("select", { name: "carrier", required: true }, CARRIERS.map(([v, t]) => h("option", { value: v }, t)));
  const tracking = h("input", {
    type: "text", name: "tracking_number", required: true, pattern: "[A-Za-z0-9\\-]{4,40}", autocomplete: "off",
  });
  const status = statusLine();
  const submit = h("button", { type: "submit" }, "发货 Ship");
  const form = h("form", { class: "ship" },
    h("label", {}, "快递公司 Carrier ", carrier),
    h("label", {}, "运单号 Tracking number ", tracking),
    submit, status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    say(status, "提交中… Submitting…", "busy");
    try {
      const shipped = await call("POST", `/v1/merchant/orders/${order.order_id}/shipment`, {
        body: { carrier: carrier.value, tracking_number: tracking.value.trim() },
      });
      say(status, `已发货 Shipped · ${shipped.status}`, "ok");
      onShipped(shipped);
    } catch (err) {
      say(status, problemText(err), "error");
      submit.disabled = false;
    }
  });
  return form;
}

function orderCard(order) {
  const titleId = `order-${order.order_id}`;
  const state = h("dd", { "data-status": order.status }, ORDER_STATUS[order.status] || order.status);
  const card = h("article", { class: "card order", "aria-labelledby": titleId },
    h("header", {}, h("h3", { id: titleId }, `订单 Order ${order.order_id}`), h("span", { class: "amount" }, yuan(order.total_fen))),
    h("dl", { class: "facts" },
      h("dt", {}, "状态 Status"), state,
      h("dt", {}, "件数 Items"), h("dd", {}, String(order.item_count)),
      h("dt", {}, "支付 Payment"), h("dd", {}, order.payment_method === "bnpl" ? "先用后付 BNPL" : order.payment_method),
      h("dt", {}, "下单 Placed"), h("dd", {}, when(order.created_at))));
  if (SHIPPABLE.has(order.status)) {
    card.append(shipForm(order, (shipped) => {
      state.textContent = ORDER_STATUS[shipped.status] || shipped.status;
      state.dataset.status = shipped.status;
    }));
  }
  return card;
}

function returnCard(r) {
  const titleId = `return-${r.request_id}`;
  const state = h("dd", {}, RETURN_STATUS[r.status] || r.status);
  const card = h("article", { class: "card return", "aria-labelledby": titleId },
    h("header", {}, h("h3", { id: titleId }, `退货申请 Return ${r.request_id}`), h("span", { class: "amount" }, yuan(r.amount_fen))),
    h("dl", { class: "facts" },
      h("dt", {}, "订单 Order"), h("dd", {}, r.order_id),
      h("dt", {}, "原因 Reason"), h("dd", {}, r.reason || "—"),
      h("dt", {}, "商品 Items"), h("dd", {}, r.items.map((i) => `${i.sku_id} × ${i.quantity}`).join(", ")),
      h("dt", {}, "状态 Status"), state,
      h("dt", {}, "申请于 Requested"), h("dd", {}, when(r.created_at))));
  if (r.status !== "pending") return card;
  const note = h("input", { type: "text", name: "note", maxlength: 200, autocomplete: "off" });
  const approve = h("button", { type: "submit", value: "approve" }, "同意退货 Approve");
  const reject = h("button", { type: "submit", value: "reject", class: "danger" }, "拒绝 Reject");
  const status = statusLine();
  const form = h("form", { class: "decide" }, h("label", {}, "备注 Note ", note), h("div", { class: "actions" }, approve, reject), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const decision = event.submitter ? event.submitter.value : "approve";
    approve.disabled = reject.disabled = true;
    say(status, "提交中… Submitting…", "busy");
    try {
      const done = await call("POST", `/v1/merchant/return-requests/${r.request_id}/decision`, {
        body: { decision, note: note.value.trim() },
      });
      state.textContent = RETURN_STATUS[done.status] || done.status;
      say(status, done.status === "approved" ? "已同意退货 Return approved" : "已拒绝 Return rejected", "ok");
    } catch (err) {
      say(status, problemText(err), "error");
      approve.disabled = reject.disabled = false;
    }
  });
  card.append(form);
  return card;
}

function ordersSection() {
  const filter = h("select", { name: "order-status" },
    h("option", { value: "" }, "全部 All"),
    Object.entries(ORDER_STATUS).map(([v, t]) => h("option", { value: v }, t)));
  filter.value = "placed";
  const list = pagedList({
    label: "订单 Orders",
    empty: "没有订单 No orders",
    load: (cursor) => call("GET", "/v1/merchant/orders", { query: { status: filter.value, limit: 20, cursor } }),
    row: orderCard,
  });
  filter.addEventListener("change", () => list.reload());
  list.reload();
  return h("section", { "aria-labelledby": "orders-title" },
    h("h3", { id: "orders-title" }, "订单 Orders"),
    h("div", { class: "toolbar" }, h("label", {}, "状态 Status ", filter)), list.element);
}

function returnsSection() {
  const filter = h("select", { name: "return-status" },
    h("option", { value: "pending" }, "待处理 Pending"),
    h("option", { value: "approved" }, "已同意 Approved"),
    h("option", { value: "rejected" }, "已拒绝 Rejected"),
    h("option", { value: "" }, "全部 All"));
  const list = pagedList({
    label: "退货申请 Return requests",
    empty: "没有退货申请 No return requests",
    load: (cursor) => call("GET", "/v1/merchant/return-requests", { query: { status: filter.value, limit: 20, cursor } }),
    row: returnCard,
  });
  filter.addEventListener("change", () => list.reload());
  list.reload();
  // Exchanges, arrival and reshipment (after-sale, second release) join this section when
  // the API has /v1/merchant/return-requests/{request_id}/arrival and .../reshipment.
  return h("section", { "aria-labelledby": "returns-title" },
    h("h3", { id: "returns-title" }, "退货 Returns"),
    h("div", { class: "toolbar" }, h("label", {}, "状态 Status ", filter)), list.element);
}

// Settlement entries of the 30 days up to now (or up to the newest entry, when the local
// stage's clock was moved ahead), newest first and a few pages at most, by China date.
async function settlementSeries() {
  const settled = {};
  const reversed = {};
  let end = new Date();
  let since = null;
  let cursor = null;
  for (let pages = 0; pages < 10; pages += 1) {
    const page = await call("GET", "/v1/merchant/settlements", { query: { limit: 100, cursor } });
    if (since === null) {
      const newest = page.items.length ? new Date(page.items[0].posted_at) : end;
      end = newest > end ? newest : end;
      since = lastDays(end, 30)[0];
    }
    for (const e of page.items) {
      const day = chinaDate(new Date(e.posted_at));
      if (day < since) return { end, settled, reversed };
      const bucket = e.amount_fen >= 0 ? settled : reversed;
      bucket[day] = (bucket[day] || 0) + Math.abs(e.amount_fen);
    }
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return { end, settled, reversed };
}

// The slot for payouts (issue 15): when the API has GET /v1/merchant/payouts
// (`hasOperation`), sum its transfers by China date like settlementSeries and return
// {date: fen}; the chart draws it as a third series. Until then: settlements only.
async function payoutSeries() {
  return null;
}

function settlementsSection() {
  const payable = h("p", { class: "big" }, "—");
  const chartBox = h("div", { class: "chart-slot" }, h("p", { class: "muted" }, "加载中… Loading…"));
  const list = pagedList({
    label: "结算明细 Settlement entries",
    empty: "暂无结算 No settlements yet",
    load: async (cursor) => {
      const page = await call("GET", "/v1/merchant/settlements", { query: { limit: 20, cursor } });
      payable.textContent = `应付余额 Payable ${yuan(page.payable_fen)}`;
      return page;
    },
    row: (e) => h("div", { class: "entry" },
      h("span", {}, when(e.posted_at)), h("span", {}, e.kind), h("span", {}, e.order_id || "—"),
      h("span", { class: e.amount_fen < 0 ? "amount neg" : "amount" }, yuan(e.amount_fen))),
  });
  list.reload();
  (async () => {
    try {
      const { end, settled, reversed } = await settlementSeries();
      const series = [
        { name: "结算 Settled", className: "s-settled", values: settled },
        { name: "冲回 Reversed", className: "s-reversed", values: reversed },
      ];
      const payouts = await payoutSeries();
      if (payouts) series.push({ name: "打款 Payouts", className: "s-payouts", values: payouts });
      chartBox.replaceChildren(dailyBars({ title: "近 30 天结算 Settlements, last 30 days", dates: lastDays(end, 30), series }));
    } catch (err) {
      chartBox.replaceChildren(h("p", { class: "status", "data-kind": "error" }, problemText(err)));
    }
  })();
  return h("section", { "aria-labelledby": "settlements-title" },
    h("h3", { id: "settlements-title" }, "结算 Settlements"), payable, chartBox, list.element);
}

const SECTIONS = {
  orders: ["订单 Orders", ordersSection],
  returns: ["退货 Returns", returnsSection],
  settlements: ["结算 Settlements", settlementsSection],
};

export const merchantScreen = {
  id: "merchant",
  role: "merchant",
  title: "商家 Merchant",
  render(main) {
    const body = h("div", {});
    const picker = h("div", { class: "subtabs", role: "group", "aria-label": "商家功能 Merchant sections" });
    for (const [key, [label, build]] of Object.entries(SECTIONS)) {
      const button = h("button", { type: "button", class: "secondary", "aria-pressed": "false" }, label);
      button.addEventListener("click", () => {
        for (const b of picker.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === button));
        body.replaceChildren(build());
      });
      picker.append(button);
      if (key === "orders") button.setAttribute("aria-pressed", "true");
    }
    main.replaceChildren(h("h2", {}, this.title), picker, body);
    body.append(ordersSection());
  },
};
