// The pages: each loads its data from the REST API, then renders it (as text only).
import { api, ApiError, seg } from "./api.js";
import { chart } from "./chart.js";
import { badge, dl, empty, h, json, link, num, route, section, table, when } from "./dom.js";

const ns = (p) => `/v1/namespaces/${seg(p.ns)}`;
const agentPath = (p) => `${ns(p)}/agents/${seg(p.agent)}`;
const sessionPath = (p) => `${agentPath(p)}/sessions/${seg(p.session)}`;

function go(hash) {
  window.location.hash = hash;
}

function pager(parts, query, nextCursor) {
  if (!nextCursor) return null;
  return h("p", { class: "pager" }, link(parts, "Next page", { ...query, cursor: nextCursor }));
}

function outcome(value) {
  const kind = value === "success" ? "ok" : value === "failure" || value === "error" ? "bad" : "";
  return badge(value, kind);
}

// -- namespaces --------------------------------------------------------------------------------
export const namespaces = {
  title: () => "Namespaces",
  crumbs: () => [],
  async load() {
    const access = await api("/v1/access");
    let listed = access.namespaces;
    let note = null;
    if (listed === null) {
      try {
        listed = (await api("/v1/namespaces", { query: { limit: 1000 } })).namespaces;
      } catch (e) {
        if (!(e instanceof ApiError) || e.status !== 403) throw e;
        listed = [];
        note = "This key reaches every namespace; listing them needs an admin key. Open one by name.";
      }
    }
    return { namespaces: listed, note };
  },
  render(data) {
    const input = h("input", { id: "open-ns", name: "ns", required: true, pattern: "[A-Za-z0-9_][A-Za-z0-9_.\\-]{0,127}" });
    const form = h("form", {
      class: "inline", onsubmit: (e) => { e.preventDefault(); go(route(["ns", input.value])); },
    }, h("label", { for: "open-ns" }, "Open a namespace"), input, h("button", { type: "submit" }, "Open"));
    return [
      h("h1", null, "Namespaces"),
      data.note && h("p", { class: "note" }, data.note),
      data.namespaces.length
        ? h("ul", { class: "links", id: "namespaces" }, data.namespaces.map((n) => h("li", null, link(["ns", n], n))))
        : empty("No namespace to show."),
      form,
    ];
  },
};

function nsNav(p) {
  return h("nav", { class: "tabs", "aria-label": "Namespace" },
    link(["ns", p.ns], "Agents"), link(["ns", p.ns, "memories"], "Long-term memory"),
    link(["ns", p.ns, "skills"], "Skills"), link(["ns", p.ns, "episodes"], "Episodes"),
    link(["ns", p.ns, "health"], "Health"));
}

// -- a namespace: its agents and their presence -------------------------------------------------
function presenceRows(p, agents, presence) {
  const by = new Map(presence.map((a) => [a.agent, a]));
  // The listed agents first (a page of them), then any that only sent heartbeats.
  const names = [...agents, ...presence.map((a) => a.agent).filter((a) => !agents.includes(a))];
  return names.map((name) => {
    const a = by.get(name);
    return [link(["ns", p.ns, "agents", name], name),
      a && a.online ? badge("online", "ok") : badge("offline", "old"),
      a && a.online ? a.status : "", (a && a.current_task) || "", a ? when(a.last_seen) : ""];
  });
}

export const namespace = {
  title: (p) => `Namespace ${p.ns}`,
  crumbs: (p) => [[["ns", p.ns], p.ns]],
  live: true,
  feed: true,  // presence changes are notified; a new agent's first session write is not (slow poll)
  async load(p, q) {
    const [agents, presence] = await Promise.all([
      api(`${ns(p)}/agents`, { query: { limit: 200, cursor: q.cursor } }),
      api(`${ns(p)}/presence`),
    ]);
    return { ...agents, presence: presence.agents };
  },
  render(data, p, q) {
    const rows = presenceRows(p, data.agents, q.cursor ? [] : data.presence);
    return [
      h("h1", null, "Namespace ", h("code", null, p.ns)), nsNav(p),
      section("Agents", rows.length
        ? table("Agents and their presence (online while their heartbeat lasts)",
          ["agent", "presence", "status", "current task", "last heartbeat"], rows, { id: "agents" })
        : empty("No agent has written anything here yet."),
      pager(["ns", p.ns], q, data.next_cursor)),
    ];
  },
};

