// Risk operators (风控): 先用后付 orders held for review, oldest first with their ages; the
// case (every reason with what was observed and the threshold; the order's items and delivery
// address, the buyer's standing and recent orders); approve or decline with a
// note (one past its deadline: decline only); decided and expired cases by status; the block
// and allow lists; and approval, review and decline rates by day and rule.

import { call } from "./api.js";
import { orderDetail } from "./orders.js";
import { ORDER_STATUS, decisionForm, duration, h, onSubmit, pagedList, problemText, say, statusLine, when, yuan } from "./ui.js";

const DUE = 1800; // RISK_REVIEW_SECONDS: an undecided case is declined then
const REVIEW_STATUS = { pending: "待审 Pending", approved: "已放行 Approved", declined: "已拒绝 Declined", expired: "已超时 Expired (declined)" };
const KINDS = [["user", "用户 User"], ["device", "设备 Device"], ["card", "银行卡 Card"], ["address", "地址 Address"], ["phone", "手机 Phone"]];
const KIND_LABEL = Object.fromEntries(KINDS);

function reasons(list) {
  if (!list.length) return h("p", { class: "muted" }, "无规则命中 No rule matched");
  return h("div", { class: "scroll" }, h("table", { class: "reasons" },
    h("thead", {}, h("tr", {}, h("th", {}, "规则 Rule"), h("th", {}, "观察值 Observed"), h("th", {}, "阈值 Threshold"))),
    h("tbody", {}, ...list.map((r) => h("tr", { "data-outcome": r.outcome },
      h("td", {}, `${r.rule_id} (${r.outcome})`),
      h("td", {}, Object.entries(r.observed).map(([k, v]) => `${k} = ${v}`).join(", ")),
      h("td", {}, Object.entries(r.threshold).map(([k, v]) => `${k} ${v}`).join(", ")))))));
}

// A decided case: who decided it, when, and their note (the timer's, for an expired one).
function decided(c) {
  return h("dl", { class: "facts decided" },
    h("dt", {}, "决定于 Decided"), h("dd", {}, when(c.decided_at)),
    h("dt", {}, "决定人 By"), h("dd", {}, c.decided_by || "—"),
    h("dt", {}, "备注 Note"), h("dd", {}, c.decision_note || "—"));
}

function caseCard(c, onConflict) {
  const titleId = `rv-${c.review_id}`;
  const details = h("div", { class: "case" });
  const open = h("button", { type: "button", class: "secondary" }, "查看案件 Open case");
  const opened = statusLine();
  open.addEventListener("click", async () => {
    let full;
    try {
      full = await call("GET", `/v1/risk/reviews/${c.review_id}`);
    } catch (err) {
      say(opened, problemText(err), "error");
      return;
    }
    say(opened, "", "ok");
    const st = full.standing || {};
    details.replaceChildren(
      h("dl", { class: "facts" },
        h("dt", {}, "先用后付 BNPL"), h("dd", {}, st.bnpl_status || "—"),
        h("dt", {}, "注册于 Since"), h("dd", {}, st.account_created_at ? when(st.account_created_at) : "—"),
        h("dt", {}, "按时还款 On time"), h("dd", {}, String(st.on_time_paid_count ?? "—")),
        h("dt", {}, "逾期 Overdue"), h("dd", {}, String(st.overdue_open_count ?? "—"))),
      full.order ? orderDetail(full.order, { history: false }) : null,
      h("h4", {}, "最近订单 Recent orders"),
      h("ul", {}, ...full.recent_orders.map((o) => h("li", {}, `${o.order_id} · ${ORDER_STATUS[o.status] || o.status} · ${yuan(o.total_fen)} · ${when(o.created_at)}`))),
      h("h4", {}, "输入 Inputs"),
      h("p", { class: "muted" }, Object.entries(full.inputs).filter(([, v]) => v).map(([k, v]) => `${k}=${v}`).join(" · ")));
  });
  // The server's clock says how long it has waited: past its deadline it can only be declined
  // (the timer declines it soon; an approval would be refused as review_expired).
  const wait = c.waiting_seconds || 0;
  const allowed = c.due_at ? (Date.parse(c.due_at) - Date.parse(c.created_at)) / 1000 : DUE;
  const overdue = c.status === "pending" && wait >= allowed;
  const form = c.status !== "pending" ? decided(c) : decisionForm({
    draftKey: `note:risk:${c.review_id}`,
    onConflict: (err) => onConflict(c, err),
    choices: [...(overdue ? [] : [["approve", "放行 Approve"]]), ["decline", "拒绝 Decline", "danger"]],
    note: h("input", { type: "text", name: "note", maxlength: 500, required: true, autocomplete: "off" }),
    decide: async (decision, note, idempotencyKey) => {
      const done = await call("POST", `/v1/risk/reviews/${c.review_id}/decision`, { body: { decision, note }, idempotencyKey });
      card.dataset.decided = done.status;
      return `${done.status === "approved" ? "已放行 Approved" : "已拒绝 Declined"} · ${when(done.decided_at)}`;
    },
  });
  const card = h("article", { class: "card request", "aria-labelledby": titleId },
    h("header", {}, h("h3", { id: titleId }, `订单 Order ${c.order_id}`), h("span", { class: "amount" }, yuan(c.amount_fen))),
    h("dl", { class: "facts" },
      h("dt", {}, "买家 Buyer"), h("dd", {}, c.user_id),
      h("dt", {}, "商家 Merchant"), h("dd", {}, c.merchant_id),
      h("dt", {}, "规则版本 Rules"), h("dd", {}, c.rules_version),
      h("dt", {}, "状态 Status"), h("dd", { "data-kind": overdue ? "bad" : null },
        overdue ? "已超时 Time is over: decline only" : REVIEW_STATUS[c.status] || c.status),
      h("dt", {}, "截止 Due"), h("dd", {}, c.due_at ? when(c.due_at) : "—")),
    c.status === "pending" ? h("div", { class: "wait" },
      h("span", {}, `已等待 Waiting ${duration(wait)}`),
      h("meter", { min: 0, max: allowed, low: allowed / 2, high: (allowed * 5) / 6, optimum: 0, value: Math.min(wait, allowed), "aria-label": "等待时间 Waiting time" })) : null,
    reasons(c.reasons), h("div", { class: "actions" }, open), opened, details, form);
  return card;
}

