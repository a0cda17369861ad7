// The console's shell: read how this stage signs in, sign in, then one tab per screen the
// user's roles open. A new screen is one module in SCREENS (its `id`, `role`, `title`, and
// `render(main, rest)`, where `rest` is the address hash after the screen's id: the view).

import { call, currentSession, endSession, whenUnauthorized } from "./api.js";
import { completeHostedSignIn, hostedSignOutUrl, signInForm } from "./auth.js";
import { merchantScreen } from "./merchant.js";
import { currentRoute, dropDrafts, focusHeading, go, onRoute } from "./nav.js";
import { reviewerScreen } from "./reviewer.js";
import { riskScreen } from "./risk.js";
import { supportScreen } from "./support.js";
import { h, problemText } from "./ui.js";

const SCREENS = [reviewerScreen, merchantScreen, supportScreen, riskScreen];

const main = document.getElementById("main");
const tabs = document.getElementById("tabs");
const who = document.getElementById("who");
let config = null;

function showSignIn(message) {
  onRoute(() => {}); // Back on the sign-in page stays there
  tabs.replaceChildren();
  who.replaceChildren();
  main.replaceChildren(
    ...(message ? [h("p", { class: "status", "data-kind": "error", role: "alert" }, message)] : []),
    signInForm(config, showConsole));
}

function signOut() {
  endSession();
  dropDrafts();
  go([], { replace: true });
  if (config.sign_in === "cognito") {
    window.location.assign(hostedSignOutUrl(config));
    return;
  }
  showSignIn();
}

function showConsole(session) {
  const screens = SCREENS.filter((s) => session.roles.includes(s.role));
  const out = h("button", { type: "button", class: "secondary" }, "退出 Sign out");
  out.addEventListener("click", signOut);
  who.replaceChildren(h("span", {}, `${session.sub} · ${session.roles.join(", ")}`), out);
  if (!screens.length) {
    tabs.replaceChildren();
    main.replaceChildren(h("p", { class: "card" }, "此账号没有管理台角色 This account has no console role (merchant, reviewer, support, risk)."));
    return;
  }
  const buttons = screens.map((screen) => {
    const b = h("button", { type: "button", "aria-pressed": "false" }, screen.title);
    b.addEventListener("click", () => {
      go([screen.id]);
      open(screen, []);
    });
    return b;
  });
  function open(screen, rest) {
    buttons.forEach((b, i) => b.setAttribute("aria-pressed", String(screens[i] === screen)));
    return Promise.resolve(screen.render(main, rest)).catch((err) => {
      main.replaceChildren(h("p", { class: "status", "data-kind": "error" }, problemText(err)));
    });
  }
  // The address's view when it is one of this user's screens (back after a new sign-in).
  const route = (parts) => {
    const screen = screens.find((s) => s.id === parts[0]);
    if (!screen) go([screens[0].id], { replace: true });
    return open(screen || screens[0], screen ? parts.slice(1) : []);
  };
  onRoute(route);
  tabs.replaceChildren(...buttons);
  route(currentRoute()).then(() => focusHeading(main.querySelector("h2")));
}

async function boot() {
  try {
    config = await call("GET", "/console/config.json", { anonymous: true });
  } catch (err) {
    main.replaceChildren(h("p", { class: "status", "data-kind": "error" }, problemText(err)));
    return;
  }
  whenUnauthorized((err) => {
    endSession();
    showSignIn(`请重新登录 Please sign in again (${err.message})`);
  });
  try {
    const back = config.sign_in === "cognito" ? await completeHostedSignIn(config) : null;
    const session = back || currentSession();
    if (session) showConsole(session);
    else showSignIn();
  } catch (err) {
    showSignIn(problemText(err));
  }
}

boot();
