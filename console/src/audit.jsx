// Audit (staff): the event log of every service (GET /api/events/), filtered by service,
// type, actor, object (stream type and id), time range and request id, paged by the server
// (25 a page unless another size is chosen), listed without payloads (`payload=false`: an import's row events
// carry some 200 KB each); a payload is asked for when unfolded. The live view follows the Server-Sent Events feed
// (GET /api/events/stream/, livefeed.js) from the newest event shown, and asks for the first
// page every 2 s instead while the feed refuses it. An object's page shows its state as of a
// time (history.jsx) above its events. Filters, page size and the time live in the address,
// so a history can be linked to.
import { h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { get, query } from "./api.js";
import { FormError, TextField } from "./forms.jsx";
import { HistoryState, isoTime } from "./history.jsx";
import { followEvents } from "./livefeed.js";
import { Pager, SelectField } from "./lists.jsx";
import { BASE, Link, navigate, useLocation } from "./router.js";

const SIZES = ["10", "25", "50", "100"];
const SIZE = "25"; // a page's size unless another is chosen
const POLL_MS = 2000;
const FILTERS = ["service", "type", "actor", "stream_type", "stream_id", "request_id", "after",
  "before", "search"];
const VIEW = ["size", "at"]; // the page's own, never sent to the list
const ORDERS = [["-id", "Newest first"], ["id", "Oldest first"]];

/** The list's filters (the feed takes the same, without the ordering). */
function filterParams(filters) {
  const params = {};
  for (const name of FILTERS) {
    const value = (filters[name] || "").trim();
    if (!value) continue;
    if (name === "stream_type" || name === "stream_id") continue;
    params[name] = name === "after" || name === "before" ? isoTime(value) : value;
  }
  const type = (filters.stream_type || "").trim();
  const id = (filters.stream_id || "").trim();
  if (type) params.stream = id ? `${type}:${id}` : type;
  else if (id) params.stream_id = id;
  return params;
}

function apiParams(filters) {
  return { ordering: filters.ordering || "-id", ...filterParams(filters) };
}

export function historyHref(streamType, streamId) {
  return `${BASE}/audit${query({ stream_type: streamType, stream_id: streamId })}`;
}

/** The payload, asked for when unfolded (`?event_id=`: the list leaves payloads out, an
 * import's batch of rows is some 200 KB); an event from the live feed brings its own. */
function Payload({ event }) {
  const [open, setOpen] = useState(false);
  const [payload, setPayload] = useState(() => ("payload" in event ? event.payload
    : undefined));
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!open || payload !== undefined) return;
    get(`/api/events/${query({ event_id: event.id, limit: 1 })}`).then((answer) => {
      if (answer.results.length) setPayload(answer.results[0].payload);
      else setError("This event is no longer in the audit trail.");
    }, (e) => setError(e.message));
  }, [open]);
  return h("details", { onToggle: (e) => setOpen(e.currentTarget.open) },
    h("summary", null, "Payload"),
    open && (payload !== undefined
      ? h("pre", { class: "payload" }, JSON.stringify(payload, null, 2))
      : h("p", { class: error ? "error" : "hint", role: error ? "alert" : undefined },
        error || "Loading the payload…")));
}

function EventRow({ event, fresh, filterBy, showAt }) {
  const when = new Date(event.created);
  return h("tr", { "data-pk": event.pk, class: fresh ? "fresh" : undefined },
    h("td", null, event.pk),
    h("td", null, h("time", { datetime: event.created, title: event.created },
      when.toLocaleString()), showAt && h("button", { type: "button", class: "link small",
      onClick: () => showAt(event.created),
      "aria-label": `State after event ${event.pk}` }, "State after this event")),
    h("td", null, event.service),
    h("td", null, h("code", null, event.type)),
    h("td", null, h(Link, { href: historyHref(event.stream_type, event.stream_id),
      "aria-label": `History of ${event.stream_type} ${event.stream_id}` },
    `${event.stream_type} ${event.stream_id}`), h("span", { class: "hint" }, ` v${event.version}`)),
    h("td", null, event.actor || h("span", { class: "hint" }, "—")),
    h("td", null, event.request_id ? h("button", { type: "button", class: "link mono",
      title: event.request_id, onClick: () => filterBy("request_id", event.request_id),
      "aria-label": `Events of request ${event.request_id}` }, event.request_id.slice(0, 8))
      : ""),
    h("td", null, h(Payload, { event })));
}

/** Services and their event types from the event catalog (AsyncAPI: a channel per
 * service, a message per type with its summary); empty until it has loaded. Asked for once
 * `wanted` (after the first events are shown: the catalog asks every service). */
function useCatalog(wanted) {
  const [catalog, setCatalog] = useState({});
  useEffect(() => {
    if (!wanted) return;
    get("/api/events/catalog/").then((doc) => {
      const found = {};
      for (const [name, channel] of Object.entries(doc.channels || {})) {
        found[name.replace(/\.events$/, "")] = Object.values(channel.messages || {}).map(
          (m) => [m.name || m.title, m.summary || ""]);
      }
      setCatalog(found);
    }, () => setCatalog({})); // the filters still take typed names
  }, [wanted]);
  return catalog;
}

