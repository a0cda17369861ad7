// 开发者 Webhooks (merchant): endpoints with their secret shown once, a test ping, secret
// roll, enable/delete; the event log with each attempt (time, status, latency, answer),
// redeliver one event, replay an endpoint's events since a time.

import { call } from "./api.js";
import { h, onSubmit, pagedList, problemText, say, statusLine, when } from "./ui.js";

const ENDPOINTS = "/v1/merchant/webhook-endpoints";
const EVENTS = "/v1/merchant/webhook-events";
// An event no endpoint was subscribed to when it happened is "delivered" with no attempt: it
// was sent nowhere (a replay sends it).
const NOT_SENT = "未发送（当时无订阅端点）Not sent: no endpoint subscribed";
const DELIVERY = { pending: "待送达 Pending", held: "暂停 Held", delivered: "已送达 Delivered", failed: "失败 Failed" };

// The secret is in this answer only: shown in a box the merchant copies from.
function secretBox(secret) {
  return h("p", { class: "status", "data-kind": "ok", role: "status" },
    "签名密钥（只显示这一次）Signing secret, shown once: ", h("code", {}, secret));
}

function action(label, run, status, { kind = "secondary" } = {}) {
  const button = h("button", { type: "button", class: kind }, label);
  button.addEventListener("click", async () => {
    button.disabled = true;
    say(status, "处理中… Working…", "busy");
    try {
      const done = await run();
      if (done instanceof Node) status.replaceChildren(done);
      else say(status, done || "完成 Done", "ok");
    } catch (err) {
      say(status, problemText(err), "error");
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

function endpointCard(e, reload) {
  const titleId = `hook-${e.endpoint_id}`;
  const status = statusLine();
  const path = `${ENDPOINTS}/${e.endpoint_id}`;
  const since = h("input", { type: "datetime-local", name: "since", "aria-label": "重发起始时间 Replay since (UTC+8)" });
  const buttons = [
    action("发送测试 Send test", async () => `已发送 ping Sent: ${(await call("POST", `${path}/test`)).event_id}`, status),
    action("轮换密钥 Roll secret", async () => secretBox((await call("POST", `${path}/secret`, { body: {} })).secret), status),
    action("重发 Replay", async () => {
      if (!since.value) throw new Error("请选择时间 Choose a time");
      const body = { since: new Date(Date.parse(`${since.value}+08:00`)).toISOString() }; // typed in China time
      return `已重发 Replayed ${(await call("POST", `${path}/replay`, { body })).replayed}`;
    }, status),
  ];
  if (e.status === "disabled") {
    buttons.unshift(action("启用 Enable", async () => {
      await call("PUT", path, { body: { enabled: true } });
      reload();
    }, status, { kind: "primary" }));
  }
  buttons.push(action("删除 Delete", async () => {
    await call("DELETE", path);
    reload();
  }, status));
  return h("article", { class: "card", "aria-labelledby": titleId, "data-status": e.status },
    h("header", {}, h("h4", { id: titleId }, e.url)),
    h("dl", { class: "facts" },
      h("dt", {}, "事件 Events"), h("dd", {}, e.events.join(", ")),
      h("dt", {}, "状态 Status"), h("dd", { "data-kind": e.status === "disabled" ? "bad" : null },
        e.status === "disabled" ? `停用 Disabled (${e.disabled_reason})` : "启用 Enabled"),
      h("dt", {}, "创建 Created"), h("dd", {}, when(e.created_at))),
    h("label", {}, "重发起始（北京时间）Replay since (UTC+8) ", since),
    h("div", { class: "actions" }, ...buttons), status);
}

function createForm(onCreated) {
  const url = h("input", { type: "url", name: "url", required: true, placeholder: "https://shop.example.com/hooks" });
  const events = h("input", { type: "text", name: "events", value: "*", required: true });
  const submit = h("button", { type: "submit" }, "添加 Add endpoint");
  const status = statusLine();
  const shown = h("div", {});
  const form = h("form", { class: "card", "aria-labelledby": "hook-new" },
    h("h4", { id: "hook-new" }, "新端点 New endpoint"),
    h("label", {}, "URL ", url),
    h("label", {}, "事件（逗号分隔，* 为全部）Events (comma-separated, * for all) ", events),
    h("div", { class: "actions" }, submit), status, shown);
  onSubmit(form, submit, status, async () => {
    const body = { url: url.value.trim(), events: events.value.split(",").map((s) => s.trim()).filter(Boolean) };
    const made = await call("POST", ENDPOINTS, { body });
    shown.replaceChildren(secretBox(made.secret));
    onCreated();
    return `已添加 Added ${made.endpoint_id}`;
  });
  return form;
}

function eventCard(e) {
  const titleId = `evt-${e.event_id}`;
  const status = statusLine();
  const attempts = e.attempts.map((a) => h("li", {},
    `${when(a.at)} · ${a.endpoint_id} · ${a.status || a.error || "—"} · ${a.latency_ms} ms · ${a.answer}`));
  return h("article", { class: "card", "aria-labelledby": titleId, "data-status": e.delivery },
    h("header", {}, h("h4", { id: titleId }, `${e.type} · ${e.object_kind} ${e.object_id}`)),
    h("dl", { class: "facts" },
      h("dt", {}, "事件 Event"), h("dd", {}, e.event_id),
      h("dt", {}, "时间 At"), h("dd", {}, when(e.created_at)),
      h("dt", {}, "序号 Sequence"), h("dd", {}, String(e.sequence)),
      h("dt", {}, "投递 Delivery"), h("dd", { "data-kind": e.delivery === "failed" ? "bad" : null },
        e.delivery === "delivered" && !e.attempts.length ? NOT_SENT : DELIVERY[e.delivery] || e.delivery)),
    h("details", {}, h("summary", {}, `尝试 ${attempts.length} 次 Attempts: ${attempts.length}`), h("ul", {}, attempts)),
    h("div", { class: "actions" },
      action("重新发送 Redeliver", async () => `已重新发送 Redelivery queued: ${(await call("POST", `${EVENTS}/${e.event_id}/redelivery`)).delivery}`, status)),
    status);
}

export function webhooksSection() {
  const endpoints = pagedList({
    label: "Webhook 端点 Webhook endpoints",
    empty: "暂无端点 No endpoints yet",
    load: () => call("GET", ENDPOINTS),
    row: endpointCard,
  });
  const filter = h("select", { name: "delivery", "aria-label": "投递状态 Delivery state" },
    h("option", { value: "" }, "全部 All"),
    ...["pending", "delivered", "failed"].map((s) => h("option", { value: s }, DELIVERY[s])));
  const events = pagedList({
    label: "事件 Events",
    empty: "暂无事件 No events yet",
    load: (cursor) => call("GET", EVENTS, { query: { limit: 20, cursor, delivery: filter.value || undefined } }),
    row: eventCard,
  });
  filter.addEventListener("change", () => events.reload());
  endpoints.reload();
  events.reload();
  return h("section", { "aria-labelledby": "webhooks-title" },
    h("h3", { id: "webhooks-title" }, "开发者 Webhooks"),
    createForm(() => endpoints.reload()), endpoints.element,
    h("h4", {}, "事件记录（30 天）Event log, 30 days"),
    h("div", { class: "toolbar" }, h("label", {}, "状态 State ", filter)), events.element);
}
