// The audit trail live: GET /api/events/stream/ (Server-Sent Events, staff only, the event
// list's filters), read through fetch rather than EventSource so that the console knows why
// a connection was refused (EventSource only says that it failed) and sends Last-Event-ID
// itself on every reconnection.
//
// - A frame's `id:` is the position (an audit row id); the last one seen is sent back as
//   `Last-Event-ID` when the feed reconnects, so nothing is missed or repeated.
// - A drop (network error, the answer ending after `overflow` or `end`, or nothing at all
//   for STALL_MS: heartbeats stopped) reconnects after the server's `retry:` delay, doubled
//   on each failure in a row up to MAX_RETRY_MS.
// - A refusal (an answer that is not a 200 event stream) is reported as `refused`: the page
//   falls back to polling the list. A busy or failing server (429, 5xx) is asked again
//   after its Retry-After (or REFUSED_RETRY_MS); any other refusal is final for this feed.
//   A lost session (401, or DRF's 403 for missing credentials) goes to sign in.
import { describe, isLostSession, query, reportLostSession } from "./api.js";

const STALL_MS = 60_000; // heartbeats come every 15 s by default (EVENTS_STREAM_HEARTBEAT)
const FIRST_RETRY_MS = 2000;
const MAX_RETRY_MS = 30_000;
const REFUSED_RETRY_MS = 10_000;

/** SSE frames from text chunks: `push(text)` returns the complete frames so far, each
 * `{event, data, id}` (`id` undefined when the frame set none; comments are dropped). */
export function frameParser() {
  let pending = "";
  let frame = { event: "", data: [], id: undefined, retry: undefined };
  return (text) => {
    pending += text;
    const lines = pending.split(/\r\n|\r|\n/);
    pending = lines.pop(); // an unfinished line waits for the next chunk
    const done = [];
    for (const line of lines) {
      if (line === "") {
        if (frame.data.length || frame.id !== undefined || frame.retry !== undefined) {
          done.push({ event: frame.event || "message", data: frame.data.join("\n"),
            id: frame.id, retry: frame.retry });
        }
        frame = { event: "", data: [], id: undefined, retry: undefined };
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const name = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (name === "data") frame.data.push(value);
      else if (name === "event") frame.event = value;
      else if (name === "id" && !value.includes("\0")) frame.id = value;
      else if (name === "retry" && /^\d+$/.test(value)) frame.retry = Number(value);
    }
    return done;
  };
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * Follow the feed with `filters` (the list's, without ordering) from position `after` (the
 * newest event the page already shows; undefined: from now). `onEvents(events)` gets each
 * batch of new events in order; `onState({state, detail, retryMs})` each change:
 * "connecting", "streaming", "reconnecting", "refused" (`final` when it will not retry).
 * Returns `stop()`.
 */
export function followEvents(filters, after, { onEvents, onState }) {
  let lastId = after === undefined || after === null ? null : String(after);
  let retryMs = FIRST_RETRY_MS;
  let failures = 0;
  let stopped = false;
  let controller = null;
  let timer = null;

  const later = (ms, then) => {
    clearTimeout(timer);
    timer = setTimeout(() => { if (!stopped) then(); }, ms);
  };

  const reconnect = (detail) => {
    failures += 1;
    const wait = Math.min(retryMs * 2 ** Math.max(0, failures - 1), MAX_RETRY_MS);
    onState({ state: "reconnecting", detail, retryMs: wait });
    later(wait, connect);
  };

  async function read(answer) {
    const reader = answer.body.getReader();
    const decoder = new TextDecoder();
    const parse = frameParser();
    let stall = null;
    const watch = () => {
      clearTimeout(stall);
      stall = setTimeout(() => controller.abort(), STALL_MS);
    };
    watch();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        watch();
        const events = [];
        let ending = null;
        for (const frame of parse(decoder.decode(value, { stream: true }))) {
          if (frame.retry !== undefined) retryMs = frame.retry;
          if (frame.id !== undefined) lastId = frame.id;
          if (frame.event === "open") {
            failures = 0;
            onState({ state: "streaming" });
          } else if (frame.event === "message") {
            const event = parseJson(frame.data);
            if (event) events.push(event);
          } else if (frame.event === "overflow" || frame.event === "end") {
            ending = (parseJson(frame.data) || {}).detail || frame.event;
          }
        }
        if (events.length) onEvents(events);
        if (ending) onState({ state: "streaming", detail: ending });
      }
    } finally {
      clearTimeout(stall);
    }
  }

  async function connect() {
    controller = new AbortController();
    onState({ state: failures ? "reconnecting" : "connecting" });
    const headers = { Accept: "text/event-stream" };
    if (lastId !== null) headers["Last-Event-ID"] = lastId;
    let answer;
    try {
      answer = await fetch(`/api/events/stream/${query(filters)}`, {
        credentials: "same-origin", headers, cache: "no-store", signal: controller.signal });
    } catch {
      if (!stopped) reconnect("The live feed could not be reached.");
      return;
    }
    const type = answer.headers.get("Content-Type") || "";
    if (!answer.ok || !type.startsWith("text/event-stream")) {
      const body = parseJson(await answer.text().catch(() => ""));
      if (isLostSession(answer.status, body)) {
        reportLostSession();
        return;
      }
      const again = answer.status === 429 || answer.status >= 500;
      const wait = Number(answer.headers.get("Retry-After")) * 1000 || REFUSED_RETRY_MS;
      const detail = body && body.detail ? String(body.detail) : describe(answer.status, body);
      onState({ state: "refused", detail, final: !again,
        retryMs: again ? wait : undefined, status: answer.status });
      if (again) later(wait, connect);
      return;
    }
    try {
      await read(answer);
    } catch {
      // a network error or our own abort (stalled, or stopped)
    }
    if (!stopped) reconnect("The live feed was cut off.");
  }

  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (controller) controller.abort();
  };
}
