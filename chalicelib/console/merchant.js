// Merchant (商家): orders by status with a ship form and the order's messages, return and
// exchange requests (returns.js), settlements with a 30-day chart of settlements and
// payouts, and payouts with the payout account (payouts.js).

import { call } from "./api.js";
import { dailyBars } from "./chart.js";
import { threadToggle } from "./messages.js";
import { moneyByDay, payoutsSection } from "./payouts.js";
import { returnsSection } from "./returns.js";
import { carrierForm } from "./shipping.js";
import { ORDER_STATUS, h, pagedList, problemText, when, yuan } from "./ui.js";

const SHIPPABLE = new Set(["placed", "paid"]);

function shipForm(order, onShipped) {
  return carrierForm("发货 Ship", async (body) => {
    const shipped = await call("POST", `/v1/merchant/orders/${order.order_id}/shipment`, { body });
    onShipped(shipped);
    return `已发货 Shipped · ${shipped.status}`;
  });
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
  card.append(...threadToggle(`/v1/merchant/orders/${order.order_id}/messages`, { canSend: true }));
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

const CHART_TITLE = "近 30 天结算与打款 Settlements and payouts, last 30 days";

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
      const { dates, series } = await moneyByDay();
      chartBox.replaceChildren(dailyBars({ title: CHART_TITLE, dates, series }));
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
  payouts: ["打款 Payouts", payoutsSection],
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
