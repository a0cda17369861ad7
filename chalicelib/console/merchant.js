// Merchant (商家): orders to ship (or by status) with their detail, a ship form and the
// order's messages; products with their SKUs, prices and stock (products.js); return and
// exchange requests (returns.js); settlements with a 30-day chart of settlements and
// payouts; and payouts with the payout account (payouts.js).

import { call } from "./api.js";
import { dailyBars } from "./chart.js";
import { threadToggle } from "./messages.js";
import { moneyByDay, payoutsSection } from "./payouts.js";
import { returnsSection } from "./returns.js";
import { carrierForm } from "./shipping.js";
import { go } from "./nav.js";
import { scheduleSection } from "./installments.js";
import { PAYMENT, orderDetail } from "./orders.js";
import { productsSection } from "./products.js";
import { ORDER_STATUS, h, pagedList, problemText, say, statusLine, when, yuan } from "./ui.js";
import { webhooksSection } from "./webhooks.js";

// What the API ships (services/fulfilment.ship): a 先用后付 order once placed, a channel
// order once paid and not shipped. A 先用后付 order in `paid` is finished.
export function shippable(order) {
  const ready = order.payment_method === "bnpl" ? "placed" : "paid";
  return order.status === ready && !order.shipment;
}

// Shipped (or cancelled) meanwhile: the 409 reloads the list, which shows the real status.
function shipForm(order, onShipped, reload) {
  return carrierForm("发货 Ship", async (body) => {
    let shipped;
    try {
      shipped = await call("POST", `/v1/merchant/orders/${order.order_id}/shipment`, { body });
    } catch (err) {
      if (err.status === 409 && reload) reload();
      throw err;
    }
    onShipped(shipped);
    return `已发货 Shipped · ${shipped.status}`;
  });
}

// The order's detail (GET /v1/merchant/orders/{id}), opened under its card; reloaded after
// it ships.
function detailToggle(order) {
  const button = h("button", { type: "button", class: "secondary", "aria-expanded": "false" }, "详情 Details");
  const slot = h("div", { class: "detail-slot", hidden: true });
  const status = statusLine();
  const load = async () => {
    if (!slot.firstChild) {
      say(status, "加载中… Loading…", "busy");
      slot.replaceChildren(status);
    }
    try {
      slot.replaceChildren(orderDetail(await call("GET", `/v1/merchant/orders/${order.order_id}`)),
        scheduleSection(`/v1/merchant/orders/${order.order_id}/installments`));
    } catch (err) {
      say(status, problemText(err), "error");
      slot.replaceChildren(status);
    }
  };
  button.addEventListener("click", () => {
    const open = slot.hidden;
    if (open && !slot.firstChild) load();
    slot.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
  });
  return { button, slot, refresh: () => (slot.firstChild ? load() : null) };
}

function orderCard(order, reload) {
  const titleId = `order-${order.order_id}`;
  const state = h("dd", { "data-status": order.status }, ORDER_STATUS[order.status] || order.status);
  const detail = detailToggle(order);
  const card = h("article", { class: "card order", "aria-labelledby": titleId },
    h("header", {}, h("h3", { id: titleId }, `订单 Order ${order.order_id}`), h("span", { class: "amount" }, yuan(order.total_fen))),
    h("dl", { class: "facts" },
      h("dt", {}, "状态 Status"), state,
      h("dt", {}, "件数 Items"), h("dd", {}, String(order.item_count)),
      h("dt", {}, "支付 Payment"), h("dd", {}, PAYMENT[order.payment_method] || order.payment_method),
      h("dt", {}, "下单 Placed"), h("dd", {}, when(order.created_at))),
    h("div", { class: "actions" }, detail.button), detail.slot);
  if (shippable(order)) {
    const form = shipForm(order, (shipped) => {
      state.textContent = ORDER_STATUS[shipped.status] || shipped.status;
      state.dataset.status = shipped.status;
      detail.refresh();
    }, reload);
    card.append(form);
  }
  card.append(...threadToggle(`/v1/merchant/orders/${order.order_id}/messages`, { canSend: true }));
  return card;
}

// "To ship" (the default): placed 先用后付 orders and paid channel orders, two lists merged
// newest first; the cursor carries both lists' cursors.
async function toShip(cursor) {
  const at = cursor ? JSON.parse(cursor) : { placed: "", paid: "" };
  const page = (status) => (at[status] === null ? { items: [], next_cursor: null }
    : call("GET", "/v1/merchant/orders", { query: { status, limit: 20, cursor: at[status] || undefined } }));
  const [placed, paid] = await Promise.all([page("placed"), page("paid")]);
  const items = [...placed.items.filter(shippable), ...paid.items.filter(shippable)]
    .sort((a, b) => b.created_at.localeCompare(a.created_at));
  const next = { placed: placed.next_cursor || null, paid: paid.next_cursor || null };
  return { items, next_cursor: next.placed || next.paid ? JSON.stringify(next) : null };
}

function ordersSection() {
  const filter = h("select", { name: "order-status" },
    h("option", { value: "to_ship" }, "待发货 To ship"),
    h("option", { value: "" }, "全部 All"),
    // An order held for a risk operator is not the merchant's to see (SPEC): no such filter.
    Object.entries(ORDER_STATUS).filter(([v]) => v !== "risk_review").map(([v, t]) => h("option", { value: v }, t)));
  filter.value = "to_ship";
  const list = pagedList({
    label: "订单 Orders",
    empty: "没有订单 No orders",
    load: (cursor) => (filter.value === "to_ship" ? toShip(cursor)
      : call("GET", "/v1/merchant/orders", { query: { status: filter.value, limit: 20, cursor } })),
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
  products: ["商品 Products", productsSection],
  returns: ["退货 Returns", returnsSection],
  settlements: ["结算 Settlements", settlementsSection],
  payouts: ["打款 Payouts", payoutsSection],
  webhooks: ["开发者 Webhooks", webhooksSection],
};

export const merchantScreen = {
  id: "merchant",
  role: "merchant",
  title: "商家 Merchant",
  render(main, rest = []) {
    const body = h("div", {});
    const picker = h("div", { class: "subtabs", role: "group", "aria-label": "商家功能 Merchant sections" });
    const buttons = {};
    const show = (key) => {
      for (const [k, b] of Object.entries(buttons)) b.setAttribute("aria-pressed", String(k === key));
      body.replaceChildren(SECTIONS[key][1]());
    };
    for (const [key, [label]] of Object.entries(SECTIONS)) {
      const button = h("button", { type: "button", class: "secondary", "aria-pressed": "false" }, label);
      button.addEventListener("click", () => {
        go(["merchant", key]);
        show(key);
      });
      buttons[key] = button;
      picker.append(button);
    }
    main.replaceChildren(h("h2", {}, this.title), picker, body);
    const key = SECTIONS[rest[0]] ? rest[0] : "orders";
    go(["merchant", key], { replace: true });
    show(key);
  },
};
