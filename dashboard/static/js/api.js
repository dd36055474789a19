// api.js: the JSON endpoints under /ui/api/, with the session's CSRF token.

let csrf = "";

export class ApiError extends Error {
  constructor(status, e) {
    super(e.description || `HTTP ${status}`);
    this.code = e.code || status;
    this.kind = e.kind || "http";
  }
}

export function setCSRF(token) { csrf = token || ""; }

// api sends one request; a failure throws an ApiError with the code,
// kind ("auth", "permission", "jetmq", …) and description.
export async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: "same-origin" };
  if (method !== "GET") opts.headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const res = await fetch("/ui/api/" + path, opts);
  const text = await res.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch { data = { error: { description: text } }; }
  if (!res.ok || data.error) {
    const err = new ApiError(res.status, data.error || {});
    if (err.kind === "auth" && path !== "login") window.dispatchEvent(new CustomEvent("jetmq-logout"));
    throw err;
  }
  return data;
}

export const get = (p) => api("GET", p);
export const post = (p, b) => api("POST", p, b === undefined ? {} : b);
export const put = (p, b) => api("PUT", p, b);
export const del = (p) => api("DELETE", p);

// enc quotes a path segment.
export const enc = encodeURIComponent;

// qs builds a query string of the non-empty values.
export function qs(o) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null && v !== "") p.set(k, v);
  const s = p.toString();
  return s ? "?" + s : "";
}
