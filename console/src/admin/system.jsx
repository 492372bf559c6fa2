// The system pages: error reports (staff: read, delete), notifications (the user's own: mark
// read, mark all read), news (staff: mark read), exchange rates (refresh: staff), and the
// services' health as the gateway's public /readyz reports it.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, get } from "../api.js";
import { FormError, Notice } from "../forms.jsx";
import { Pager, SelectField, usePagedList } from "../lists.jsx";
import { isStaff, useSession } from "../session.js";

const PAGE = 25;

function RowActionError({ failed, pk }) {
  return failed && failed[0] === pk
    ? h("p", { class: "error", role: "alert" }, failed[1].message) : null;
}

export function ErrorReports() {
  const [page, setPage] = useState(0);
  const [notice, setNotice] = useState("");
  const [failed, setFailed] = useState(null);
  const { found, error, reload } = usePagedList("/api/error-report/", { ordering: "-when" },
    page, PAGE);
  const remove = async (report) => {
    if (!window.confirm(`Delete error report ${report.pk}?`)) return;
    setFailed(null);
    try {
      await api("DELETE", `/api/error-report/${report.pk}/`);
      setNotice(`Error report ${report.pk} deleted.`);
      reload();
    } catch (e) {
      setFailed([report.pk, e]);
    }
  };
  return h("main", null,
    h("h1", null, "Error reports"),
    h("p", { class: "hint" }, "Failures of the server, one report per kind of error, the most "
      + "recent first. Open one to read where it happened."),
    notice && h(Notice, null, notice),
    h(FormError, { message: error && error.message }),
    !found ? h("p", { role: "status" }, "Loading…") : h("div", { class: "scroll" },
      h("table", { class: "list reports" },
        h("caption", { class: "sr-only" }, "Error reports"),
        h("thead", null, h("tr", null, ["#", "Last seen", "What", "Path", ""].map((t, i) =>
          h("th", { scope: "col", key: i }, t || h("span", { class: "sr-only" }, "Actions"))))),
        h("tbody", null, found.results.map((r) => h("tr", { key: r.pk, "data-pk": r.pk },
          h("td", null, r.pk), h("td", null, r.when),
          h("td", null, h("details", null, h("summary", null, r.info),
            h("pre", { class: "payload" }, r.data))),
          h("td", { class: "mono" }, r.path),
          h("td", { class: "actions" }, h("button", { type: "button", class: "link danger",
            onClick: () => remove(r), "aria-label": `Delete error report ${r.pk}` }, "Delete"),
          h(RowActionError, { failed, pk: r.pk }))))))),
    found && h(Pager, { label: "Report pages", page, setPage, size: PAGE, count: found.count,
      none: "No error reports" }));
}

/** A list of things to read, each marked read with PATCH `{read: true}`. */
function ReadList({ heading, path, about, item, all, filterLabel }) {
  const [page, setPage] = useState(0);
  const [show, setShow] = useState("unread");
  const [notice, setNotice] = useState("");
  const [failed, setFailed] = useState(null);
  const { found, error, reload } = usePagedList(path, {
    read: show === "all" ? undefined : show === "read" ? "true" : "false" }, page, PAGE, [show]);
  const mark = async (entry, read) => {
    setFailed(null);
    try {
      await api("PATCH", `${path}${entry.pk}/`, { read });
      reload();
    } catch (e) {
      setFailed([entry.pk, e]);
    }
  };
  const markAll = async () => {
    setFailed(null);
    try {
      await api("GET", all);
      setNotice("Everything is marked read.");
      reload();
    } catch (e) {
      setFailed([null, e]);
    }
  };
  return h("main", null,
    h("h1", null, heading),
    about && h("p", { class: "hint" }, about),
    h("div", { class: "toolbar" },
      h(SelectField, { label: filterLabel, name: "read", value: show, choices: [
        ["unread", "Unread"], ["read", "Read"], ["all", "All"]],
      onChange: (v) => { setShow(v); setPage(0); } }),
      all && h("button", { type: "button", class: "secondary", onClick: markAll },
        "Mark all read")),
    notice && h(Notice, null, notice),
    h(FormError, { message: (error && error.message)
      || (failed && failed[0] === null && failed[1].message) }),
    !found ? h("p", { role: "status" }, "Loading…") : h("ul", { class: "readlist" },
      found.results.map((entry) => h("li", { key: entry.pk, "data-pk": entry.pk,
        class: entry.read ? "read" : "unread" },
      item(entry),
      h("button", { type: "button", class: "link", onClick: () => mark(entry, !entry.read),
        "aria-label": `Mark ${entry.name || entry.title} ${entry.read ? "unread" : "read"}` },
      entry.read ? "Mark unread" : "Mark read"),
      h(RowActionError, { failed, pk: entry.pk })))),
    found && h(Pager, { label: `${heading} pages`, page, setPage, size: PAGE,
      count: found.count, none: "Nothing here" }));
}

