// The rows of a session, paged by the server (invalid first), with each error next to its
// cell; a superuser fixes a cell in place and accepts all valid rows or a selection, then
// watches them being created.
import { h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, get, query } from "../api.js";
import { FormError, Progress } from "../forms.jsx";
import { isSuperuser, useSession } from "../session.js";
import { fieldLabel, STATUS } from "./models.js";

const PAGE = 25;
const ACCEPT_CHUNK = 1000;
const POLL_MS = 500;
const FILTERS = {
  all: { label: "All rows, invalid first", params: { ordering: "valid,row_index" } },
  invalid: { label: "Invalid rows", params: { valid: "false", ordering: "row_index" } },
  pending: { label: "Valid rows not yet imported",
    params: { valid: "true", complete: "false", ordering: "row_index" } },
  complete: { label: "Imported rows", params: { complete: "true", ordering: "row_index" } },
};

const show = (value) => (value === null || value === undefined ? "" : typeof value === "object"
  ? JSON.stringify(value) : String(value));

function messages(errors, field) {
  const found = errors && errors[field];
  if (!found) return null;
  return Array.isArray(found) ? found.join(" ") : show(found);
}

function Cell({ row, field, label, editable, editing, setEditing, onSaved }) {
  const [value, setValue] = useState(show(row.data ? row.data[field] : ""));
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const input = useRef(null);
  const problem = messages(row.errors, field);
  const errorId = `err-${row.pk}-${field}`;
  useEffect(() => {
    if (editing && input.current) input.current.focus();
  }, [editing]);
  const save = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const saved = await api("PATCH", `/api/importer/row/${row.pk}/`,
        { data: { ...row.data, [field]: value } });
      setEditing(null);
      onSaved(saved);
    } catch (e) {
      setError(e);
    }
    setBusy(false);
  };
  let body;
  if (editing) {
    const id = `edit-${row.pk}-${field}`;
    body = h("form", { class: "cell-edit", onSubmit: save },
      h("label", { for: id, class: "sr-only" }, `${label} of row ${row.row_index + 1}`),
      h("input", { id, ref: input, value, disabled: busy,
        "aria-describedby": problem ? errorId : undefined,
        onInput: (e) => setValue(e.target.value),
        onKeyDown: (e) => { if (e.key === "Escape") setEditing(null); } }),
      h("button", { type: "submit", disabled: busy }, "Save"),
      h("button", { type: "button", class: "secondary", onClick: () => setEditing(null) },
        "Cancel"));
  } else if (editable) {
    body = h("button", { type: "button", class: "cell-value",
      "aria-label": `Edit ${label} of row ${row.row_index + 1}: ${show(row.data && row.data[field]) || "empty"}`,
      onClick: () => { setValue(show(row.data ? row.data[field] : "")); setEditing(field); } },
    show(row.data && row.data[field]) || h("span", { class: "empty" }, "empty"));
  } else {
    body = h("span", null, show(row.data && row.data[field]));
  }
  return h("td", { class: problem ? "invalid" : "" }, body,
    problem && h("p", { class: "error", id: errorId }, problem),
    error && h("p", { class: "error", role: "alert" }, error.field("data") || error.message));
}

function Row({ row, fields, session, editable, selected, toggle, onSaved }) {
  const [editing, setEditing] = useState(null);
  const general = messages(row.errors, "non_field_errors");
  const others = row.errors ? Object.keys(row.errors)
    .filter((k) => k !== "non_field_errors" && !fields.includes(k)) : [];
  const state = row.complete ? "Imported" : row.valid ? "Valid" : "Invalid";
  const number = row.row_index + 1;
  return h("tr", { class: row.valid ? "" : "invalid-row", "data-row": number },
    h("td", null, editable && !row.complete && h("input", { type: "checkbox",
      "aria-label": `Select row ${number}`, checked: selected, disabled: !row.valid,
      onChange: () => toggle(row.pk) })),
    h("th", { scope: "row" }, number),
    fields.map((field) => h(Cell, { key: field, row, field, label: fieldLabel(session, field),
      editable: editable && !row.complete, editing: editing === field, setEditing, onSaved })),
    h("td", { class: `state ${state.toLowerCase()}` }, state,
      general && h("p", { class: "error" }, general),
      others.map((k) => h("p", { class: "error", key: k }, `${k}: ${messages(row.errors, k)}`))));
}

/** Every valid row not yet created, paged by pk (never the whole session at once). */
/** The rows list of a page of the review (the first page is prefetched: main.jsx). */
export function rowsPath(sessionPk, filter = "all", page = 0) {
  return `/api/importer/row/${query({ session: sessionPk, limit: PAGE, offset: page * PAGE,
    ...FILTERS[filter].params })}`;
}

async function validPks(sessionPk) {
  const pks = [];
  for (let offset = 0; ; offset += ACCEPT_CHUNK) {
    const page = await get(`/api/importer/row/${query({ session: sessionPk, valid: "true",
      complete: "false", ordering: "pk", limit: ACCEPT_CHUNK, offset })}`);
    pks.push(...page.results.map((r) => r.pk));
    if (!page.next || !page.results.length) return pks;
  }
}

