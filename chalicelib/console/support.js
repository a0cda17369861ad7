// Support (客服): disputes the consumer escalated (平台介入) and the whole case on one
// screen, decided `refund` or `reject` with a note (SPEC "After-sale, payouts and privacy":
// GET /v1/support/disputes?status=, GET /v1/support/disputes/{dispute_id} with the order,
// its messages, return requests and history, POST .../{dispute_id}/decision). Until this
// deployment's API has the disputes, the screen says so; whatever the API refuses is shown
// as its problem detail.

import { call, hasOperation } from "./api.js";
import { messageRow } from "./messages.js";
import { KINDS, RETURN_STATUS } from "./returns.js";
import { ORDER_STATUS, decisionForm, h, pagedList, problemText, say, statusLine, when, yuan } from "./ui.js";

const DISPUTES = "/v1/support/disputes";
const DISPUTE_STATUS = { open: "待处理 Open", refunded: "已退款 Refunded", rejected: "已驳回 Rejected" };

function facts(pairs) {
  return h("dl", { class: "facts" },
    pairs.filter(([, v]) => v !== undefined && v !== null && v !== "").flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]));
}

function items(x) {
  return Array.isArray(x) ? x : (x && x.items) || [];
}

function disputeCard(d, openCase) {
  const titleId = `dispute-${d.dispute_id}`;
  const view = h("button", { type: "button" }, "查看案件 View case");
  view.addEventListener("click", () => openCase(d.dispute_id));
  return h("article", { class: "card dispute", "aria-labelledby": titleId },
    h("h3", { id: titleId }, `纠纷 Dispute ${d.dispute_id}`),
    facts([
      ["订单 Order", d.order_id || "—"],
      ["状态 Status", DISPUTE_STATUS[d.status] || d.status || "—"],
      ["原因 Reason", d.reason || "—"],
      ["提交于 Opened", when(d.created_at)],
    ]),
    h("div", { class: "actions" }, view));
}

function listSection(title, rows) {
  return h("section", { "aria-label": title }, h("h4", {}, title),
    rows.length ? h("ul", { class: "plain" }, rows.map((r) => h("li", {}, r))) : h("p", { class: "muted" }, "—"));
}

// The whole case: the dispute, the order, the conversation, return requests and history.
function caseView(c, back) {
  const d = c.dispute;
  const order = c.order;
  const orderId = d.order_id;
  const state = h("p", { class: "big" }, DISPUTE_STATUS[d.status] || d.status || "—");
  const returns = items(c.return_requests).map((r) =>
    `${r.request_id} · ${KINDS[r.kind] || r.kind} · ${RETURN_STATUS[r.status] || r.status} · ${yuan(r.amount_fen)} · ${r.reason}${r.note ? ` · ${r.note}` : ""}`);
  const history = items(order.history).map((e) =>
    `${when(e.at)} · ${ORDER_STATUS[e.status] || e.status} · ${e.actor}${e.note ? ` · ${e.note}` : ""}`);
  const messages = h("section", { class: "thread", "aria-label": "留言 Messages" }, h("h4", {}, "留言 Messages"),
    h("div", { class: "list", role: "list", "aria-label": "留言 Messages" },
      items(c.messages).map((m) => h("div", { role: "listitem" }, messageRow(m)))));
  const titleId = `case-${d.dispute_id}`;
  return h("article", { class: "case", "aria-labelledby": titleId },
    h("div", { class: "toolbar" }, back),
    h("h3", { id: titleId }, `案件 Case ${d.dispute_id}`), state,
    h("div", { class: "case-grid" },
      h("section", { class: "card", "aria-label": "纠纷 Dispute" }, h("h4", {}, "纠纷 Dispute"), facts([
        ["订单 Order", orderId],
        ["原因 Reason", d.reason],
        ["金额 Amount", yuan(d.amount_fen)],
        ["买家 Buyer", d.user_id],
        ["商家 Merchant", d.merchant_id],
        ["提交于 Opened", when(d.created_at)],
      ]), d.status === "open" ? decisionForm({
        label: "裁决 Decision",
        choices: [["refund", "退款 Refund"], ["reject", "驳回 Reject", "danger"]],
        note: h("textarea", { name: "note", rows: 2, maxlength: 500, autocomplete: "off" }),
        decide: async (decision, note, idempotencyKey) => {
          const done = await call("POST", `${DISPUTES}/${d.dispute_id}/decision`, { body: { decision, note }, idempotencyKey });
          state.textContent = DISPUTE_STATUS[done.status] || done.status;
          return `${DISPUTE_STATUS[done.status] || done.status} · ${when(done.decided_at)}`;
        },
      }) : null),
      h("section", { class: "card", "aria-label": "订单 Order" }, h("h4", {}, "订单 Order"), facts([
        ["状态 Status", ORDER_STATUS[order.status] || order.status],
        ["金额 Total", order.total_fen === undefined ? null : yuan(order.total_fen)],
        ["支付 Payment", order.payment_method],
        ["下单 Placed", order.created_at ? when(order.created_at) : null],
      ])),
      h("section", { class: "card" }, messages),
      h("section", { class: "card" }, listSection("退货申请 Return requests", returns)),
      h("section", { class: "card" }, listSection("经过 History", history))));
}

export const supportScreen = {
  id: "support",
  role: "support",
  title: "平台介入 Disputes",
  async render(main) {
    main.replaceChildren(h("h2", {}, this.title));
    if (!(await hasOperation("GET", DISPUTES))) {
      main.append(h("p", { class: "card muted", role: "status" },
        "此部署的 API 尚无纠纷处理功能。 Disputes are not in this deployment's API yet."));
      return;
    }
    const body = h("div", {});
    // The API lists one status at a time (its queue is by status): no "all".
    const filter = h("select", { name: "dispute-status" },
      Object.entries(DISPUTE_STATUS).map(([value, text]) => h("option", { value }, text)));
    const showList = () => body.replaceChildren(h("div", { class: "toolbar" }, h("label", {}, "状态 Status ", filter)), list.element);
    const back = h("button", { type: "button", class: "secondary" }, "返回列表 Back to disputes");
    back.addEventListener("click", () => {
      showList();
      list.reload();
    });
    const openCase = async (id) => {
      const status = statusLine();
      body.replaceChildren(h("div", { class: "toolbar" }, back), status);
      say(status, "加载中… Loading…", "busy");
      try {
        body.replaceChildren(caseView(await call("GET", `${DISPUTES}/${id}`), back));
      } catch (err) {
        say(status, problemText(err), "error");
      }
    };
    const list = pagedList({
      label: "纠纷 Disputes",
      empty: "没有待处理的纠纷 No open disputes",
      load: (cursor) => call("GET", DISPUTES, { query: { status: filter.value, limit: 20, cursor } }),
      row: (d) => disputeCard(d, openCase),
    });
    filter.addEventListener("change", () => list.reload());
    main.append(body);
    showList();
    list.reload();
  },
};
