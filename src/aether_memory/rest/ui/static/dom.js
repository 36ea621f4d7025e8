// Building the page: every value is put in as text (textContent or a text node), never as
// markup, so stored content cannot run or inject anything.

/** An element with attributes and children (strings become text nodes). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  add(el, children);
  return el;
}

/** Appends children: nodes as they are, anything else as text; null/false are skipped. */
export function add(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A link inside the dashboard: parts are URL-encoded into the hash route. */
export function link(parts, text, query) {
  return h("a", { href: route(parts, query) }, text);
}

/** The hash of a dashboard route from its path parts and query. */
export function route(parts, query) {
  let path = "#/" + parts.map((p) => encodeURIComponent(p)).join("/");
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) {
    for (const item of [].concat(v)) if (item !== null && item !== undefined && item !== "") params.append(k, item);
  }
  const qs = params.toString();
  return qs ? path + "?" + qs : path;
}

/** Any JSON value as indented text. */
export function json(value) {
  return h("pre", { class: "json" }, JSON.stringify(value, null, 2) ?? "null");
}

/** A table: headers, and rows of cells (each cell a node or a value shown as text). */
export function table(caption, headers, rows, attrs) {
  const head = h("tr", null, headers.map((t) => h("th", { scope: "col" }, t)));
  // Each cell names its column, so a phone-width screen can stack a row as label: value.
  const body = rows.map((cells) => h("tr", null, cells.map((c, i) => h("td", { "data-label": headers[i] }, c))));
  return h("div", { class: "scroll", ...(attrs || {}) },
    h("table", null, h("caption", null, caption), h("thead", null, head), h("tbody", null, body)));
}

/** A definition list of [term, value] pairs. */
export function dl(pairs, attrs) {
  return h("dl", attrs, pairs.map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
}

export function section(title, ...children) {
  return h("section", null, h("h2", null, title), children);
}

export function empty(text) {
  return h("p", { class: "empty" }, text);
}

/** A time in epoch milliseconds, shown in UTC to the second. */
export function when(ms) {
  if (ms === null || ms === undefined) return "";
  const iso = new Date(ms).toISOString();
  return h("time", { datetime: iso }, iso.replace("T", " ").slice(0, 19) + "Z");
}

export function badge(text, kind) {
  return h("span", { class: "badge " + (kind || "") }, text);
}

export function num(value, digits) {
  if (value === null || value === undefined) return "";
  return Number(value).toFixed(digits ?? 3);
}
