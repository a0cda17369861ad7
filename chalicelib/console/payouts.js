// Merchant payouts (打款, T+1): the payout account (only its last four digits are ever
// shown back), the payouts with what each covered, and the 30 days of settlements and
// payouts the settlements chart draws.

import { call } from "./api.js";
import { chinaDate, lastDays } from "./chart.js";
import { h, hint, onSubmit, pagedList, problemText, statusLine, when, yuan } from "./ui.js";

const PAYOUT_STATUS = { sending: "打款中 Sending", paid: "已打款 Paid", failed: "打款失败 Failed" };
const FAILURES = { account_invalid: "账户无效 Account invalid", account_frozen: "账户冻结 Account frozen" };
const PAYOUTS = "/v1/merchant/payouts";
const SETTLEMENTS = "/v1/merchant/settlements";

function accountCard(account) {
  return h("p", { class: "bank-card", "aria-label": "收款账户 Payout account" },
    h("span", {}, account.bank), h("span", { class: "digits" }, `•••• ${account.last4}`),
    h("span", { class: "muted" }, account.account_name_masked || ""));
}

// The account on file (GET /v1/merchant/payout-account: masked name, last four, bank; 404
// when none is set yet). The API never returns the account number: the form's number is
// cleared once it is saved.
async function accountOnFile() {
  try {
    return await call("GET", "/v1/merchant/payout-account");
  } catch (err) {
    if (err.status === 404) return null;
    throw err;
  }
}

function onFile(account) {
  return account
    ? [h("p", { class: "muted" }, `当前收款账户 Account on file · ${when(account.updated_at)}`), accountCard(account)]
    : [h("p", { class: "muted" }, "尚未设置收款账户 No account yet")];
}

function accountForm(account) {
  const current = h("div", {}, onFile(account));
  const name = h("input", { type: "text", name: "account_name", required: true, maxlength: 100, autocomplete: "organization" });
  const number = h("input", {
    type: "text", name: "account_number", required: true, inputmode: "numeric", pattern: "[0-9 ]{8,40}", autocomplete: "off",
  });
  const bank = h("input", { type: "text", name: "bank", required: true, maxlength: 100, autocomplete: "off" });
  const submit = h("button", { type: "submit" }, "保存 Save");
  const status = statusLine();
  const form = h("form", { class: "card account", "aria-labelledby": "account-title" },
    h("h4", { id: "account-title" }, "收款账户 Payout account"), current,
    h("label", {}, "户名 Account name ", name),
    h("label", {}, "账号 Account number ", number), hint(number, "8–40 位数字，可含空格 8–40 digits, spaces allowed"),
    h("label", {}, "开户行 Bank ", bank),
    h("div", { class: "actions" }, submit), status);
  onSubmit(form, submit, status, async () => {
    const saved = await call("PUT", "/v1/merchant/payout-account", {
      body: { account_name: name.value.trim(), account_number: number.value.trim(), bank: bank.value.trim() },
    });
    number.value = "";
    current.replaceChildren(...onFile(saved));
    return `已保存 Saved · ${saved.bank} •••• ${saved.last4}`;
  }, { busy: "保存中… Saving…" });
  return form;
}

// Only a paid payout has a "paid at"; a failed one says when it failed and why.
function outcome(p) {
  if (p.status === "paid") return [h("dt", {}, "到账 Paid at"), h("dd", {}, when(p.settled_at))];
  if (p.status === "failed") {
    return [
      h("dt", {}, "失败于 Failed at"), h("dd", { "data-kind": "bad" }, when(p.settled_at)),
      h("dt", {}, "失败原因 Failure"), h("dd", { "data-kind": "bad" }, FAILURES[p.failure_reason] || p.failure_reason || "—"),
    ];
  }
  return [h("dt", {}, "发出 Sent"), h("dd", {}, when(p.created_at))];
}

