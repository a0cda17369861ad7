// Where the user is and what they were typing. Each tab and view has its own address hash
// (#merchant/orders, #support/case/<id>), pushed as the user moves, so the browser's Back
// returns to the previous console view; and typed drafts (messages, notes) are kept in
// sessionStorage per user, so a session that expires mid-sentence loses nothing: after
// signing in again the user is back on the same view with the draft restored.

import { currentSession } from "./api.js";

const DRAFT = "paylater.console.draft:";
let router = () => {};

export function onRoute(fn) {
  router = fn;
}

export function currentRoute() {
  return window.location.hash.replace(/^#/, "").split("/").filter(Boolean).map(decodeURIComponent);
}

// Record a view the console now shows (the caller shows it).
export function go(parts, { replace = false } = {}) {
  const hash = parts.length ? `#${parts.map(encodeURIComponent).join("/")}` : "";
  if (hash === window.location.hash) return;
  const url = `${window.location.pathname}${window.location.search}${hash}`;
  if (replace) window.history.replaceState(null, "", url);
  else window.history.pushState(null, "", url);
}

window.addEventListener("popstate", () => router(currentRoute()));

// Move the keyboard focus to a new view's heading (announced by screen readers).
export function focusHeading(heading) {
  if (!heading) return;
  heading.setAttribute("tabindex", "-1");
  heading.focus();
}

function draftKey(key) {
  const s = currentSession();
  return `${DRAFT}${s ? s.sub : ""}:${key}`;
}

export function hasDraft(key) {
  return sessionStorage.getItem(draftKey(key)) !== null;
}

// Keep `field`'s text as a draft under `key`: restored now, saved as typed; `clear()` once sent.
export function keepDraft(field, key) {
  const k = draftKey(key);
  const saved = sessionStorage.getItem(k);
  if (saved !== null) field.value = saved;
  field.addEventListener("input", () => {
    if (field.value) sessionStorage.setItem(k, field.value);
    else sessionStorage.removeItem(k);
  });
  return { clear: () => sessionStorage.removeItem(k) };
}

// Signing out on purpose drops the drafts (an expired session keeps them).
export function dropDrafts() {
  for (const k of Object.keys(sessionStorage)) if (k.startsWith(DRAFT)) sessionStorage.removeItem(k);
}
