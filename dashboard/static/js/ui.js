// ui.js: element building, tables, messages and number formats.

// h builds an element: h("td", {class: "num"}, "3").
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// table renders rows with columns [{title, value(row), num}].
export function table(columns, rows, attrs) {
  const head = h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : null }, c.title)));
  const body = rows.map((r) => h("tr", {}, columns.map((c) => h("td", { class: c.num ? "num" : null }, c.value(r)))));
  if (rows.length === 0) body.push(h("tr", {}, h("td", { colspan: columns.length, class: "muted" }, "none")));
  return h("table", attrs || {}, h("thead", {}, head), h("tbody", {}, body));
}

// errorBox shows an API error: a permission error says so.
export function errorBox(err) {
  const what = err.kind === "permission" ? "Permission denied: " : err.kind === "jetmq" ? `jetmq error ${err.code}: ` : `Error ${err.code || ""}: `;
  return h("div", { class: "errorbox", "data-kind": err.kind || "error" }, what + err.message);
}

export const okBox = (text) => h("div", { class: "okbox" }, text);

// show replaces the content of el.
export function show(el, ...children) { el.replaceChildren(...children.flat().filter((c) => c)); }

// action runs f on click, showing its result or error in out; a button
// with confirm must be clicked twice.
export function button(label, f, opts = {}) {
  const b = h("button", { class: opts.class || null, id: opts.id || null, "data-action": opts.action || label });
  b.textContent = label;
  let armed = false;
  b.addEventListener("click", async (ev) => {
    ev.preventDefault();
    if (opts.confirm && !armed) {
      armed = true;
      b.textContent = opts.confirm;
      b.classList.add("armed");
      setTimeout(() => { armed = false; b.textContent = label; b.classList.remove("armed"); }, 5000);
      return;
    }
    armed = false;
    b.textContent = label;
    b.classList.remove("armed");
    b.disabled = true;
    try {
      const res = await f();
      if (opts.out) show(opts.out, okBox(opts.done ? opts.done(res) : "done"));
    } catch (err) {
      if (opts.out) show(opts.out, errorBox(err));
      else throw err;
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

export function input(name, attrs = {}) { return h("input", { name, id: attrs.id || null, ...attrs }); }

export function field(label, el) { return h("label", {}, label + " ", el); }

export function fmtInt(n) { return n === undefined || n === null ? "" : Number(n).toLocaleString("en-US"); }

export function fmtBytes(n) {
  if (!n) return "0 B";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}

export function fmtAge(ms) {
  if (ms === undefined || ms === null) return "";
  const s = Math.round(ms / 1000);
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + (s % 60) + "s";
  return Math.floor(s / 3600) + "h" + Math.floor((s % 3600) / 60) + "m";
}

export function fmtTime(t) {
  if (!t || t.startsWith("0001")) return "";
  return new Date(t).toISOString().replace("T", " ").replace("Z", "");
}

export const link = (href, text) => h("a", { href }, text);

export function badge(text, kind) { return h("span", { class: "badge " + (kind || "") }, text); }

// b64 turns base64 into bytes.
export function b64bytes(s) {
  const bin = atob(s || "");
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// bodyViews shows a body as text, JSON or hex.
export function bodyView(b64) {
  const bytes = b64bytes(b64);
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  const pre = h("pre", { class: "body" });
  const views = {
    text: () => text,
    json: () => { try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return "not JSON: " + e.message; } },
    hex: () => Array.from(bytes, (x, i) => (i % 16 === 0 ? (i ? "\n" : "") + i.toString(16).padStart(6, "0") + "  " : "") + x.toString(16).padStart(2, "0") + " ").join(""),
  };
  const pick = (k) => { pre.textContent = views[k](); pre.dataset.view = k; };
  pick("text");
  const bar = h("div", { class: "row" }, Object.keys(views).map((k) => h("button", { class: "secondary", "data-view": k, onclick: () => pick(k) }, k)));
  return h("div", {}, bar, pre);
}

// tile is one figure of a row of tiles: label k, value v; cls adds a class
// ("alert"), id names it, and name marks a value that is an id (cut to the
// tile's width, the whole of it as the tooltip).
export function tile(k, v, cls, id, name) {
  return h("div", { class: "tile " + (cls || ""), id: id || null }, h("div", { class: "k" }, k), h("div", { class: name ? "v id" : "v", title: name ? v : null }, v));
}
