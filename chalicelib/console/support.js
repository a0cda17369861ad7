// Support (客服): disputes the consumer escalated (平台介入) and the whole case on one
// screen, decided `refund` or `reject` with a note (SPEC "After-sale, payouts and privacy":
// GET /v1/support/disputes?status=, GET /v1/support/disputes/{dispute_id} with the order,
// its messages, return requests and history, POST .../{dispute_id}/decision); and any order
// looked up by its id (GET /v1/support/orders/{order_id}: the order, its return requests,
// disputes and latest messages). Until this deployment's API has the disputes, the screen
// says so; whatever the API refuses is shown as its problem detail.

import { call, hasOperation } from "./api.js";
import { messageRow } from "./messages.js";
import { focusHeading, go } from "./nav.js";
import { scheduleSection } from "./installments.js";
import { PAYMENT, historyRows, orderDetail, trackingText } from "./orders.js";
import { KINDS, RETURN_STATUS, returnItems } from "./returns.js";
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

// An open dispute undecided past support's deadline (5 days) is marked late: the API lists
// the oldest first, so the late ones lead the list (and an alarm was raised).
function disputeCard(d, openCase) {
  const titleId = `dispute-${d.dispute_id}`;
  const view = h("button", { type: "button" }, "查看案件 View case");
  view.addEventListener("click", () => openCase(d.dispute_id));
  const late = d.late && d.status === "open";
  return h("article", { class: late ? "card dispute late" : "card dispute", "aria-labelledby": titleId },
    h("h3", { id: titleId }, `纠纷 Dispute ${d.dispute_id}`, late && h("span", { class: "late-mark" }, " · 已逾期 Late")),
    facts([
      ["订单 Order", d.order_id || "—"],
      ["状态 Status", DISPUTE_STATUS[d.status] || d.status || "—"],
      ["原因 Reason", d.reason || "—"],
      ["提交于 Opened", when(d.created_at)],
      ["处理期限 Decide by", d.deadline_at && d.status === "open" ? when(d.deadline_at) : null],
    ]),
    h("div", { class: "actions" }, view));
}

function listSection(title, rows) {
  return h("section", { "aria-label": title }, h("h4", {}, title),
    rows.length ? h("ul", { class: "plain" }, rows.map((r) => h("li", {}, r))) : h("p", { class: "muted" }, "—"));
}

// A return request in one line, with the goods' way back and a replacement's way out.
function returnLine(r) {
  const back = trackingText(r.return_carrier, r.return_tracking_number, r.shipped_back_at);
  const out = trackingText(r.reship_carrier, r.reship_tracking_number, r.reshipped_at);
  return [
    r.request_id, KINDS[r.kind] || r.kind, RETURN_STATUS[r.status] || r.status, yuan(r.amount_fen), r.reason,
    r.note || null, returnItems(r),
    back ? `寄回 Sent back ${back}` : null, out ? `补发 Reshipped ${out}` : null,
  ].filter(Boolean).join(" · ");
}

function threadSection(messages) {
  return h("section", { class: "thread", "aria-label": "留言 Messages" }, h("h4", {}, "留言 Messages"),
    h("div", { class: "list", role: "list", "aria-label": "留言 Messages" },
      items(messages).map((m) => h("div", { role: "listitem" }, messageRow(m)))));
}

// The whole case: the dispute, the order, the conversation, return requests and history.
// A 409 on the decision (someone decided first) reloads the case with its real status.
function caseView(c, back, reload) {
  const d = c.dispute;
  const order = c.order;
  const orderId = d.order_id;
  const late = d.late && d.status === "open";
  const state = h("p", { class: "big" }, DISPUTE_STATUS[d.status] || d.status || "—", late && h("span", { class: "late-mark" }, " · 已逾期 Late"));
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
        ["处理期限 Decide by", d.deadline_at && d.status === "open" ? when(d.deadline_at) : null],
        ["裁决 Decided", d.decided_at ? `${when(d.decided_at)} · ${d.decided_by || ""}${d.note ? ` · ${d.note}` : ""}` : null],
      ]), d.status === "open" ? decisionForm({
        label: "裁决 Decision",
        draftKey: `note:dispute:${d.dispute_id}`,
        onConflict: reload,
        choices: [["refund", "退款 Refund"], ["reject", "驳回 Reject", "danger"]],
        note: h("textarea", { name: "note", rows: 2, maxlength: 500, autocomplete: "off" }),
        decide: async (decision, note, idempotencyKey) => {
          const done = await call("POST", `${DISPUTES}/${d.dispute_id}/decision`, { body: { decision, note }, idempotencyKey });
          state.textContent = DISPUTE_STATUS[done.status] || done.status; // decided: no longer late
          return `${DISPUTE_STATUS[done.status] || done.status} · ${when(done.decided_at)}`;
        },
      }) : null),
      h("section", { class: "card", "aria-label": "订单 Order" }, h("h4", {}, "订单 Order"), facts([
        ["状态 Status", ORDER_STATUS[order.status] || order.status],
        ["金额 Total", order.total_fen === undefined ? null : yuan(order.total_fen)],
        ["支付 Payment", PAYMENT[order.payment_method] || order.payment_method],
        ["下单 Placed", order.created_at ? when(order.created_at) : null],
      ]), order.items ? orderDetail(order, { history: false }) : null),
      h("section", { class: "card" }, threadSection(c.messages)),
      h("section", { class: "card" }, listSection("退货申请 Return requests", items(c.return_requests).map(returnLine))),
      h("section", { class: "card" }, listSection("经过 History", historyRows(order)))));
}

