// One import session, the step its status says: map columns (and set defaults and
// overrides), watch the rows being read, then review them (imports/rows.jsx).
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, get } from "../api.js";
import { FormError, Notice, Progress } from "../forms.jsx";
import { BASE, Link } from "../router.js";
import { isSuperuser, useSession } from "../session.js";
import { fieldLabel, fileName, modelName, STATUS, STATUS_NAMES } from "./models.js";
import { RowsReview } from "./rows.jsx";

const POLL_MS = 500;

function Steps({ status }) {
  const steps = [STATUS.MAPPING, STATUS.IMPORTING, STATUS.PROCESSING, STATUS.COMPLETE];
  return h("ol", { class: "steps", "aria-label": "Import steps" }, steps.map((step) => h("li", {
    key: step, class: step === status ? "current" : step < status ? "done" : "",
    "aria-current": step === status ? "step" : undefined }, STATUS_NAMES[step])));
}

function MappingRow({ session, mapping, editable, onSaved }) {
  const [error, setError] = useState(null);
  const info = session.available_fields[mapping.field] || {};
  const id = `map-${mapping.pk}`;
  const change = async (column) => {
    setError(null);
    try {
      onSaved(await api("PATCH", `/api/importer/column-mapping/${mapping.pk}/`, { column }));
    } catch (e) {
      setError(e);
    }
  };
  return h("tr", null,
    h("th", { scope: "row" }, h("label", { for: id }, fieldLabel(session, mapping.field),
      info.required ? h("span", { class: "required" }, " (required)") : null),
    (info.help_text || mapping.description) && h("p", { class: "hint" },
      info.help_text || mapping.description)),
    h("td", null, h("select", { id, value: mapping.column, disabled: !editable,
      "aria-invalid": error ? "true" : undefined,
      onChange: (e) => change(e.target.value) },
    h("option", { value: "" }, "(not imported)"),
    session.columns.map((c) => h("option", { key: c, value: c }, c))),
    error && h("p", { class: "error", role: "alert" }, error.field("column") || error.message)));
}

function ValuesForm({ session, onSaved }) {
  const fields = Object.keys(session.available_fields);
  const [defaults, setDefaults] = useState({ ...(session.field_defaults || {}) });
  const [overrides, setOverrides] = useState({ ...(session.field_overrides || {}) });
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    setSaved(false);
    const filled = (values) => Object.fromEntries(Object.entries(values)
      .filter(([, v]) => v !== "" && v != null));
    try {
      onSaved(await api("PATCH", `/api/importer/session/${session.pk}/`, {
        field_defaults: filled(defaults), field_overrides: filled(overrides) }));
      setSaved(true);
    } catch (e) {
      setError(e);
    }
  };
  const input = (values, set, kind, field) => h("input", { id: `${kind}-${field}`,
    value: values[field] ?? "", onInput: (e) => set({ ...values, [field]: e.target.value }) });
  return h("form", { onSubmit: submit, class: "panel", "aria-labelledby": "values-title" },
    h("h2", { id: "values-title" }, "Defaults and overrides"),
    h("p", { class: "hint" }, "A default fills an empty or unmapped cell; an override replaces "
      + "every row's value."),
    h("div", { class: "scroll" }, h("table", { class: "list" },
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "Field"),
        h("th", { scope: "col" }, "Default"), h("th", { scope: "col" }, "Override"))),
      h("tbody", null, fields.map((field) => h("tr", { key: field },
        h("th", { scope: "row" }, fieldLabel(session, field)),
        h("td", null, h("label", { class: "sr-only", for: `default-${field}` },
          `Default for ${fieldLabel(session, field)}`), input(defaults, setDefaults, "default", field)),
        h("td", null, h("label", { class: "sr-only", for: `override-${field}` },
          `Override for ${fieldLabel(session, field)}`),
        input(overrides, setOverrides, "override", field))))))),
    h(FormError, { message: error && error.message }),
    saved && h(Notice, null, "Saved."),
    h("button", { type: "submit", class: "secondary" }, "Save defaults and overrides"));
}

function Mapping({ session, setSession }) {
  const me = useSession();
  const editable = isSuperuser(me);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const accept = async () => {
    setBusy(true);
    setError(null);
    try {
      setSession(await api("POST", `/api/importer/session/${session.pk}/accept_fields/`, {}));
    } catch (e) {
      setError(e);
    }
    setBusy(false);
  };
  const savedMapping = (mapping) => setSession({ ...session, column_mappings:
    session.column_mappings.map((m) => (m.pk === mapping.pk ? mapping : m)) });
  return h("div", null,
    h("section", { class: "panel", "aria-labelledby": "mapping-title" },
      h("h2", { id: "mapping-title" }, "Columns"),
      h("p", { class: "hint" }, editable ? "Each field takes the column chosen for it; the "
        + "server matched them by name." : "The server matched the file's columns by name; "
        + "only a superuser may change them."),
      h("div", { class: "scroll" }, h("table", { class: "list mapping" },
        h("thead", null, h("tr", null, h("th", { scope: "col" }, "Field"),
          h("th", { scope: "col" }, "Column of the file"))),
        h("tbody", null, session.column_mappings.map((m) => h(MappingRow, { key: m.pk,
          session, mapping: m, editable, onSaved: savedMapping })))))),
    editable && h(ValuesForm, { session, onSaved: setSession }),
    h(FormError, { message: error && error.message }),
    h("button", { type: "button", onClick: accept, disabled: busy }, "Accept columns and read rows"));
}

export const sessionPath = (id) => `/api/importer/session/${encodeURIComponent(id)}/`;

export function ImportSession({ id }) {
  const [session, setSession] = useState(null);
  const [error, setError] = useState(null);
  const waiting = session && (session.status === STATUS.INITIALIZING
    || session.status === STATUS.IMPORTING);

  useEffect(() => {
    get(sessionPath(id)).then(setSession, setError);
  }, [id]);
  useEffect(() => {
    if (!waiting) return undefined;
    const timer = setTimeout(() => get(`/api/importer/session/${session.pk}/`)
      .then(setSession, setError), POLL_MS);
    return () => clearTimeout(timer);
  }, [session, waiting]);

  if (error) {
    return h("main", null, h("h1", null, "Import session"),
      h("p", { class: "error", role: "alert" }, error.status === 404
        ? "There is no such import session, or it is not yours." : error.message),
      h(Link, { href: `${BASE}/imports` }, "All imports"));
  }
  if (!session) return h("main", null, h("p", { role: "status" }, "Loading…"));
  let step;
  if (session.status === STATUS.MAPPING) step = h(Mapping, { session, setSession });
  else if (waiting) {
    step = h(Progress, { label: STATUS_NAMES[session.status], value: session.row_count,
      max: 0 });
  } else step = h(RowsReview, { session, setSession });
  return h("main", null,
    h("p", null, h(Link, { href: `${BASE}/imports` }, "← All imports")),
    h("h1", null, `Import ${session.pk}: ${modelName(session.model_type)}`),
    h("p", { class: "hint" }, `${fileName(session.data_file)} · started ${session.timestamp}`
      + (session.row_count ? ` · ${session.row_count.toLocaleString()} rows` : "")),
    h(Steps, { status: session.status }),
    step);
}
