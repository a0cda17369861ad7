// Merchant (商家) after-sale: return and exchange requests to approve or reject; for goods
// sent back (退货退款 return_goods, 换货 exchange), confirming their arrival and, for an
// exchange, reshipping the replacement (SPEC "After-sale, payouts and privacy"). A request
// without a `kind` is the first release's refund-only one. What the API refuses (a step not
// due yet, or a deployment without these routes) is shown as its problem detail.

import { call, newIdempotencyKey } from "./api.js";
import { carrierForm } from "./shipping.js";
import { attributesText, trackingText } from "./orders.js";
import { decisionForm, h, pagedList, problemText, say, statusLine, when, yuan } from "./ui.js";

export const RETURN_STATUS = {
  pending: "待处理 pending",
  approved: "已同意 approved",
  rejected: "已拒绝 rejected",
  awaiting_return: "待寄回 awaiting return",
  returning: "寄回中 returning",
  refunded: "已退款 refunded",
  closed: "已关闭 closed",
  disputed: "平台介入 disputed",
  awaiting_reshipment: "待补发 awaiting reshipment",
  reshipped: "已补发 reshipped",
  exchanged: "已换货 exchanged",
};
export const KINDS = { refund_only: "仅退款 Refund only", return_goods: "退货退款 Return goods", exchange: "换货 Exchange" };

// "T恤 (尺码: M) × 1 → 尺码: L": the product and its SKU's attributes (the replacement's for
// an exchange); the SKU id where an older API gives no name.
function sku(name, attributes, id) {
  const attrs = attributesText(attributes);
  return name ? `${name}${attrs ? ` (${attrs})` : ""}` : id;
}

export function returnItems(r) {
  return (r.items || []).map((i) => {
    const to = i.to_sku_id ? ` → ${attributesText(i.to_attributes) || i.to_sku_id}` : "";
    return `${sku(i.name, i.attributes, i.sku_id)} × ${i.quantity}${to}`;
  }).join(", ");
}

// The first release's decision route takes no Idempotency-Key.
function returnDecision(r, state, reload) {
  return decisionForm({
    draftKey: `note:return:${r.request_id}`,
    onConflict: reload,
    choices: [["approve", "同意退货 Approve"], ["reject", "拒绝 Reject", "danger"]],
    note: h("input", { type: "text", name: "note", maxlength: 200, autocomplete: "off" }),
    decide: async (decision, note) => {
      const done = await call("POST", `/v1/merchant/return-requests/${r.request_id}/decision`, { body: { decision, note } });
      state.textContent = RETURN_STATUS[done.status] || done.status;
      return done.status === "rejected" ? "已拒绝 Return rejected" : "已同意退货 Return approved";
    },
  });
}

// A 409 (reshipped elsewhere, or refunded by the timer meanwhile) reloads the list, so the
// card shows the request's real status instead of a form that can no longer work.
function reshipForm(r, state, reload) {
  return h("section", { class: "aftersale", "aria-label": "换货发出 Reship the replacement" }, h("h4", {}, "换货发出 Reship the replacement"),
    carrierForm("补发 Reship", async (body) => {
      let done;
      try {
        done = await call("POST", `/v1/merchant/return-requests/${r.request_id}/reshipment`, { body });
      } catch (err) {
        if (err.status === 409) reload();
        throw err;
      }
      state.textContent = RETURN_STATUS[done.status] || done.status;
      return `已补发 Reshipped · ${done.reship_carrier} ${done.reship_tracking_number}`;
    }));
}

// Goods on their way back (returning): confirm they arrived (a return_goods refund happens
// then: one Idempotency-Key for this confirmation, so a retry replays it); an exchange then
// awaits its replacement, reshipped with a carrier and tracking number.
function arrivalAction(r, state, reload) {
  const status = statusLine();
  const arrived = h("button", { type: "button" }, "确认收到退货 Confirm arrival");
  const box = h("div", { class: "aftersale" }, h("div", { class: "actions" }, arrived), status);
  let key = null;
  arrived.addEventListener("click", async () => {
    key ||= newIdempotencyKey();
    arrived.disabled = true;
    say(status, "提交中… Submitting…", "busy");
    try {
      const done = await call("POST", `/v1/merchant/return-requests/${r.request_id}/arrival`, { idempotencyKey: key });
      state.textContent = RETURN_STATUS[done.status] || done.status;
      say(status, `已确认收货 Arrival confirmed · ${RETURN_STATUS[done.status] || done.status}`, "ok");
      if (done.status === "awaiting_reshipment") box.append(reshipForm(done, state, reload));
    } catch (err) {
      say(status, problemText(err), "error");
      if (err.status === 409) reload();
      else arrived.disabled = false;
    }
  });
  return box;
}

function returnCard(r, reload) {
  const titleId = `return-${r.request_id}`;
  const state = h("dd", {}, RETURN_STATUS[r.status] || r.status);
  const back = trackingText(r.return_carrier, r.return_tracking_number);
  const reshipped = trackingText(r.reship_carrier, r.reship_tracking_number);
  const card = h("article", { class: "card return", "aria-labelledby": titleId },
    h("header", {}, h("h3", { id: titleId }, `退货申请 Return ${r.request_id}`), h("span", { class: "amount" }, yuan(r.amount_fen))),
    h("dl", { class: "facts" },
      h("dt", {}, "订单 Order"), h("dd", {}, r.order_id),
      h("dt", {}, "类型 Kind"), h("dd", {}, KINDS[r.kind || "refund_only"] || r.kind),
      h("dt", {}, "原因 Reason"), h("dd", {}, r.reason || "—"),
      h("dt", {}, "商品 Items"), h("dd", {}, returnItems(r)),
      back ? [h("dt", {}, "寄回 Sent back"), h("dd", {}, back)] : null,
      reshipped ? [h("dt", {}, "补发 Reshipped"), h("dd", {}, reshipped)] : null,
      h("dt", {}, "状态 Status"), state,
      h("dt", {}, "申请于 Requested"), h("dd", {}, when(r.created_at))));
  if (r.status === "pending") card.append(returnDecision(r, state, reload));
  else if (r.status === "returning") card.append(arrivalAction(r, state, reload));
  else if (r.status === "awaiting_reshipment") card.append(reshipForm(r, state, reload));
  return card;
}

export function returnsSection() {
  // Every status the API filters by (schemas/kinds.py ReturnStatus), then all of them.
  const filter = h("select", { name: "return-status" },
    Object.entries(RETURN_STATUS).map(([value, text]) => h("option", { value }, text)),
    h("option", { value: "" }, "全部 All"));
  const list = pagedList({
    label: "退货申请 Return requests",
    empty: "没有退货申请 No return requests",
    load: (cursor) => call("GET", "/v1/merchant/return-requests", { query: { status: filter.value, limit: 20, cursor } }),
    row: returnCard,
  });
  filter.addEventListener("change", () => list.reload());
  list.reload();
  return h("section", { "aria-labelledby": "returns-title" },
    h("h3", { id: "returns-title" }, "退货 Returns"),
    h("div", { class: "toolbar" }, h("label", {}, "状态 Status ", filter)), list.element);
}