// -- an agent: identity, state, sessions -------------------------------------------------------
export const agent = {
  title: (p) => `Agent ${p.agent}`,
  crumbs: (p) => [[["ns", p.ns], p.ns], [["ns", p.ns, "agents", p.agent], p.agent]],
  live: true,
  feed: true,
  async load(p, q) {
    const [identity, state, sessions] = await Promise.all([
      api(`${agentPath(p)}/identity`), api(`${agentPath(p)}/state`),
      api(`${agentPath(p)}/sessions`, { query: { limit: 100, cursor: q.cursor } }),
    ]);
    return { identity: identity.documents, state: state.state, sessions };
  },
  render(data, p, q) {
    const docs = Object.entries(data.identity);
    const state = Object.entries(data.state);
    return [
      h("h1", null, "Agent ", h("code", null, p.agent)),
      h("p", null, link(["ns", p.ns, "agents", p.agent, "metrics"], "Metrics (calls, latency, tokens)"), " · ",
        link(["ns", p.ns, "memories"], "Long-term memory", { agent: p.agent })),
      section("Identity", docs.length ? dl(docs.map(([k, v]) => [k, h("pre", { class: "text" }, v)]), { id: "identity" }) : empty("No identity documents.")),
      section("State", state.length ? table("Agent state", ["field", "value"], state.map(([k, v]) => [k, json(v)]), { id: "state" }) : empty("No state set.")),
      section("Sessions", data.sessions.sessions.length
        ? table("Sessions, most recently active first", ["session", "last active"],
          data.sessions.sessions.map((s) => [link(["ns", p.ns, "agents", p.agent, "sessions", s.id], s.id), when(s.last_active_ms)]), { id: "sessions" })
        : empty("No sessions."),
      pager(["ns", p.ns, "agents", p.agent], q, data.sessions.next_cursor)),
    ];
  },
};

// -- a session: timeline, working memory, checkpoints and their diff ---------------------------
function eventLabel(e) {
  const d = e.data && typeof e.data === "object" ? e.data : {};
  return e.type === "tool_call" ? d.tool : e.type === "step" ? d.action : d.speaker || d.role || "";
}

export const session = {
  title: (p) => `Session ${p.session}`,
  crumbs: (p) => [[["ns", p.ns], p.ns], [["ns", p.ns, "agents", p.agent], p.agent],
    [["ns", p.ns, "agents", p.agent, "sessions", p.session], p.session]],
  live: true,
  async load(p, q) {
    const [log, working, checkpoints] = await Promise.all([
      api(`${sessionPath(p)}/log`, { query: { limit: 500, cursor: q.cursor } }),
      api(`${sessionPath(p)}/working`), api(`${sessionPath(p)}/checkpoints`, { query: { limit: 1000 } }),
    ]);
    let diff = null;
    if (q.a && q.b) diff = await api(`${sessionPath(p)}/checkpoints/${seg(q.a)}/diff/${seg(q.b)}`);
    return { log, working: working.values, checkpoints: checkpoints.checkpoints, diff };
  },
  render(data, p, q) {
    const here = ["ns", p.ns, "agents", p.agent, "sessions", p.session];
    const events = data.log.events;
    const working = Object.entries(data.working);
    return [
      h("h1", null, "Session ", h("code", null, p.session)),
      section("Timeline", events.length
        ? table("Events and tool calls, oldest first", ["time", "type", "what", "outcome", "latency (ms)", "trace", "data"],
          events.map((e) => [when(e.ts_ms), e.type, eventLabel(e) ?? "", outcome(e.outcome), e.latency_ms == null ? "" : num(e.latency_ms, 1),
            e.trace_id ? h("code", { class: "trace", title: e.trace_id }, e.trace_id) : "", json(e.data)]),
          { id: "timeline" })
        : empty("No events."),
      pager(here, q, data.log.next_cursor)),
      section("Working memory", working.length
        ? table("Working memory", ["key", "value"], working.map(([k, v]) => [k, json(v)]), { id: "working" })
        : empty("Working memory is empty.")),
      section("Checkpoints", data.checkpoints.length
        ? [table("Checkpoints", ["n", "saved"], data.checkpoints.map((c) => [String(c.n), when(c.created_at_ms)]), { id: "checkpoints" }),
          diffForm(here, data.checkpoints, q)]
        : empty("No checkpoints."),
      data.diff && diffView(data.diff)),
    ];
  },
};

