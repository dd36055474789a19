// app.js: login, navigation and the page router (#/<page>/<args…>).
import { get, post, setCSRF } from "./api.js";
import { show, errorBox } from "./ui.js";
import * as overview from "./pages/overview.js";
import * as topics from "./pages/topics.js";
import * as groups from "./pages/groups.js";
import * as txns from "./pages/txns.js";
import * as dlq from "./pages/dlq.js";
import * as messages from "./pages/messages.js";
import * as delayed from "./pages/delayed.js";

const pages = { overview, topics, groups, txns, dlq, messages, delayed };
const $ = (id) => document.getElementById(id);
let cleanup = null;

function loggedIn(s) {
  setCSRF(s.csrf);
  $("login").hidden = true;
  $("nav").hidden = false;
  $("logout").hidden = false;
  $("who").textContent = s.user + " @ " + s.server;
  route();
}

function loggedOut(message) {
  if (cleanup) { cleanup(); cleanup = null; }
  setCSRF("");
  show($("view"));
  $("nav").hidden = true;
  $("logout").hidden = true;
  $("who").textContent = "";
  $("login").hidden = false;
  $("login-error").textContent = message || "";
}

// route renders the page the hash names; a page returns its cleanup
// (stopping its polling).
function route() {
  if ($("login").hidden === false) return;
  const parts = (location.hash.replace(/^#\/?/, "") || "overview").split("/").map(decodeURIComponent);
  const name = pages[parts[0]] ? parts[0] : "overview";
  if (cleanup) { cleanup(); cleanup = null; }
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.getAttribute("href") === "#/" + name);
  const view = $("view");
  view.dataset.page = name;
  show(view);
  try {
    cleanup = pages[name].render(view, parts.slice(1)) || null;
  } catch (err) {
    show(view, errorBox(err));
  }
}

function methodChanged() {
  const m = $("login-method").value;
  for (const k of ["password", "token", "creds"]) document.querySelector(".m-" + k).hidden = m !== k;
}

async function submitLogin(ev) {
  ev.preventDefault();
  const m = $("login-method").value;
  const body = {};
  if (m === "password") { body.user = $("login-user").value; body.password = $("login-password").value; }
  if (m === "token") body.token = $("login-token").value;
  if (m === "creds") {
    const f = $("login-creds-file").files[0];
    body.creds = f ? await f.text() : $("login-creds").value;
  }
  if ($("login-inbox").value) body.inbox_prefix = $("login-inbox").value;
  $("login-error").textContent = "";
  try {
    loggedIn(await post("login", body));
  } catch (err) {
    $("login-error").textContent = err.message;
  }
}

window.addEventListener("hashchange", route);
window.addEventListener("jetmq-logout", () => loggedOut("Your session ended: log in again."));
$("login-form").addEventListener("submit", submitLogin);
$("login-method").addEventListener("change", methodChanged);
$("logout").addEventListener("click", async () => {
  try { await post("logout"); } catch { /* gone already */ }
  loggedOut("Logged out.");
});

get("session").then(loggedIn, () => loggedOut(""));