function payoutCard(p) {
  const titleId = `payout-${p.payout_id}`;
  const covered = (p.entries || []).map((e) =>
    h("li", {}, `${when(e.posted_at)} · ${e.kind} · ${e.order_id || "—"} · ${yuan(e.amount_fen)}`));
  return h("article", { class: "card payout", "aria-labelledby": titleId, "data-status": p.status },
    h("header", {}, h("h3", { id: titleId }, `打款 Payout ${p.payout_id}`), h("span", { class: "amount" }, yuan(p.amount_fen))),
    h("dl", { class: "facts" },
      h("dt", {}, "状态 Status"), h("dd", { "data-kind": p.status === "failed" ? "bad" : null }, PAYOUT_STATUS[p.status] || p.status),
      h("dt", {}, "截止 Cut-off"), h("dd", {}, when(p.cutoff)),
      h("dt", {}, "收款 To"), h("dd", {}, `${p.bank} •••• ${p.last4}`),
      outcome(p)),
    h("details", { class: "covered" },
      h("summary", {}, `含 ${p.entry_count} 笔结算 Covers ${p.entry_count} settlement entries`),
      h("ul", {}, covered)));
}

export function payoutsSection() {
  const payable = h("p", { class: "big" }, "—");
  const accountSlot = h("div", {}, h("p", { class: "muted" }, "加载中… Loading…"));
  accountOnFile().then(
    (account) => accountSlot.replaceChildren(accountForm(account)),
    (err) => accountSlot.replaceChildren(h("p", { class: "status", "data-kind": "error" }, problemText(err))));
  const list = pagedList({
    label: "打款记录 Payouts",
    empty: "暂无打款 No payouts yet",
    load: async (cursor) => {
      const page = await call("GET", PAYOUTS, { query: { limit: 20, cursor } });
      payable.textContent = `待打款 Payable ${yuan(page.payable_fen)}`;
      return page;
    },
    row: payoutCard,
  });
  list.reload();
  return h("section", { "aria-labelledby": "payouts-title" },
    h("h3", { id: "payouts-title" }, "打款 Payouts"), payable, accountSlot, list.element);
}

// The items of a newest-first list from `since` (a China date) on, a few pages at most.
async function recent(path, page, stamp, since) {
  const out = [];
  for (let pages = 0; pages < 10; pages += 1) {
    for (const item of page.items) {
      if (chinaDate(new Date(stamp(item))) < since) return out;
      out.push(item);
    }
    if (!page.next_cursor) break;
    page = await call("GET", path, { query: { limit: 100, cursor: page.next_cursor } });
  }
  return out;
}

function add(values, day, fen) {
  values[day] = (values[day] || 0) + fen;
}

// The 30 China days up to now (or up to the newest entry, when the local stage's clock was
// moved ahead), with what was settled, reversed and paid out each day. Payout legs in the
// settlement entries (`payout_*`) are the payouts series, drawn from the payouts themselves:
// paid ones, on the day they were paid.
export async function moneyByDay() {
  const [settlements, payouts] = await Promise.all([
    call("GET", SETTLEMENTS, { query: { limit: 100 } }),
    call("GET", PAYOUTS, { query: { limit: 100 } }),
  ]);
  const newest = [settlements.items[0]?.posted_at, payouts.items[0]?.settled_at, payouts.items[0]?.created_at];
  const end = new Date(Math.max(Date.now(), ...newest.filter(Boolean).map((t) => Date.parse(t))));
  const dates = lastDays(end, 30);
  const settled = {};
  const reversed = {};
  const paid = {};
  for (const e of await recent(SETTLEMENTS, settlements, (e) => e.posted_at, dates[0])) {
    if (e.kind.startsWith("payout_")) continue;
    add(e.amount_fen >= 0 ? settled : reversed, chinaDate(new Date(e.posted_at)), Math.abs(e.amount_fen));
  }
  for (const p of await recent(PAYOUTS, payouts, (p) => p.created_at, dates[0])) {
    if (p.status === "paid") add(paid, chinaDate(new Date(p.settled_at || p.created_at)), p.amount_fen);
  }
  return {
    dates,
    series: [
      { name: "结算 Settled", className: "s-settled", values: settled },
      { name: "冲回 Reversed", className: "s-reversed", values: reversed },
      { name: "打款 Payouts", className: "s-payouts", values: paid },
    ],
  };
}