function diffForm(here, checkpoints, q) {
  const last = checkpoints.length - 1;
  const pick = (id, label, chosen) => [h("label", { for: id }, label),
    h("select", { id, name: id }, checkpoints.map((c) => h("option", { value: c.n, selected: String(c.n) === String(chosen) }, String(c.n))))];
  const form = h("form", {
    class: "inline", id: "diff-form",
    onsubmit: (e) => { e.preventDefault(); go(route(here, { a: form.elements.a.value, b: form.elements.b.value })); },
  }, pick("a", "From", q.a ?? checkpoints[Math.max(0, last - 1)].n), pick("b", "to", q.b ?? checkpoints[last].n),
  h("button", { type: "submit" }, "Compare"));
  return form;
}

function diffView(diff) {
  return h("div", { id: "diff" }, h("h3", null, `Checkpoint ${diff.a} → ${diff.b}`),
    diff.changes.length
      ? table(`Changes from ${diff.a} to ${diff.b}`, ["path", "change", "before", "after"],
        diff.changes.map((c) => [h("code", null, c.path || "/"), badge(c.op, c.op), c.op === "added" ? "" : json(c.before), c.op === "removed" ? "" : json(c.after)]))
      : empty("The two checkpoints hold the same state."));
}

// -- long-term memory: listing with filters, search with score components -----------------------
function memoryFilters(q) {
  const list = (v) => (v ? String(v).split(",").map((x) => x.trim()).filter(Boolean) : null);
  return {
    kinds: list(q.kind), tags: list(q.tag), agents: list(q.agent),
    since: q.since || null, until: q.until || null, history: q.history || "current",
  };
}

function memoryCell(p, m, writable, refresh) {
  const parts = [link(["ns", p.ns, "memories", m.id], m.content.length > 300 ? m.content.slice(0, 300) + "…" : m.content)];
  if (m.superseded_by) parts.push(" ", badge("superseded", "old"));
  if (m.supersedes) parts.push(" ", badge("correction", ""));
  if (writable) parts.push(" ", forgetButton(p, m, refresh));
  return h("div", { class: "memory", "data-id": m.id }, parts);
}

function forgetButton(p, m, refresh) {
  return h("button", {
    type: "button", class: "danger", "data-forget": m.id,
    onclick: async () => {
      if (!window.confirm("Forget this memory?")) return;
      await api(`${ns(p)}/memories/${seg(m.id)}`, { method: "DELETE" });
      refresh();
    },
  }, "Forget");
}

function tags(m) {
  return m.tags.join(", ");
}

export const memories = {
  title: (p) => `Memory of ${p.ns}`,
  crumbs: (p) => [[["ns", p.ns], p.ns], [["ns", p.ns, "memories"], "long-term memory"]],
  feed: true,
  live: (p, q) => !q.q,  // a search embeds its query: run it when asked, not on every poll
  async load(p, q) {
    const f = memoryFilters(q);
    if (q.q) {
      const body = { query: q.q, k: Number(q.k || 10), kinds: f.kinds, tags: f.tags, agents: f.agents, include_superseded: f.history !== "current" };
      if (f.since) body.since = f.since;
      if (f.until) body.until = f.until;
      return { search: await api(`${ns(p)}/memories/search`, { method: "POST", body }) };
    }
    return {
      list: await api(`${ns(p)}/memories`, {
        query: { kind: f.kinds, tag: f.tags, agent: f.agents, since: f.since, until: f.until, limit: 100, cursor: q.cursor,
          include_superseded: f.history === "all" ? "true" : null, superseded_only: f.history === "only" ? "true" : null },
      }),
    };
  },
  render(data, p, q, ctx) {
    const rows = data.search
      ? table("Search hits, best first, with the parts of each score", ["memory", "kind", "agent", "tags", "score", "vector", "text", "exact", "recency", "importance"],
        data.search.hits.map((x) => [memoryCell(p, x.record, ctx.writable, ctx.refresh), x.record.kind, x.record.agent, tags(x.record),
          h("strong", null, num(x.score)), num(x.vector), num(x.text), num(x.exact), num(x.recency), num(x.importance)]), { id: "hits" })
      : table("Memories, oldest first", ["memory", "kind", "agent", "tags", "importance", "occurred"],
        data.list.memories.map((m) => [memoryCell(p, m, ctx.writable, ctx.refresh), m.kind, m.agent, tags(m), num(m.importance, 2), when(m.occurred_at_ms)]), { id: "memories" });
    const count = data.search ? data.search.hits.length : data.list.memories.length;
    return [
      h("h1", null, "Long-term memory of ", h("code", null, p.ns)), nsNav(p),
      searchForm(p, q),
      count ? rows : empty(data.search ? "Nothing found." : "No memories match."),
      data.list && pager(["ns", p.ns, "memories"], q, data.list.next_cursor),
    ];
  },
};

