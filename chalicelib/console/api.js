// The /v1 API as the signed-in user. The token lives in this module and in sessionStorage
// (gone when the tab closes); it is sent only in the Authorization header, never in a URL.

const SESSION_KEY = "paylater.console.session";

// The console is served at <base>/console/ and the API at <base>/v1/ (a stage prefix too).
export const apiBase = new URL("../", window.location.href);
export const consoleUrl = new URL("./", window.location.href).href;

let session = null;

export class ApiProblem extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || null;
    this.errors = problem.errors || [];
  }
}

function claims(token) {
  const part = token.split(".")[1] || "";
  const binary = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

export function startSession(token, rolesClaim) {
  const c = claims(token);
  const raw = c[rolesClaim] || c.roles || c["cognito:groups"] || [];
  const roles = Array.isArray(raw) ? raw : String(raw).split(",");
  session = { token, sub: c.sub, roles, exp: c.exp };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return session;
}

export function currentSession() {
  if (!session) {
    try {
      session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    } catch {
      session = null;
    }
  }
  // The local stage can move the service clock; the API says when a token is too old (401).
  return session;
}

export function endSession() {
  session = null;
  sessionStorage.removeItem(SESSION_KEY);
}

export function newIdempotencyKey() {
  return `console-${crypto.randomUUID()}`;
}

let onUnauthorized = () => {};
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

// One call: JSON in, JSON out; a problem+json answer becomes an ApiProblem with its detail.
export async function call(method, path, { body, query, idempotencyKey, anonymous } = {}) {
  const url = new URL(path.replace(/^\//, ""), apiBase);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  const s = currentSession();
  if (s && !anonymous) headers.Authorization = `Bearer ${s.token}`;
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
  } catch {
    throw new ApiProblem(0, { detail: "网络错误，请重试 Network error, please retry", code: "network" });
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const problem = data && typeof data === "object" ? data : { detail: `HTTP ${response.status}` };
    const err = new ApiProblem(response.status, problem);
    if (response.status === 401 && !anonymous) onUnauthorized(err);
    throw err;
  }
  return data;
}

// The API's own document says which routes this deployment has, so a screen whose routes
// are not there yet says so instead of failing (after-sale and payouts arrive later).
let documentPromise = null;
export function hasOperation(method, path) {
  documentPromise ||= call("GET", "/v1/openapi.json", { anonymous: true }).catch(() => ({ paths: {} }));
  return documentPromise.then((doc) => Boolean(doc.paths && doc.paths[path] && doc.paths[path][method.toLowerCase()]));
}
