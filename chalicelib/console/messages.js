// An order's conversation (联系商家客服), newest first and paged with the API's cursors.
// The text is shown as sent (the API returns it exactly as typed), as text, never as HTML.

import { call } from "./api.js";
import { hasDraft, keepDraft } from "./nav.js";
import { h, onSubmit, pagedList, statusLine, when } from "./ui.js";

export const MAX_MESSAGE = 1000; // characters, as the API's MessageIn allows
const AUTHORS = { consumer: "买家 Buyer", merchant: "商家 Merchant", support: "客服 Support" };

export function messageRow(m) {
  return h("div", { class: "message", "data-author": m.author },
    h("p", { class: "meta" }, `${AUTHORS[m.author] || m.author} · ${when(m.created_at)}`),
    h("p", { class: "text" }, m.text));
}

// The API counts characters (code points), not UTF-16 units: an emoji is one of 1,000.
export function codePoints(text) {
  return [...text].length;
}

function sendForm(path, onSent) {
  const text = h("textarea", { name: "text", rows: 3, required: true, autocomplete: "off" });
  const draft = keepDraft(text, `message:${path}`);
  const count = h("span", { class: "muted count", "aria-live": "off" });
  const counted = () => {
    if (codePoints(text.value) > MAX_MESSAGE) text.value = [...text.value].slice(0, MAX_MESSAGE).join("");
    count.textContent = `${codePoints(text.value)}/${MAX_MESSAGE}`;
  };
  counted();
  const submit = h("button", { type: "submit" }, "发送 Send");
  const status = statusLine();
  const form = h("form", { class: "send", "aria-label": "发送留言 Send a message" }, h("label", {}, "回复 Reply ", text), h("div", { class: "actions" }, submit, count), status);
  text.addEventListener("input", counted);
  onSubmit(form, submit, status, async () => {
    if (!text.value.trim()) {
      text.focus();
      throw new Error("请先输入留言 Write a message first");
    }
    const sent = await call("POST", path, { body: { text: text.value } });
    text.value = "";
    draft.clear();
    counted();
    onSent(sent);
    return `已发送 Sent · ${when(sent.created_at)}`;
  }, { busy: "发送中… Sending…" });
  return form;
}

// path: the thread's API path (GET lists it; POST sends, when `canSend`).
export function messageThread(path, { canSend }) {
  const list = pagedList({
    label: "留言 Messages",
    empty: "还没有留言 No messages yet",
    load: (cursor) => call("GET", path, { query: { limit: 20, cursor } }),
    row: messageRow,
  });
  list.reload();
  return h("section", { class: "thread", "aria-label": "留言 Messages" },
    canSend ? sendForm(path, () => list.reload()) : null,
    list.element);
}

// A button that opens (and closes) the thread under it, loading it on first open; open at
// once when a draft of a reply waits in it (typed before the session expired).
export function threadToggle(path, options) {
  const button = h("button", { type: "button", class: "secondary", "aria-expanded": "false" }, "留言 Messages");
  const slot = h("div", { class: "thread-slot", hidden: true });
  const toggle = () => {
    const open = slot.hidden;
    if (open && !slot.firstChild) slot.append(messageThread(path, options));
    slot.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
  };
  button.addEventListener("click", toggle);
  if (options.canSend && hasDraft(`message:${path}`)) toggle();
  return [h("div", { class: "actions" }, button), slot];
}