function readFilters(search) {
  const filters = { ordering: search.get("ordering") || "-id" };
  for (const name of FILTERS.concat(VIEW)) filters[name] = search.get(name) || "";
  if (!SIZES.includes(filters.size)) filters.size = SIZE;
  return filters;
}

const LIVE_WORDS = {
  connecting: "Live: connecting…",
  streaming: "Live: new events appear as they are recorded",
  reconnecting: "Live: the connection was lost; reconnecting…",
};

/** What the live view is doing, in words. */
function liveWords(feed) {
  if (feed.state === "refused" && feed.status === 400) return `Live: ${feed.detail}`;
  if (feed.state === "refused") {
    return `Live: asking every ${POLL_MS / 1000} s (the live feed refused: ${feed.detail})`;
  }
  return LIVE_WORDS[feed.state] || "";
}

/**
 * The live view while `watching`: the feed from the newest event of `found` (once the list
 * for the filters is in), its events handed to `add`; polling with `poll` while the feed
 * refuses (but for a 400: the filters are wrong). The feed's state for the page to show.
 */
function useLiveView(watching, found, key, size, params, add, poll) {
  const [feed, setFeed] = useState({ state: "off" });
  const ready = watching && found !== null && found.key === key;
  useEffect(() => {
    if (!ready) {
      setFeed({ state: "off" });
      return undefined;
    }
    const newest = found.results.reduce((n, e) => Math.max(n, e.pk), 0);
    return followEvents(params, newest || undefined, { onEvents: add, onState: setFeed });
  }, [ready, key, size]);
  // a 400 names a filter, which the list shows next to its field: nothing to poll for
  const polling = ready && feed.state === "refused" && feed.status !== 400;
  useEffect(() => {
    if (!polling) return undefined;
    const timer = setInterval(poll, POLL_MS);
    return () => clearInterval(timer);
  }, [polling, key]);
  return feed;
}

