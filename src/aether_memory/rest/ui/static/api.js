// The REST API of the same server, called with the key kept in this tab's sessionStorage.

const KEY = "aether-memory.api-key";

export const key = {
  get: () => sessionStorage.getItem(KEY) || "",
  set: (value) => (value ? sessionStorage.setItem(KEY, value) : sessionStorage.removeItem(KEY)),
};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the API: `path` starts with /v1; `query` values may be lists (repeated params). */
export async function api(path, { method = "GET", query, body } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    for (const item of [].concat(v)) {
      if (item !== null && item !== undefined && item !== "") url.searchParams.append(k, item);
    }
  }
  const headers = { Accept: "application/json" };
  const secret = key.get();
  if (secret) headers["X-API-Key"] = secret;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit", cache: "no-store", redirect: "error",
  });
  if (!response.ok) {
    let error = { code: "http_" + response.status, message: response.statusText };
    try {
      const data = await response.json();
      if (data && data.error) error = data.error;
    } catch (_) { /* not JSON */ }
    throw new ApiError(response.status, error.code, error.message);
  }
  return response.status === 204 ? null : response.json();
}

/** A path segment, encoded. */
export const seg = encodeURIComponent;

/**
 * Follows a namespace's change feed (Server-Sent Events, read with fetch so that the key goes
 * in a header as on every other call): `onNote(kind, note)` for each notification. Resumes
 * after the last position seen when the stream drops; stops when `signal` aborts.
 */
export async function follow(ns, onNote, onState, signal) {
  let last = null;
  while (!signal.aborted) {
    try {
      const headers = { Accept: "text/event-stream" };
      const secret = key.get();
      if (secret) headers["X-API-Key"] = secret;
      if (last) headers["Last-Event-ID"] = last;
      const response = await fetch(new URL(`/v1/namespaces/${seg(ns)}/feed`, window.location.origin), {
        headers, signal, credentials: "omit", cache: "no-store", redirect: "error",
      });
      if (!response.ok || !response.body) throw new ApiError(response.status, "feed", response.statusText);
      onState(true);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = {};
          for (const line of block.split("\n")) {
            const colon = line.indexOf(":");
            if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trimStart();
          }
          if (fields.event === "truncated") last = null;  // resume from now
          else if (fields.event && fields.data) {
            if (fields.id) last = fields.id;
            onNote(fields.event, JSON.parse(fields.data));
          }
        }
      }
    } catch (error) {
      if (signal.aborted) return;
    }
    onState(false);
    await new Promise((resolve) => setTimeout(resolve, 3000));  // then reconnect and resume
  }
}
