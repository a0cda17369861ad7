// Signing in. Local stage: choose a demo user, the API mints its token (/v1/dev/tokens).
// Deployed stages: the Cognito hosted UI, authorization code + PKCE; the code comes back in
// the page's query string, is exchanged for tokens at once and removed from the address bar.

import { call, consoleUrl, startSession } from "./api.js";
import { h, problemText } from "./ui.js";

const PKCE_KEY = "paylater.console.pkce";

export const DEMO_USERS = [
  { sub: "demo-reviewer", roles: ["reviewer"], label: "审核员 Reviewer (demo-reviewer)" },
  { sub: "demo-merchant", roles: ["merchant"], label: "商家 Merchant (demo-merchant)" },
  { sub: "demo-support", roles: ["support"], label: "客服 Support (demo-support)" },
  { sub: "demo-risk", roles: ["risk"], label: "风控 Risk (demo-risk)" },
];

function base64url(bytes) {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomText(n) {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

async function s256(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return base64url(new Uint8Array(digest));
}

export async function startHostedSignIn(config) {
  const verifier = randomText(48);
  const state = randomText(16);
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state }));
  const url = new URL(`https://${config.cognito_domain}/oauth2/authorize`);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: config.client_id,
    redirect_uri: consoleUrl,
    scope: "openid email profile",
    state,
    code_challenge: await s256(verifier),
    code_challenge_method: "S256",
  }).toString();
  window.location.assign(url.href);
}

// Back from the hosted UI: exchange the code (once) and start the session with the ID token.
export async function completeHostedSignIn(config) {
  const params = new URLSearchParams(window.location.search);
  if (!params.has("code") && !params.has("error")) return null;
  window.history.replaceState(null, "", consoleUrl);
  const saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "null");
  sessionStorage.removeItem(PKCE_KEY);
  if (params.has("error")) throw new Error(params.get("error_description") || params.get("error"));
  if (!saved || saved.state !== params.get("state")) throw new Error("登录状态不符，请重新登录 Sign-in state mismatch");
  const response = await fetch(`https://${config.cognito_domain}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: config.client_id,
      code: params.get("code"),
      redirect_uri: consoleUrl,
      code_verifier: saved.verifier,
    }),
    credentials: "omit",
    referrerPolicy: "no-referrer",
  });
  if (!response.ok) throw new Error("无法完成登录 Could not complete the sign-in");
  const tokens = await response.json();
  return startSession(tokens.id_token, config.roles_claim);
}

export function hostedSignOutUrl(config) {
  const url = new URL(`https://${config.cognito_domain}/logout`);
  url.search = new URLSearchParams({ client_id: config.client_id, logout_uri: consoleUrl }).toString();
  return url.href;
}

// The sign-in screen: a demo user (local) or the hosted UI's button (cloud).
export function signInForm(config, onSignedIn) {
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
  if (config.sign_in !== "local" && !config.cognito_domain) {
    return h("p", { class: "card status", "data-kind": "error", role: "alert" },
      "此部署未配置登录 Console sign-in is not configured for this stage (ConsoleCognitoDomain).");
  }
  if (config.sign_in !== "local") {
    const button = h("button", { type: "button" }, "登录 Sign in");
    button.addEventListener("click", () => startHostedSignIn(config));
    return h("section", { class: "card signin", "aria-labelledby": "signin-title" },
      h("h2", { id: "signin-title" }, "登录 Sign in"), button, status);
  }
  const choices = DEMO_USERS.map((u, i) =>
    h("label", { class: "choice" },
      h("input", { type: "radio", name: "demo-user", value: u.sub, checked: i === 0 ? "" : null }),
      ` ${u.label}`));
  const form = h("form", { class: "card signin", "aria-labelledby": "signin-title" },
    h("h2", { id: "signin-title" }, "选择演示用户 Choose a demo user"),
    h("fieldset", {}, h("legend", {}, "演示用户 Demo user (local stage)"), ...choices),
    h("button", { type: "submit" }, "登录 Sign in"),
    status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const sub = new FormData(form).get("demo-user");
    const user = DEMO_USERS.find((u) => u.sub === sub);
    status.textContent = "登录中… Signing in…";
    try {
      const minted = await call("POST", "/v1/dev/tokens", { body: { sub: user.sub, roles: user.roles }, anonymous: true });
      onSignedIn(startSession(minted.token, config.roles_claim));
    } catch (err) {
      status.textContent = problemText(err);
    }
  });
  return form;
}