// Order lookup (GET /v1/support/orders/{id}): the order, its return requests with their
// tracking, its disputes (each opens its case) and the latest 100 messages.
function lookupView(found, openCase) {
  const order = found.order;
  const titleId = `lookup-${order.order_id}`;
  const disputes = items(found.disputes).map((d) => {
    const view = h("button", { type: "button", class: "secondary" }, "查看案件 View case");
    view.addEventListener("click", () => openCase(d.dispute_id));
    return h("li", {}, `${d.dispute_id} · ${DISPUTE_STATUS[d.status] || d.status} · ${d.reason} · ${when(d.created_at)} `, view);
  });
  return h("article", { class: "case", "aria-labelledby": titleId },
    h("h3", { id: titleId }, `订单 Order ${order.order_id}`),
    h("div", { class: "case-grid" },
      h("section", { class: "card", "aria-label": "订单 Order" }, h("h4", {}, "订单 Order"), facts([
        ["状态 Status", ORDER_STATUS[order.status] || order.status],
        ["商家 Merchant", order.merchant_id],
        ["下单 Placed", when(order.created_at)],
      ]), orderDetail(order)),
      h("section", { class: "card" }, scheduleSection(`/v1/support/orders/${order.order_id}/installments`)),
      h("section", { class: "card" }, listSection("退货申请 Return requests", items(found.return_requests).map(returnLine))),
      h("section", { class: "card", "aria-label": "纠纷 Disputes" }, h("h4", {}, "纠纷 Disputes"),
        disputes.length ? h("ul", { class: "plain" }, disputes) : h("p", { class: "muted" }, "—")),
      h("section", { class: "card" }, threadSection(found.messages))));
}

function lookupForm(initial, onLookup) {
  const id = h("input", { type: "text", name: "order_id", required: true, autocomplete: "off", value: initial || "" });
  const form = h("form", { class: "toolbar", role: "search", "aria-label": "订单查询 Order lookup" },
    h("label", {}, "订单号 Order id ", id), h("button", { type: "submit" }, "查询 Look up"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (id.value.trim()) onLookup(id.value.trim());
  });
  return form;
}

export const supportScreen = {
  id: "support",
  role: "support",
  title: "客服 Support",
  // rest: [] or ["disputes"], ["case", dispute_id], ["order"] or ["order", order_id].
  async render(main, rest = []) {
    const heading = h("h2", {}, "平台介入 Disputes");
    main.replaceChildren(heading);
    if (!(await hasOperation("GET", DISPUTES))) {
      main.append(h("p", { class: "card muted", role: "status" },
        "此部署的 API 尚无纠纷处理功能。 Disputes are not in this deployment's API yet."));
      return;
    }
    const body = h("div", {});
    const picker = h("div", { class: "subtabs", role: "group", "aria-label": "客服功能 Support sections" });
    const disputesTab = h("button", { type: "button", class: "secondary", "aria-pressed": "false" }, "纠纷 Disputes");
    const lookupTab = h("button", { type: "button", class: "secondary", "aria-pressed": "false" }, "订单查询 Order lookup");
    picker.append(disputesTab, lookupTab);
    const press = (tab) => {
      for (const b of [disputesTab, lookupTab]) b.setAttribute("aria-pressed", String(b === tab));
    };
    // The API lists one status at a time (its queue is by status): no "all".
    const filter = h("select", { name: "dispute-status" },
      Object.entries(DISPUTE_STATUS).map(([value, text]) => h("option", { value }, text)));
    const showList = () => {
      press(disputesTab);
      heading.textContent = "平台介入 Disputes";
      body.replaceChildren(h("div", { class: "toolbar" }, h("label", {}, "状态 Status ", filter)), list.element);
      list.reload();
    };
    const back = h("button", { type: "button", class: "secondary" }, "返回列表 Back to disputes");
    back.addEventListener("click", () => {
      go(["support", "disputes"]);
      showList();
    });
    const loading = (prefix) => {
      const status = statusLine();
      body.replaceChildren(...prefix, status);
      say(status, "加载中… Loading…", "busy");
      return status;
    };
    const showCase = async (id) => {
      press(disputesTab);
      const status = loading([h("div", { class: "toolbar" }, back)]);
      try {
        body.replaceChildren(caseView(await call("GET", `${DISPUTES}/${id}`), back, () => showCase(id)));
        focusHeading(body.querySelector("h3"));
      } catch (err) {
        say(status, problemText(err), "error");
      }
    };
    const openCase = (id) => {
      go(["support", "case", id]);
      showCase(id);
    };
    const showLookup = async (orderId) => {
      press(lookupTab);
      heading.textContent = "订单查询 Order lookup";
      const form = lookupForm(orderId, (id) => {
        go(["support", "order", id]);
        showLookup(id);
      });
      if (!orderId) {
        body.replaceChildren(form);
        return;
      }
      const status = loading([form]);
      try {
        body.replaceChildren(form, lookupView(await call("GET", `/v1/support/orders/${encodeURIComponent(orderId)}`), openCase));
        focusHeading(body.querySelector("h3"));
      } catch (err) {
        say(status, problemText(err), "error");
      }
    };
    disputesTab.addEventListener("click", () => {
      go(["support", "disputes"]);
      showList();
    });
    lookupTab.addEventListener("click", () => {
      go(["support", "order"]);
      showLookup(null);
    });
    const list = pagedList({
      label: "纠纷 Disputes",
      empty: "没有待处理的纠纷 No open disputes",
      load: (cursor) => call("GET", DISPUTES, { query: { status: filter.value, limit: 20, cursor } }),
      row: (d) => disputeCard(d, openCase),
    });
    filter.addEventListener("change", () => list.reload());
    main.append(picker, body);
    if (rest[0] === "case" && rest[1]) showCase(rest[1]);
    else if (rest[0] === "order") showLookup(rest[1] || null);
    else {
      go(["support", "disputes"], { replace: true });
      showList();
    }
  },
};