export function Audit() {
  const { search } = useLocation();
  const [filters, setFilters] = useState(() => readFilters(search));
  const [page, setPage] = useState(0);
  const [found, setFound] = useState(null);
  const [error, setError] = useState(null);
  const [live, setLive] = useState(false);
  const [fresh, setFresh] = useState(() => new Set());
  const [arrived, setArrived] = useState(0);
  const lastSeen = useRef(0);
  const size = Number(filters.size);
  const key = JSON.stringify(apiParams(filters));
  const catalog = useCatalog(found !== null);
  const services = [...new Set([...Object.keys(catalog), filters.service].filter(Boolean))]
    .sort(); // a service named in the address stays choosable
  const types = (filters.service ? catalog[filters.service] || [] : Object.values(catalog).flat())
    .slice().sort((x, y) => (x[0] < y[0] ? -1 : 1));

  useEffect(() => { // a link to another history while this page is open
    const next = readFilters(search);
    if (JSON.stringify(next) !== JSON.stringify(filters)) {
      setFilters(next);
      setPage(0);
    }
  }, [search.toString()]);

  useEffect(() => { // the address follows the filters (replace: no history entry per key)
    const shown = Object.fromEntries(Object.entries(filters).filter(([k, v]) => v
      && !(k === "ordering" && v === "-id") && !(k === "size" && v === SIZE)));
    navigate(`${BASE}/audit${query(shown)}`, { replace: true });
  }, [key, filters.size, filters.at]);

  /** Mark `pks` as new since the live view started, and say how many arrived. */
  const mark = (pks) => {
    if (!pks.length) return;
    setFresh((marked) => new Set([...marked, ...pks]));
    setArrived((n) => n + pks.length);
  };

  const fetchPage = async () => {
    const asked = key;
    try {
      const answer = await get(`/api/events/${query({ ...apiParams(filters), limit: size,
        offset: page * size, payload: "false" })}`);
      const newest = answer.results.reduce((n, e) => Math.max(n, e.pk), 0);
      if (lastSeen.current) { // not the first list: mark what came since the last one seen
        mark(answer.results.filter((e) => e.pk > lastSeen.current).map((e) => e.pk));
      }
      lastSeen.current = Math.max(lastSeen.current, newest);
      setFound({ ...answer, key: asked });
      setError(null);
    } catch (e) {
      setError(e);
    }
  };

  /** Events from the feed: newest first on top of the first page, which keeps its size. */
  const add = (events) => {
    setFound((current) => {
      if (!current) return current;
      const shown = new Set(current.results.map((e) => e.pk));
      const added = events.filter((e) => !shown.has(e.pk));
      if (!added.length) return current;
      const results = added.slice().reverse().concat(current.results).slice(0, size);
      return { ...current, count: current.count + added.length, results };
    });
    const newer = events.filter((e) => e.pk > lastSeen.current).map((e) => e.pk);
    lastSeen.current = Math.max(lastSeen.current, ...newer);
    mark(newer);
  };

  const typed = useRef(false); // the first list is asked for at once, later ones after typing
  useEffect(() => {
    setFresh(new Set());
    lastSeen.current = 0;
    const timer = setTimeout(fetchPage, typed.current ? 200 : 0);
    typed.current = true;
    return () => clearTimeout(timer);
  }, [key, page, size]);

  const watching = live && page === 0 && filters.ordering === "-id";
  const feed = useLiveView(watching, found, key, size, filterParams(filters), add,
    fetchPage);
  useEffect(() => { setArrived(0); }, [live, key]);

  const set = (name) => (value) => {
    setFilters({ ...filters, [name]: value });
    if (name !== "at") setPage(0);
  };
  const filterBy = (name, value) => set(name)(value);
  const clear = () => {
    setFilters({ ...readFilters(new URLSearchParams()), size: filters.size });
    setPage(0);
  };
  const fieldError = (name) => error && error.field(name);
  const history = filters.stream_type && filters.stream_id;
  return h("main", null,
    h("h1", null, history ? `History of ${filters.stream_type} ${filters.stream_id}`
      : "Audit"),
    h("p", { class: "hint" }, "Every change recorded by every service, as the audit service "
      + "received it. Follow an object to see its history."),
    h("form", { class: "panel filters", "aria-label": "Event filters",
      onSubmit: (e) => e.preventDefault() },
    services.length ? h(SelectField, { label: "Service", name: "service",
      value: filters.service, onChange: set("service"), error: fieldError("service"),
      choices: [["", "Any"], ...services.map((name) => [name, name])] })
      : h(TextField, { label: "Service", name: "service", value: filters.service,
        onInput: set("service"), error: fieldError("service"), hint: "e.g. users, system" }),
    h(TextField, { label: "Event type", name: "type", value: filters.type, onInput: set("type"),
      error: fieldError("type"), hint: "e.g. user.created", list: "event-types" }),
    h("datalist", { id: "event-types" }, types.map(([name, summary]) => h("option",
      { key: name, value: name }, summary))),
    h(TextField, { label: "Actor", name: "actor", value: filters.actor, onInput: set("actor"),
      error: fieldError("actor") }),
    h(TextField, { label: "Object type", name: "stream_type", value: filters.stream_type,
      onInput: set("stream_type"), error: fieldError("stream"), hint: "e.g. custom_state" }),
    h(TextField, { label: "Object id", name: "stream_id", value: filters.stream_id,
      onInput: set("stream_id"), error: fieldError("stream_id") }),
    h(TextField, { label: "Request id", name: "request_id", value: filters.request_id,
      onInput: set("request_id"), error: fieldError("request_id") }),
    h(TextField, { label: "From", name: "after", type: "datetime-local", step: 1,
      value: filters.after, onInput: set("after"), error: fieldError("after") }),
    h(TextField, { label: "Until", name: "before", type: "datetime-local", step: 1,
      value: filters.before, onInput: set("before"), error: fieldError("before") }),
    h(TextField, { label: "Search", name: "search", type: "search", value: filters.search,
      onInput: set("search"), error: fieldError("search") }),
    h(SelectField, { label: "Order", name: "ordering", value: filters.ordering,
      onChange: set("ordering"), choices: ORDERS }),
    h(SelectField, { label: "Per page", name: "size", value: filters.size,
      onChange: set("size"), choices: SIZES.map((n) => [n, n]) }),
    h("div", { class: "field" }, h("span", { class: "label-gap", "aria-hidden": "true" }, " "),
      h("button", { type: "button", class: "secondary", onClick: clear }, "Clear filters"))),
    history && h(HistoryState, { streamType: filters.stream_type, streamId: filters.stream_id,
      at: filters.at, setAt: set("at"), reloadKey: found && found.results[0]
        ? found.results[0].pk : 0 }),
    h("div", { class: "toolbar" },
      h("button", { type: "button", "aria-pressed": live ? "true" : "false",
        onClick: () => setLive(!live) }, live ? "Pause live view" : "Live view"),
      live && !watching && h("span", { class: "hint" },
        "The live view follows the first page, newest first."),
      watching && feed.state !== "off" && h("span", {
        class: feed.state === "streaming" || feed.state === "refused" ? "live-dot" : "hint",
        "data-live": feed.state }, liveWords(feed)),
      h("span", { class: "sr-only", role: "status", "aria-live": "polite" },
        arrived ? `${arrived} new event${arrived === 1 ? "" : "s"}` : "")),
    h(FormError, { message: error && error.general(FILTERS.concat(["stream"])) }),
    !found ? h("p", { role: "status" }, "Loading…") : h("div", { class: "scroll" },
      h("table", { class: "list events" },
        h("caption", { class: "sr-only" }, "Events"),
        h("thead", null, h("tr", null, ["#", "When", "Service", "Type", "Object", "Actor",
          "Request", "Payload"].map((t) => h("th", { scope: "col", key: t }, t)))),
        h("tbody", null, found.results.map((event) => h(EventRow, { key: event.pk, event,
          fresh: fresh.has(event.pk), filterBy,
          showAt: history ? set("at") : null }))))),
    found && h(Pager, { label: "Event pages", page, setPage, size, count: found.count,
      none: "No events match" }));
}
