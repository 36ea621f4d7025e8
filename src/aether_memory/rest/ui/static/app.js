// The dashboard's shell: hash routes, the API key form, and live updates: the namespace's
// change feed redraws a page as soon as something it shows changes; pages showing what the
// feed does not carry (a session's events, health, metrics) poll.
import { ApiError, follow, key } from "./api.js";
import { h, link } from "./dom.js";
import * as views from "./views.js";

const POLL_MS = 3000;
// A page the feed covers still polls, slowly, for what it does not notify (a new agent's
// first session write), and every POLL_MS while the feed is down.
const FEED_POLL_MS = 15000;
const NOTE_DELAY_MS = 100;  // notifications arriving together make one redraw

const ROUTES = [
  [/^$/, views.namespaces, []],
  [/^ns\/([^/]+)$/, views.namespace, ["ns"]],
  [/^ns\/([^/]+)\/memories$/, views.memories, ["ns"]],
  [/^ns\/([^/]+)\/memories\/([^/]+)$/, views.memory, ["ns", "id"]],
  [/^ns\/([^/]+)\/skills$/, views.skills, ["ns"]],
  [/^ns\/([^/]+)\/episodes$/, views.episodes, ["ns"]],
  [/^ns\/([^/]+)\/health$/, views.health, ["ns"]],
  [/^ns\/([^/]+)\/agents\/([^/]+)$/, views.agent, ["ns", "agent"]],
  [/^ns\/([^/]+)\/agents\/([^/]+)\/metrics$/, views.metrics, ["ns", "agent"]],
  [/^ns\/([^/]+)\/agents\/([^/]+)\/sessions\/([^/]+)$/, views.session, ["ns", "agent", "session"]],
];

const state = {
  config: { writable: false }, view: null, params: {}, query: {}, shown: null, timer: null, seq: 0,
  drawn: 0, feed: { ns: null, abort: null, up: false, timer: null },
};