export function RowsReview({ session, setSession }) {
  const me = useSession();
  const editable = isSuperuser(me) && session.status === STATUS.PROCESSING;
  const [filter, setFilter] = useState("all");
  const [page, setPage] = useState(0);
  const [found, setFound] = useState(null);
  const [selected, setSelected] = useState(() => new Set());
  const [error, setError] = useState(null);
  const [accepting, setAccepting] = useState(null); // {target} while rows are being created
  const [tick, setTick] = useState(0);
  const fields = session.column_mappings.map((m) => m.field);

  useEffect(() => {
    let live = true;
    get(rowsPath(session.pk, filter, page))
      .then((answer) => { if (live) setFound(answer); }, setError);
    return () => { live = false; };
  }, [session.pk, filter, page, tick]);

  useEffect(() => {
    if (!accepting) return undefined;
    const timer = setTimeout(async () => {
      try {
        const now = await get(`/api/importer/session/${session.pk}/`);
        setSession(now);
        if (now.status === STATUS.COMPLETE || now.completed_row_count >= accepting.target) {
          setAccepting(null);
          setTick((n) => n + 1);
        } else {
          setAccepting({ ...accepting });
        }
      } catch (e) {
        setError(e);
        setAccepting(null);
      }
    }, POLL_MS);
    return () => clearTimeout(timer);
  }, [accepting]);

  const toggle = (pk) => {
    const next = new Set(selected);
    if (next.has(pk)) next.delete(pk);
    else next.add(pk);
    setSelected(next);
  };
  const saved = (row) => {
    setFound({ ...found, results: found.results.map((r) => (r.pk === row.pk ? row : r)) });
    if (!row.valid && selected.has(row.pk)) toggle(row.pk);
  };
  const accept = async (pks) => {
    setError(null);
    if (!pks.length) {
      setError({ message: "There are no valid rows to accept." });
      return;
    }
    const target = session.completed_row_count + pks.length;
    setAccepting({ target, sending: true });
    try {
      for (let i = 0; i < pks.length; i += ACCEPT_CHUNK) {
        await api("POST", `/api/importer/session/${session.pk}/accept_rows/`,
          { rows: pks.slice(i, i + ACCEPT_CHUNK) });
      }
      setSelected(new Set());
      setAccepting({ target });
    } catch (e) {
      setError(e);
      setAccepting(null);
      setTick((n) => n + 1);
    }
  };
  const acceptAll = async () => {
    try {
      await accept(await validPks(session.pk));
    } catch (e) {
      setError(e);
    }
  };

  const count = found ? found.count : 0;
  const last = Math.max(0, Math.ceil(count / PAGE) - 1);
  return h("section", { "aria-labelledby": "rows-title" },
    h("h2", { id: "rows-title" }, "Rows"),
    h(Progress, { label: "Imported", value: session.completed_row_count,
      max: session.row_count }),
    h("div", { class: "toolbar" },
      h("label", { for: "row-filter" }, "Show"),
      h("select", { id: "row-filter", value: filter,
        onChange: (e) => { setFilter(e.target.value); setPage(0); } },
      Object.entries(FILTERS).map(([k, f]) => h("option", { key: k, value: k }, f.label))),
      editable && h("button", { type: "button", disabled: Boolean(accepting) || !selected.size,
        onClick: () => accept([...selected]) }, `Accept selected (${selected.size})`),
      editable && h("button", { type: "button", disabled: Boolean(accepting),
        onClick: acceptAll }, "Accept all valid rows")),
    !isSuperuser(me) && session.status === STATUS.PROCESSING && h("p", { class: "hint" },
      "Only a superuser may fix and accept rows."),
    h(FormError, { message: error && error.message }),
    accepting && h("p", { role: "status" }, "Creating rows…"),
    !found ? h("p", { role: "status" }, "Loading rows…") : h("div", { class: "scroll" },
      h("table", { class: "list rows", "aria-describedby": "rows-title" },
        h("thead", null, h("tr", null, h("th", { scope: "col" }, h("span", { class: "sr-only" },
          "Selected")), h("th", { scope: "col" }, "Row"),
        fields.map((f) => h("th", { scope: "col", key: f }, fieldLabel(session, f))),
        h("th", { scope: "col" }, "Status"))),
        h("tbody", null, found.results.map((row) => h(Row, { key: row.pk, row, fields,
          session, editable, selected: selected.has(row.pk), toggle, onSaved: saved }))))),
    found && h("nav", { class: "pager", "aria-label": "Row pages" },
      h("button", { type: "button", disabled: page === 0, onClick: () => setPage(page - 1) },
        "Previous"),
      h("span", null, count ? `Rows ${(page * PAGE + 1).toLocaleString()}–`
        + `${Math.min(count, (page + 1) * PAGE).toLocaleString()} of ${count.toLocaleString()}`
        : "No rows"),
      h("button", { type: "button", disabled: page >= last, onClick: () => setPage(page + 1) },
        "Next")));
}
