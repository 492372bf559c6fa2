// One object's state as of a time (GET /api/events/history/?stream=<type>:<id>&at=<time>),
// shown above its events on the audit page. `at` is empty (now), a time typed in the
// browser's time zone, or an event's own `created` (exact to the microsecond, so that "as of
// this event" includes it).
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { get, query } from "./api.js";
import { FormError, TextField } from "./forms.jsx";

/** An ISO time as `datetime-local` text in the browser's time zone, to the second. */
export function localInput(iso) {
  const time = new Date(iso);
  if (Number.isNaN(time.getTime())) return iso;
  const pad = (n) => String(n).padStart(2, "0");
  return `${time.getFullYear()}-${pad(time.getMonth() + 1)}-${pad(time.getDate())}T`
    + `${pad(time.getHours())}:${pad(time.getMinutes())}:${pad(time.getSeconds())}`;
}

/** `datetime-local` text (the browser's time zone) as an ISO time; other text as it is
 * (the server then names what is wrong with it). */
export function isoTime(local) {
  const time = new Date(local);
  return Number.isNaN(time.getTime()) ? local : time.toISOString();
}

function show(value) {
  if (value === null || value === undefined) return h("span", { class: "hint" }, "—");
  if (typeof value === "object") return h("code", null, JSON.stringify(value));
  return String(value);
}

function StateTable({ state }) {
  const names = Object.keys(state).sort();
  return h("table", { class: "list state" },
    h("caption", { class: "sr-only" }, "Fields"),
    h("thead", null, h("tr", null, h("th", { scope: "col" }, "Field"),
      h("th", { scope: "col" }, "Value"))),
    h("tbody", null, names.map((name) => h("tr", { key: name, "data-field": name },
      h("th", { scope: "row" }, name), h("td", null, show(state[name]))))));
}

function Summary({ found }) {
  const when = (iso) => h("time", { datetime: iso, title: iso }, new Date(iso).toLocaleString());
  if (!found.exists) {
    return h("p", { class: "history-summary" }, found.deleted
      ? ["Deleted as of ", when(found.at), " (by ", found.last_event.actor || "—", ", ",
        h("code", null, found.last_event.type), ")."]
      : ["Did not exist yet as of ", when(found.at), "."]);
  }
  return h("p", { class: "history-summary" },
    `Version ${found.version}, from ${found.events} event${found.events === 1 ? "" : "s"}: `,
    "created ", when(found.created), ", last changed ", when(found.updated), " by ",
    found.last_event.actor || "—", " (", h("code", null, found.last_event.type), ").");
}

/** The state panel; `at` and `setAt` live in the page's address. */
export function HistoryState({ streamType, streamId, at, setAt, reloadKey }) {
  const [found, setFound] = useState(null);
  const [error, setError] = useState(null);
  const [typed, setTyped] = useState(() => (at ? localInput(at) : ""));
  useEffect(() => { setTyped(at ? localInput(at) : ""); }, [at]);
  useEffect(() => {
    let current = true;
    const timer = setTimeout(() => {
      get(`/api/events/history/${query({ stream: `${streamType}:${streamId}`, at })}`)
        .then((answer) => { if (current) { setFound(answer); setError(null); } },
          (e) => { if (current) { setFound(null); setError(e); } });
    }, 150);
    return () => { current = false; clearTimeout(timer); };
  }, [streamType, streamId, at, reloadKey]);
  const onInput = (value) => {
    setTyped(value);
    setAt(value ? isoTime(value) : "");
  };
  return h("section", { class: "panel history", "aria-labelledby": "history-state-heading" },
    h("h2", { id: "history-state-heading" }, at ? "State as of a time" : "State now"),
    h("div", { class: "row" },
      h(TextField, { label: "As of", name: "at", type: "datetime-local", step: 1,
        value: typed, onInput, error: error && error.field("at"),
        hint: "Empty: now. Or pick an event below: “State after this event”." }),
      at && h("button", { type: "button", class: "secondary", onClick: () => onInput("") },
        "Now")),
    h(FormError, { message: error && error.general(["at"]) }),
    found && h("div", { role: "status", "aria-live": "polite" }, h(Summary, { found })),
    found && found.exists && h("div", { class: "scroll" }, h(StateTable, { state: found.state })),
    !found && !error && h("p", { role: "status" }, "Loading…"));
}