function searchForm(p, q) {
  const field = (name, label, attrs) => [h("label", { for: "f-" + name }, label),
    h("input", { id: "f-" + name, name, value: q[name] || "", ...(attrs || {}) })];
  const history = h("select", { id: "f-history", name: "history" },
    [["current", "current only"], ["all", "with superseded"], ["only", "superseded only"]].map(([v, t]) => h("option", { value: v, selected: (q.history || "current") === v }, t)));
  const form = h("form", {
    class: "filters", id: "search-form", role: "search",
    onsubmit: (e) => {
      e.preventDefault();
      const values = {};
      for (const el of form.elements) if (el.name && el.value) values[el.name] = el.value;
      if (values.history === "current") delete values.history;
      go(route(["ns", p.ns, "memories"], values));
    },
  },
  h("div", { class: "wide" }, field("q", "Search", { type: "search", placeholder: "words or a question (empty: list)" })),
  field("kind", "Kinds", { placeholder: "fact, preference" }), field("tag", "Tags", { placeholder: "any of" }),
  field("agent", "Agents"), field("since", "Since", { placeholder: "2026-01-01T00:00:00Z" }), field("until", "Until"),
  h("label", { for: "f-history" }, "History"), history,
  h("button", { type: "submit" }, "Search"));
  return form;
}

// -- one memory and its correction history -------------------------------------------------------
export const memory = {
  title: (p) => `Memory ${p.id}`,
  crumbs: (p) => [[["ns", p.ns], p.ns], [["ns", p.ns, "memories"], "long-term memory"], [["ns", p.ns, "memories", p.id], p.id]],
  live: true,
  feed: true,
  async load(p) {
    const get = (id) => api(`${ns(p)}/memories/${seg(id)}`).catch((e) => (e instanceof ApiError && e.status === 404 ? null : Promise.reject(e)));
    const record = await api(`${ns(p)}/memories/${seg(p.id)}`);
    const chain = [record];
    for (let m = record; m.supersedes && chain.length < 50;) {
      m = await get(m.supersedes);
      if (!m) break;
      chain.unshift(m);
    }
    for (let m = record; m.superseded_by && chain.length < 100;) {
      m = await get(m.superseded_by);
      if (!m) break;
      chain.push(m);
    }
    return { record, chain };
  },
  render(data, p, q, ctx) {
    const m = data.record;
    return [
      h("h1", null, "Memory ", h("code", null, m.id)),
      h("blockquote", { class: "content", id: "content" }, m.content),
      ctx.writable && forgetButton(p, m, () => go(route(["ns", p.ns, "memories"]))),
      dl([["kind", m.kind], ["agent", link(["ns", p.ns, "agents", m.agent], m.agent)],
        ["session", m.session ? link(["ns", p.ns, "agents", m.agent, "sessions", m.session], m.session) : "—"],
        ["importance", num(m.importance, 2)], ["tags", tags(m) || "—"], ["source", m.source || "—"],
        ["occurred", when(m.occurred_at_ms)], ["created", when(m.created_at_ms)], ["last accessed", when(m.last_accessed_ms)],
        ["access count", String(m.access_count)], ["related", m.related.length ? m.related.map((r) => [link(["ns", p.ns, "memories", r], r), " "]) : "—"],
        ["metadata", json(m.metadata)]], { id: "fields" }),
      section("History", data.chain.length > 1
        ? h("ol", { id: "history" }, data.chain.map((x) => h("li", { "data-id": x.id },
          x.id === m.id ? h("strong", null, x.content) : link(["ns", p.ns, "memories", x.id], x.content), " ",
          x.superseded_by ? badge("superseded", "old") : badge("current", "ok"), " ", when(x.created_at_ms))))
        : empty("No correction replaced or was replaced by this memory.")),
    ];
  },
};

