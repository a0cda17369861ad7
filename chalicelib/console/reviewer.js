// Reviewer (审核): redemption requests held for manual review, oldest first, with the
// requester's standing and how long each has waited; approve or reject with a note.

import { call } from "./api.js";
import { decisionForm, duration, h, pagedList, say, statusLine, when, yuan } from "./ui.js";

const REASONS = {
  account_too_new: "账户未满 24 小时 account younger than 24 h",
  overdue_order: "有逾期订单 has an overdue order",
  over_auto_approve_limit: "超过自动审核额度 above the automatic limit",
};
const BNPL = { active: "正常 active", frozen: "已冻结 frozen", inactive: "未开通 inactive" };
const DAY = 86400;

function standing(st) {
  if (!st) return h("p", { class: "muted" }, "无资料 No profile");
  return h("dl", { class: "facts" },
    h("dt", {}, "先用后付 BNPL"), h("dd", { "data-kind": st.bnpl_status }, BNPL[st.bnpl_status] || st.bnpl_status),
    h("dt", {}, "注册于 Since"), h("dd", {}, when(st.account_created_at)),
    h("dt", {}, "按时还款 On time"), h("dd", {}, String(st.on_time_paid_count)),
    h("dt", {}, "逾期 Overdue"), h("dd", { "data-kind": st.overdue_open_count ? "bad" : "" }, String(st.overdue_open_count)),
    h("dt", {}, "未还订单 Unpaid"), h("dd", {}, String(st.unpaid_bnpl_count)));
}

// A 409 (another reviewer decided first) reloads the queue, where the request is gone, and
// says why in the screen's status line.
function requestCard(r, maxWait, onConflict) {
  const titleId = `rd-${r.redemption_id}`;
  const form = decisionForm({
    draftKey: `note:redemption:${r.redemption_id}`,
    onConflict: (err) => onConflict(r, err),
    choices: [["approve", "批准 Approve"], ["reject", "拒绝 Reject", "danger"]],
    note: h("input", { type: "text", name: "note", maxlength: 500, autocomplete: "off" }),
    decide: async (decision, note, idempotencyKey) => {
      const done = await call("POST", `/v1/review/redemptions/${r.redemption_id}/decision`, {
        body: { decision, ...(note ? { note } : {}) },
        idempotencyKey,
      });
      card.dataset.decided = done.status;
      const verb = done.status === "approved" ? "已批准 Approved" : "已拒绝 Rejected";
      return `${verb} · ${yuan(done.amount_fen)} · ${when(done.decided_at)}`;
    },
  });
  const wait = r.waiting_seconds || 0;
  const card = h("article", { class: "card request", "aria-labelledby": titleId },
    h("header", {},
      h("h3", { id: titleId }, `兑现申请 Redemption ${r.redemption_id}`),
      h("span", { class: "amount" }, yuan(r.amount_fen))),
    h("dl", { class: "facts" },
      h("dt", {}, "用户 User"), h("dd", {}, r.user_id),
      h("dt", {}, "积分 Points"), h("dd", {}, String(r.points)),
      h("dt", {}, "原因 Reason"), h("dd", {}, REASONS[r.reason] || r.reason || "—"),
      h("dt", {}, "申请于 Requested"), h("dd", {}, when(r.created_at))),
    h("div", { class: "wait" },
      h("span", {}, `已等待 Waiting ${duration(wait)}`),
      // Green under an hour, amber under a day, red after: the bar is the request's age.
      h("meter", { min: 0, max: Math.max(maxWait, DAY), low: 3600, high: DAY - 1, optimum: 0, value: wait, "aria-label": "等待时间 Waiting time" })),
    h("section", { "aria-label": "用户信用 Standing" }, h("h4", {}, "用户信用 Standing"), standing(r.standing)),
    form);
  return card;
}

export const reviewerScreen = {
  id: "review",
  role: "reviewer",
  title: "兑现审核 Redemption review",
  render(main) {
    const filter = h("select", { name: "status" },
      h("option", { value: "manual_review" }, "待人工审核 Manual review"),
      h("option", { value: "pending" }, "待自动审核 Pending"));
    let maxWait = 0;
    const summary = h("p", { class: "muted" });
    const notice = statusLine();
    const list = pagedList({
      label: "兑现申请 Redemption requests",
      empty: "队列为空 The queue is empty",
      load: async (cursor) => {
        const page = await call("GET", "/v1/review/redemptions", { query: { status: filter.value, limit: 20, cursor } });
        maxWait = Math.max(maxWait, ...page.items.map((r) => r.waiting_seconds || 0));
        summary.textContent = maxWait ? `最久等待 Oldest waiting: ${duration(maxWait)}` : "";
        return page;
      },
      row: (r) => requestCard(r, maxWait, (stale, err) => {
        say(notice, `兑现申请 Redemption ${stale.redemption_id}: ${err.message} · 已刷新 Queue reloaded`, "error");
        reload();
      }),
    });
    const refresh = h("button", { type: "button", class: "secondary" }, "刷新 Refresh");
    const reload = () => {
      maxWait = 0;
      list.reload();
    };
    refresh.addEventListener("click", reload);
    filter.addEventListener("change", reload);
    main.replaceChildren(
      h("h2", {}, this.title),
      h("div", { class: "toolbar" }, h("label", {}, "状态 Status ", filter), refresh),
      summary,
      notice,
      list.element);
    reload();
  },
};