export function Notifications() {
  return h(ReadList, { heading: "Notifications", path: "/api/notifications/",
    all: "/api/notifications/readall/", filterLabel: "Show notifications",
    item: (n) => [h("strong", null, n.name), h("span", { class: "hint" },
      ` ${n.category} · ${n.age_human}`), n.message && h("p", null, n.message)] });
}

export function News() {
  return h(ReadList, { heading: "News", path: "/api/news/", filterLabel: "Show news",
    about: "Entries of the InvenTree news feed the server follows.",
    item: (n) => [h("a", { href: n.link, rel: "noopener noreferrer", target: "_blank" },
      n.title), h("span", { class: "hint" }, ` ${n.published || ""} ${n.author || ""}`),
    n.summary && h("p", null, n.summary)] });
}

export function Rates() {
  const session = useSession();
  const [rates, setRates] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState("");
  const load = () => get("/api/currency/exchange/").then(setRates, setError);
  useEffect(() => { load(); }, []);
  const refresh = async () => {
    setBusy(true);
    setError(null);
    setNotice("");
    try {
      await api("POST", "/api/currency/refresh/", {});
      setNotice("Exchange rates updated.");
      await load();
    } catch (e) {
      setError(e);
    }
    setBusy(false);
  };
  const entries = rates ? Object.entries(rates.exchange_rates || {}) : [];
  return h("main", null,
    h("h1", null, "Exchange rates"),
    rates && h("p", null, `Base currency ${rates.base_currency}; `
      + `${rates.updated ? `updated ${rates.updated}` : "never updated"}.`),
    isStaff(session) && h("div", { class: "toolbar" }, h("button", { type: "button",
      onClick: refresh, disabled: busy }, busy ? "Refreshing…" : "Refresh rates")),
    notice && h(Notice, null, notice),
    h(FormError, { message: error && error.message }),
    !rates ? !error && h("p", { role: "status" }, "Loading…")
      : !entries.length ? h("p", null, "No rates yet.") : h("table", { class: "list rates" },
        h("caption", { class: "sr-only" }, "Exchange rates"),
        h("thead", null, h("tr", null, h("th", { scope: "col" }, "Currency"),
          h("th", { scope: "col" }, `Per 1 ${rates.base_currency}`))),
        h("tbody", null, entries.map(([code, rate]) => h("tr", { key: code },
          h("th", { scope: "row" }, code), h("td", null, String(rate)))))));
}

const STATES = { ready: "Ready", degraded: "Degraded", "not ready": "Not ready" };

export function Services() {
  const [answer, setAnswer] = useState(null);
  const [error, setError] = useState(null);
  const [checked, setChecked] = useState(null);
  const load = async () => {
    try { // public, outside /api/: a 503 still carries the reasons
      const response = await fetch("/readyz", { headers: { Accept: "application/json" } });
      setAnswer(await response.json());
      setError(null);
    } catch {
      setError("The gateway could not be reached.");
    }
    setChecked(new Date());
  };
  useEffect(() => {
    load();
    const timer = setInterval(load, 5000);
    return () => clearInterval(timer);
  }, []);
  const services = answer && answer.services ? Object.entries(answer.services) : [];
  const reasons = answer && answer.reasons ? Object.entries(answer.reasons) : [];
  return h("main", null,
    h("h1", null, "Services"),
    h("p", { class: "hint" }, "What the gateway that answered reports (GET /readyz), "
      + "asked every 5 s."),
    error && h("p", { class: "error", role: "alert" }, error),
    answer && h("p", { class: `health ${answer.status.replace(" ", "-")}` },
      `Gateway: ${STATES[answer.status] || answer.status}`,
      checked && h("span", { class: "hint" }, ` (checked ${checked.toLocaleTimeString()})`)),
    reasons.length > 0 && h("ul", null, reasons.map(([what, why]) => h("li", { key: what },
      `${what}: ${why}`))),
    services.length > 0 && h("table", { class: "list services" },
      h("caption", { class: "sr-only" }, "Services"),
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "Service"),
        h("th", { scope: "col" }, "State"))),
      h("tbody", null, services.map(([name, state]) => h("tr", { key: name, "data-service": name },
        h("th", { scope: "row" }, name),
        h("td", { class: state === "ready" ? "ok" : "bad" }, state === "ready" ? "Ready"
          : state))))));
}
