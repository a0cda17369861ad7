// An order's payment schedule (分期): each part's due date, amount (principal + fee share),
// status and when it was paid, and who pays the fee. Merchants and support read it the same
// way; a single payment is shown as a plan of one part.

import { call } from "./api.js";
import { h, problemText, say, statusLine, when, yuan } from "./ui.js";

export const PART_STATUS = {
  scheduled: "待还 Scheduled",
  due: "到期 Due",
  paid: "已还 Paid",
  overdue: "逾期 Overdue",
  waived: "免除 Waived",
  refunded: "已退 Refunded",
};

const FEE_PAYER = { consumer: "买家 Buyer", merchant: "商家 (免息) Merchant" };

export function scheduleTable(plan) {
  return h("div", { class: "scroll" }, h("table", { class: "lines" },
    h("thead", {}, h("tr", {},
      ["期 Part", "到期 Due", "金额 Amount", "本金 Principal", "手续费 Fee", "状态 Status", "还款 Paid"]
        .map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, (plan.parts || []).map((p) => h("tr", {},
      h("td", {}, `${p.seq}/${plan.parts_count}`), h("td", {}, p.due_at ? when(p.due_at) : "收货后 After receipt"),
      h("td", { class: "amount" }, yuan(p.amount_fen)), h("td", { class: "amount" }, yuan(p.principal_fen)),
      h("td", { class: "amount" }, yuan(p.fee_fen)), h("td", {}, PART_STATUS[p.status] || p.status),
      h("td", {}, p.paid_at ? when(p.paid_at) : "—"))))));
}

// `path`: the caller's view of the schedule (merchant or support route).
export function scheduleSection(path) {
  const status = statusLine();
  const body = h("div", {}, status);
  const section = h("section", { "aria-label": "还款计划 Payment schedule" }, h("h4", {}, "还款计划 Payment schedule"), body);
  say(status, "加载中… Loading…", "busy");
  call("GET", path).then((plan) => {
    body.replaceChildren(
      h("p", { class: "muted" },
        `${plan.parts_count} 期 parts · 手续费 Fee ${yuan(plan.fee_fen)} (${FEE_PAYER[plan.fee_payer] || plan.fee_payer})` +
        ` · 年化 APR ${(plan.apr_bps / 100).toFixed(2)} % · 提前结清 Payoff ${yuan(plan.payoff_fen)}`),
      scheduleTable(plan));
  }, (err) => say(status, problemText(err), "error"));
  return section;
}