// -- skills and episodes --------------------------------------------------------------------------
export const skills = {
  title: (p) => `Skills of ${p.ns}`,
  crumbs: (p) => [[["ns", p.ns], p.ns], [["ns", p.ns, "skills"], "skills"]],
  live: true,
  feed: true,
  load: (p, q) => api(`${ns(p)}/skills`, { query: { limit: 200, cursor: q.cursor } }),
  render(data, p, q) {
    return [h("h1", null, "Skills of ", h("code", null, p.ns)), nsNav(p),
      data.skills.length
        ? table("Skills by name", ["name", "description", "runs", "success rate", "mean duration (s)", "tags", "steps"],
          data.skills.map((s) => [s.name, s.description, String(s.runs), s.success_rate == null ? "—" : `${Math.round(s.success_rate * 100)}%`,
            s.mean_duration == null ? "—" : num(s.mean_duration, 2), s.tags.join(", "), json(s.steps)]), { id: "skills" })
        : empty("No skills."),
      pager(["ns", p.ns, "skills"], q, data.next_cursor)];
  },
};

export const episodes = {
  title: (p) => `Episodes of ${p.ns}`,
  crumbs: (p) => [[["ns", p.ns], p.ns], [["ns", p.ns, "episodes"], "episodes"]],
  live: true,
  feed: true,
  load: (p, q) => api(`${ns(p)}/episodes`, { query: { limit: 200, cursor: q.cursor } }),
  render(data, p, q) {
    return [h("h1", null, "Episodes of ", h("code", null, p.ns)), nsNav(p),
      data.episodes.length
        ? table("Episodes, oldest first", ["task", "outcome", "result", "agent", "session", "steps", "duration (s)", "when"],
          data.episodes.map((e) => [e.task_prompt, e.outcome, badge(e.success ? "success" : "failure", e.success ? "ok" : "bad"),
            link(["ns", p.ns, "agents", e.agent], e.agent), e.session ? link(["ns", p.ns, "agents", e.agent, "sessions", e.session], e.session) : "—",
            String(e.steps.length), e.duration_seconds == null ? "—" : num(e.duration_seconds, 2), when(e.occurred_at_ms)]), { id: "episodes" })
        : empty("No episodes."),
      pager(["ns", p.ns, "episodes"], q, data.next_cursor)];
  },
};

// -- health -----------------------------------------------------------------------------------------
// `good`: the reassuring value (null: neither value is a problem).
const yes = (v, good = true) => (v === null || v === undefined ? badge("unknown", "")
  : badge(v ? "yes" : "no", good === null ? "" : v === good ? "ok" : "bad"));

export const health = {
  title: (p) => `Health of ${p.ns}`,
  crumbs: (p) => [[["ns", p.ns], p.ns], [["ns", p.ns, "health"], "health"]],
  live: true,
  load: (p) => api(`${ns(p)}/health`),
  render(x, p) {
    return [h("h1", null, "Health of ", h("code", null, p.ns)), nsNav(p),
      h("p", { id: "verdict" }, x.ok ? badge(x.degraded ? "degraded: served by the fallback" : "serving", x.degraded ? "old" : "ok") : badge("not serving", "bad")),
      section("Store", dl([["serving", x.serving], ["primary", x.primary], ["fallback", x.fallback || "none"],
        ["degraded", yes(x.degraded, false)], ["outbox (writes waiting for replay)", String(x.outbox)],
        ["store switches", String(x.switches)], ["replays refused", String(x.dropped)],
        ["last error", x.last_error || "—"], ["server version", x.server_version], ["search engine", yes(x.search)]], { id: "store" })),
      section("Persistence", dl([["append-only file", yes(x.aof)], ["fsync", x.fsync || "—"], ["RDB snapshots", yes(x.rdb, null)]], { id: "persistence" })),
      section("Eviction", dl([["maxmemory policy", x.maxmemory_policy || "unknown"], ["full (writes refused)", yes(x.full, false)],
        ["evicted keys", x.evicted_keys == null ? "unknown" : String(x.evicted_keys)]], { id: "eviction" })),
      section("Warnings", x.warnings.length ? h("ul", { id: "warnings" }, x.warnings.map((w) => h("li", null, w))) : empty("None.")),
    ];
  },
};

// -- agent metrics ------------------------------------------------------------------------------------
const SINCE = [["900", "15 minutes"], ["3600", "1 hour"], ["21600", "6 hours"], ["86400", "1 day"], ["604800", "7 days"]];
const BUCKET = { 900: 30, 3600: 60, 21600: 600, 86400: 3600, 604800: 21600 };