function parse() {
  const raw = window.location.hash.replace(/^#\/?/, "");
  const [path, qs] = raw.split("?", 2);
  const query = Object.fromEntries(new URLSearchParams(qs || ""));
  for (const [pattern, view, names] of ROUTES) {
    const m = pattern.exec(path);
    if (m) {
      const params = {};
      names.forEach((n, i) => { params[n] = decodeURIComponent(m[i + 1]); });
      return { view, params, query };
    }
  }
  return { view: null, params: {}, query };
}

function status(text) {
  document.getElementById("status").textContent = text;
}

function crumbs(view, params) {
  const nav = document.getElementById("crumbs");
  const items = [link([], "namespaces"), ...(view ? view.crumbs(params) : []).map(([parts, text]) => link(parts, text))];
  const list = h("ol", null, items.map((a, i) => {
    if (i === items.length - 1) a.setAttribute("aria-current", "page");
    return h("li", null, a);
  }));
  nav.replaceChildren(list);
}

function problem(error) {
  if (error instanceof ApiError && error.status === 401) {
    const input = document.getElementById("api-key");
    return [h("h1", null, "An API key is needed"),
      h("p", { class: "note", id: "need-key" }, key.get() ? "This key is not known to the server: " + error.message : "Enter an API key above to see this server's memory."),
      h("p", null, h("button", { type: "button", onclick: () => input.focus() }, "Go to the key field"))];
  }
  if (error instanceof ApiError) {
    return [h("h1", null, `Error ${error.status}`), h("p", { class: "note", id: "error" }, `${error.code}: ${error.message}`)];
  }
  return [h("h1", null, "The server does not answer"), h("p", { class: "note", id: "error" }, String(error))];
}

// Renders the current route; `poll` re-renders only when the data changed, and keeps focus.
// `cause` (load, poll or feed) is left on the page as data-cause.
async function show({ poll = false, cause = poll ? "poll" : "load" } = {}) {
  const seq = ++state.seq;
  const { view, params, query } = state;
  const main = document.getElementById("main");
  if (!poll) main.dataset.state = "loading";
  if (!view) {
    main.replaceChildren(h("h1", null, "Not found"), h("p", null, link([], "Back to the namespaces")));
    ready(main);
    return;
  }
  let nodes;
  let signature;
  try {
    const data = await view.load(params, query);
    if (seq !== state.seq) return;  // the user moved on
    signature = JSON.stringify(data);
    state.drawn = Date.now();
    if (poll && signature === state.shown) {
      status("Up to date at " + new Date().toISOString().slice(11, 19) + " UTC");
      return;
    }
    const ctx = { writable: state.config.writable, refresh: () => show() };
    nodes = view.render(data, params, query, ctx);
  } catch (error) {
    if (seq !== state.seq) return;
    signature = "error:" + String(error);
    if (poll && signature === state.shown) return;
    nodes = problem(error);
  }
  const focused = document.activeElement;
  const focusKey = focused && main.contains(focused) ? focusId(focused) : null;
  main.replaceChildren(...[nodes].flat(Infinity).filter((n) => n));
  main.dataset.cause = cause;
  ready(main);
  state.shown = signature;
  document.title = view.title(params) + " · aether-memory";
  const how = cause === "feed" ? "Updated from the change feed" : poll ? "Updated" : "Loaded";
  status(how + " at " + new Date().toISOString().slice(11, 19) + " UTC");
  if (focusKey) {
    const again = [...main.querySelectorAll("a, button, input, select")].find((el) => focusId(el) === focusKey);
    if (again) again.focus();
  }
}

// Marks the page as drawn for the route in the address bar (tests and scripts wait on it).
function ready(main) {
  main.dataset.route = window.location.hash;
  main.dataset.state = "ready";
}

function focusId(el) {
  return el.id || `${el.tagName}|${el.getAttribute("href") || ""}|${el.textContent}`;
}

function isLive() {
  const { view, params, query } = state;
  if (!view || !document.getElementById("live").checked) return false;
  return typeof view.live === "function" ? view.live(params, query) : Boolean(view.live);
}

function typing() {
  const active = document.activeElement;
  return Boolean(active && ["INPUT", "SELECT", "TEXTAREA"].includes(active.tagName));
}

function schedule() {
  clearInterval(state.timer);
  state.timer = setInterval(() => {
    if (typing() || !isLive() || document.hidden) return;  // never redraw under typing
    const covered = state.feed.up && state.view && state.view.feed;
    if (covered && Date.now() - state.drawn < FEED_POLL_MS) return;
    show({ poll: true });
  }, POLL_MS);
}

// Follows the change feed of the namespace in view (one stream, moved when the namespace
// changes, closed when Live is unticked or no namespace is shown).
function followFeed(restart = false) {
  const feed = state.feed;
  const ns = document.getElementById("live").checked ? state.params.ns || null : null;
  if (ns === feed.ns && !restart) return;
  if (feed.abort) feed.abort.abort();
  Object.assign(feed, { ns, abort: null, up: false });
  document.body.dataset.feed = "closed";
  if (!ns) return;
  const abort = new AbortController();
  feed.abort = abort;
  const onState = (up) => {
    if (abort.signal.aborted) return;
    feed.up = up;
    document.body.dataset.feed = up ? "open" : "closed";
  };
  const onNote = () => {
    clearTimeout(feed.timer);
    feed.timer = setTimeout(() => {
      if (state.view && state.view.feed && isLive() && !typing()) show({ poll: true, cause: "feed" });
    }, NOTE_DELAY_MS);
  };
  follow(ns, onNote, onState, abort.signal);
}

function navigate(focusMain, restartFeed = false) {
  Object.assign(state, parse(), { shown: null });
  followFeed(restartFeed);
  crumbs(state.view, state.params);
  show().then(() => {
    if (focusMain) document.getElementById("main").focus({ preventScroll: true });
  });
}

async function start() {
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    if (response.ok) state.config = await response.json();
  } catch (_) { /* read-only */ }
  document.getElementById("mode").textContent = state.config.writable ? "Writable" : "Read-only";
  const form = document.getElementById("key-form");
  const input = document.getElementById("api-key");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    key.set(input.value.trim());
    input.value = "";
    status(key.get() ? "Key kept for this tab." : "No key.");
    navigate(false, true);
  });
  document.getElementById("key-forget").addEventListener("click", () => {
    key.set("");
    status("Key forgotten.");
    navigate(false, true);
  });
  document.getElementById("skip").addEventListener("click", (e) => {
    e.preventDefault();
    document.getElementById("main").focus();
  });
  window.addEventListener("hashchange", () => navigate(true));
  document.getElementById("live").addEventListener("change", () => followFeed());
  navigate(false);
  schedule();
}

start();
