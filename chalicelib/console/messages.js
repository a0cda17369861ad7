// An order's conversation (联系商家客服), newest first and paged with the API's cursors.
// The API returns the text HTML-escaped: it is decoded and shown as text, never as HTML.

import { call } from "./api.js";
import { h, pagedList, problemText, say, statusLine, unescapeHtml, when } from "./ui.js";

export const MAX_MESSAGE = 1000; // characters, as the API's MessageIn allows
const AUTHORS = { consumer: "买家 Buyer", merchant: "商家 Merchant", support: "客服 Support" };

export function messageRow(m) {
  return h("div", { class: "message", "data-author": m.author },
    h("p", { class: "meta" }, `${AUTHORS[m.author] || m.author} · ${when(m.created_at)}`),
    h("p", { class: "text" }, unescapeHtml(m.text)));
}

function sendForm(path, onSent) {
  const text = h("textarea", { name: "text", rows: 3, maxlength: MAX_MESSAGE, required: true, autocomplete: "off" });
  const count = h("span", { class: "muted count", "aria-live": "off" }, `0/${MAX_MESSAGE}`);
  const submit = h("button", { type: "submit" }, "发送 Send");
  const status = statusLine();
  const form = h("form", { class: "send", "aria-label": "发送留言 Send a message" }, h("label", {}, "回复 Reply ", text), h("div", { class: "actions" }, submit, count), status);
  text.addEventListener("input", () => {
    count.textContent = `${[...text.value].length}/${MAX_MESSAGE}`;
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    say(status, "发送中… Sending…", "busy");
    try {
      // The text as typed: the API trims it and refuses a blank one with its own detail.
      const sent = await call("POST", path, { body: { text: text.value } });
      text.value = "";
      count.textContent = `0/${MAX_MESSAGE}`;
      say(status, `已发送 Sent · ${when(sent.created_at)}`, "ok");
      onSent(sent);
    } catch (err) {
      say(status, problemText(err), "error");
    } finally {
      submit.disabled = false;
    }
  });
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

// A button that opens (and closes) the thread under it, loading it on first open.
export function threadToggle(path, options) {
  const button = h("button", { type: "button", class: "secondary", "aria-expanded": "false" }, "留言 Messages");
  const slot = h("div", { class: "thread-slot", hidden: true });
  button.addEventListener("click", () => {
    const open = slot.hidden;
    if (open && !slot.firstChild) slot.append(messageThread(path, options));
    slot.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
  });
  return [h("div", { class: "actions" }, button), slot];
}