const MAX_BUCKETS = 500;

// Every bucket from `since` to now, empty ones included (the API sends only buckets with calls),
// so the time axis is even; at most the last MAX_BUCKETS.
function fill(m, rows) {
  const step = m.bucket_seconds * 1000;
  const at = (iso) => Math.floor(Date.parse(iso) / step) * step;
  const byStart = new Map(rows.map((b) => [at(b.start), b]));
  const end = Math.max(Math.floor(Date.now() / step) * step, ...byStart.keys());
  const start = Math.max(at(m.since), end - (MAX_BUCKETS - 1) * step);
  const out = [];
  for (let t = start; t <= end; t += step) {
    out.push(byStart.get(t) || { start: new Date(t).toISOString(), tool: null, calls: 0, errors: 0,
      latency_ms_sum: 0, latency_ms_max: 0, tokens_in: 0, tokens_out: 0 });
  }
  return out;
}

export const metrics = {
  title: (p) => `Metrics of ${p.agent}`,
  crumbs: (p) => [[["ns", p.ns], p.ns], [["ns", p.ns, "agents", p.agent], p.agent], [["ns", p.ns, "agents", p.agent, "metrics"], "metrics"]],
  live: true,
  async load(p, q) {
    const since = q.since || "3600";
    const query = { since, bucket: q.bucket || BUCKET[since] || 60, tool: q.tool };
    try {
      return { metrics: await api(`${agentPath(p)}/metrics`, { query }) };
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return { missing: true };
      throw e;
    }
  },
  render(data, p, q) {
    const here = ["ns", p.ns, "agents", p.agent, "metrics"];
    const head = h("h1", null, "Metrics of ", h("code", null, p.agent));
    if (data.missing) return [head, empty("This server does not record agent metrics.")];
    const m = data.metrics;
    const picked = q.tool || null;
    const rows = fill(m, m.buckets.filter((b) => (b.tool ?? null) === picked));
    const tools = [...new Set(m.buckets.map((b) => b.tool).filter((t) => t))].sort();
    const labels = rows.map((b) => new Date(b.start).toISOString().slice(11, 16));
    const sum = (f) => rows.reduce((a, b) => a + f(b), 0);
    const calls = sum((b) => b.calls);
    const errors = sum((b) => b.errors);
    const since = q.since || "3600";
    const nav = h("nav", { class: "tabs", "aria-label": "Time range" },
      SINCE.map(([v, t]) => h("a", { href: route(here, { since: v, tool: picked }), "aria-current": v === since ? "true" : null }, t)));
    const toolNav = tools.length ? h("nav", { class: "tabs", "aria-label": "Tool" },
      h("a", { href: route(here, { since }), "aria-current": picked ? null : "true" }, "all tools"),
      tools.map((t) => h("a", { href: route(here, { since, tool: t }), "aria-current": t === picked ? "true" : null }, t))) : null;
    return [head, nav, toolNav,
      dl([["calls", String(calls)], ["errors", String(errors)],
        ["success rate", calls ? `${(((calls - errors) / calls) * 100).toFixed(1)}%` : "—"],
        ["mean latency (ms)", calls ? num(sum((b) => b.latency_ms_sum) / calls, 1) : "—"],
        ["max latency (ms)", num(Math.max(0, ...rows.map((b) => b.latency_ms_max)), 1)],
        ["tokens in / out", `${sum((b) => b.tokens_in)} / ${sum((b) => b.tokens_out)}`],
        ["bucket", `${m.bucket_seconds} s`]], { id: "totals" }),
      rows.length ? [
        chart({ id: "chart-calls", title: "Calls and errors", labels, series: [
          { name: "calls", values: rows.map((b) => b.calls) }, { name: "errors", values: rows.map((b) => b.errors) }] }),
        chart({ id: "chart-latency", title: "Latency (ms)", kind: "lines", unit: " ms", labels, series: [
          { name: "mean", values: rows.map((b) => (b.calls ? b.latency_ms_sum / b.calls : 0)) }, { name: "max", values: rows.map((b) => b.latency_ms_max) }] }),
        chart({ id: "chart-tokens", title: "Tokens", labels, series: [
          { name: "in", values: rows.map((b) => b.tokens_in) }, { name: "out", values: rows.map((b) => b.tokens_out) }] }),
      ] : empty("No calls in this time range."),
    ];
  },
};
