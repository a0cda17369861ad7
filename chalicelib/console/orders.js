// An order as the merchant and support see it (the API's OrderView): its items with their
// attributes, the delivery address, the shipment and the history.

import { ORDER_STATUS, h, when, yuan } from "./ui.js";

export const PAYMENT = {
  bnpl: "先用后付 BNPL",
  alipay: "支付宝 Alipay",
  wechat_pay: "微信支付 WeChat Pay",
  card: "银行卡 Card",
  wallet: "钱包 Wallet",
};

export function attributesText(attributes) {
  return Object.entries(attributes || {}).map(([k, v]) => `${k}: ${v}`).join(" / ");
}

export function trackingText(carrier, number, at) {
  return carrier ? `${carrier} ${number}${at ? ` · ${when(at)}` : ""}` : null;
}

export function historyRows(order) {
  return (order.history || []).map((e) =>
    `${when(e.at)} · ${ORDER_STATUS[e.status] || e.status} · ${e.actor}${e.note ? ` · ${e.note}` : ""}`);
}

function itemsTable(order) {
  return h("div", { class: "scroll" }, h("table", { class: "lines" },
    h("thead", {}, h("tr", {},
      ["商品 Item", "规格 Attributes", "数量 Qty", "单价 Price", "小计 Total"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, (order.items || []).map((i) => h("tr", {},
      h("td", {}, i.name), h("td", {}, attributesText(i.attributes) || "—"), h("td", {}, String(i.quantity)),
      h("td", { class: "amount" }, yuan(i.unit_price_fen)), h("td", { class: "amount" }, yuan(i.line_total_fen)))))));
}

// `history: false` where the view shows the history elsewhere.
export function orderDetail(order, { history = true } = {}) {
  const a = order.address || {};
  const s = order.shipment;
  return h("div", { class: "order-detail" },
    h("section", { "aria-label": "商品 Items" }, h("h4", {}, "商品 Items"), itemsTable(order),
      h("p", { class: "muted" }, `${PAYMENT[order.payment_method] || order.payment_method} · 合计 Total ${yuan(order.total_fen)}`)),
    h("section", { "aria-label": "收货地址 Delivery address" }, h("h4", {}, "收货地址 Delivery address"),
      h("p", {}, `${a.name || ""} · ${a.phone || ""}`), h("p", {}, `${a.city || ""} ${a.line1 || ""}`)),
    h("section", { "aria-label": "物流 Shipment" }, h("h4", {}, "物流 Shipment"),
      h("p", {}, s ? trackingText(s.carrier, s.tracking_number, s.shipped_at) : "未发货 Not shipped yet")),
    history ? h("section", { "aria-label": "订单经过 Order history" }, h("h4", {}, "订单经过 Order history"),
      h("ul", { class: "plain" }, historyRows(order).map((r) => h("li", {}, r)))) : null);
}