function listPanel() {
  const which = h("select", { name: "list" }, h("option", { value: "block" }, "黑名单 Block"), h("option", { value: "allow" }, "白名单 Allow"));
  const kind = h("select", { name: "kind" }, ...KINDS.map(([v, t]) => h("option", { value: v }, t)));
  const value = h("input", { type: "text", name: "value", required: true, maxlength: 200, autocomplete: "off" });
  const reason = h("input", { type: "text", name: "reason", required: true, maxlength: 500 });
  const notice = statusLine();
  const list = pagedList({
    label: "名单 List entries",
    empty: "名单为空 The list is empty",
    load: (cursor) => call("GET", "/v1/risk/blocklist", { query: { list: which.value, limit: 20, cursor } }),
    row: (e, reload) => {
      const remove = h("button", { type: "button", class: "secondary" }, "移除 Remove");
      remove.addEventListener("click", async () => {
        try {
          await call("DELETE", `/v1/risk/blocklist/${e.entry_id}`);
          reload();
        } catch (err) {
          say(notice, problemText(err), "error");
        }
      });
      return h("div", { class: "card" }, `${KIND_LABEL[e.kind] || e.kind} ${e.hint} · ${e.reason} · ${e.added_by} · ${when(e.added_at)} `, remove);
    },
  });
  const add = h("button", { type: "submit" }, "加入 Add");
  const form = h("form", { class: "decide", "aria-label": "加入名单 Add to a list" },
    h("label", {}, "名单 List ", which), h("label", {}, "类型 Kind ", kind),
    h("label", {}, "值 Value ", value), h("label", {}, "原因 Reason ", reason), add, notice);
  onSubmit(form, add, notice, async () => {
    await call("POST", "/v1/risk/blocklist", { body: { list: which.value, kind: kind.value, value: value.value, reason: reason.value } });
    value.value = "";
    list.reload();
    return "已加入 Added (kept only as a keyed hash)";
  });
  which.addEventListener("change", () => list.reload());
  list.reload();
  return h("section", { "aria-label": "名单 Lists" }, h("h3", {}, "黑白名单 Block and allow lists"), form, list.element);
}

async function ratesPanel() {
  const stats = await call("GET", "/v1/risk/stats", { query: { days: 14 } });
  const pct = (bps) => `${(bps / 100).toFixed(1)} %`;
  const meter = (bps, label) => h("meter", { min: 0, max: 10000, value: bps, "aria-label": label });
  return h("section", { "aria-label": "决策率 Rates" },
    h("h3", {}, "决策率 Approval, review and decline rates (UTC days)"),
    h("div", { class: "scroll" }, h("table", { class: "rates" },
      h("thead", {}, h("tr", {}, ...["日期 Day", "决策 Decisions", "放行 Approve", "审核 Review", "拒绝 Decline", "规则 Rules"].map((t) => h("th", {}, t)))),
      h("tbody", {}, ...stats.days.map((d) => h("tr", {},
        h("td", {}, d.day), h("td", {}, String(d.decisions)),
        h("td", {}, meter(d.approve_rate_bps, "approve"), ` ${pct(d.approve_rate_bps)}`),
        h("td", {}, meter(d.review_rate_bps, "review"), ` ${pct(d.review_rate_bps)}`),
        h("td", {}, meter(d.decline_rate_bps, "decline"), ` ${pct(d.decline_rate_bps)}`),
        h("td", {}, Object.entries(d.rules).map(([r, n]) => `${r}: ${n}`).join(", ") || "—")))))));
}

export const riskScreen = {
  id: "risk",
  role: "risk",
  title: "风控 Risk review",
  render(main) {
    const notice = statusLine();
    const filter = h("select", { name: "status" },
      Object.entries(REVIEW_STATUS).map(([value, text]) => h("option", { value }, text)));
    const queue = pagedList({
      label: "待审订单 Held orders",
      empty: "队列为空 The queue is empty",
      load: (cursor) => call("GET", "/v1/risk/reviews", { query: { status: filter.value, limit: 20, cursor } }),
      row: (c) => caseCard(c, (stale, err) => {
        say(notice, `订单 Order ${stale.order_id}: ${err.message} · 已刷新 Queue reloaded`, "error");
        queue.reload();
      }),
    });
    const rates = h("div", {});
    filter.addEventListener("change", () => queue.reload());
    main.replaceChildren(h("h2", {}, this.title), h("div", { class: "toolbar" }, h("label", {}, "状态 Status ", filter)),
      notice, queue.element, listPanel(), rates);
    queue.reload();
    ratesPanel().then((panel) => rates.replaceChildren(panel), (err) => say(notice, problemText(err), "error"));
  },
};
