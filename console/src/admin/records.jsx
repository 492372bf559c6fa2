// Project codes, custom units and custom states: one page shape for lists whose fields the
// API describes in its OPTIONS answer (DRF's metadata: type, label, help, choices, related
// lists). The form is built from that answer; create, edit and delete are offered only when
// OPTIONS offers POST (staff). Each error shows next to its field, and forms keep what was
// typed.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, get } from "../api.js";
import { FormError, Notice, TextField } from "../forms.jsx";
import { Pager, SelectField, usePagedList } from "../lists.jsx";

const PAGE = 25;
const RELATED_LIMIT = 500;

/** How a related object is named in a select. */
function relatedName(item) {
  return item.app_labeled_name || (item.label && item.name ? `${item.name} (${item.label})`
    : item.name || item.username || item.code || String(item.pk));
}

function useRelated(fields) {
  const [related, setRelated] = useState({});
  useEffect(() => {
    const wanted = Object.entries(fields).filter(([, f]) => f.type === "related field"
      && !f.read_only && f.api_url);
    Promise.all(wanted.map(([name, f]) => get(`${f.api_url}?limit=${RELATED_LIMIT}`)
      .then((answer) => [name, answer.results || answer], () => [name, []])))
      .then((pairs) => setRelated(Object.fromEntries(pairs)));
  }, [Object.keys(fields).join(",")]);
  return related;
}

function blankValues(fields, item) {
  const values = {};
  for (const [name, f] of Object.entries(fields)) {
    if (f.read_only) continue;
    const current = item ? item[name] : f.default;
    values[name] = current === null || current === undefined ? "" : String(current);
  }
  return values;
}

/** The body for `values`: integers and related pks as numbers; an empty number, choice or
 * related field left out of a new object (the server says it is required, or uses its
 * default) and null in an edit. */
function bodyOf(fields, values, editing) {
  const body = {};
  for (const [name, value] of Object.entries(values)) {
    const f = fields[name];
    if (f.type === "string" || f.type === "email") body[name] = value;
    else if (value !== "") body[name] = /^-?\d+$/.test(value) && f.type !== "choice"
      ? Number(value) : value;
    else if (editing) body[name] = null;
  }
  return body;
}

function Input({ name, field, value, onInput, error, prefix, related, swatch }) {
  const id = `${prefix}-${name}`;
  const label = `${field.label}${field.required ? " (required)" : ""}`;
  if (field.type === "choice" || field.type === "related field") {
    const choices = field.type === "choice"
      ? field.choices.map((c) => [String(c.value), c.display_name])
      : (related[name] || []).map((item) => [String(item.pk), relatedName(item)]);
    return h("div", { class: "with-swatch" },
      h(SelectField, { label, name, id, value, onChange: onInput, error, hint: field.help_text,
        choices: [["", field.required ? "Choose…" : "None"], ...choices] }),
      swatch && value && h("span", { class: `swatch color-${value}`, "aria-hidden": "true" }));
  }
  return h(TextField, { label, name, id, value, onInput, error, hint: field.help_text,
    type: field.type === "integer" ? "number" : "text",
    maxLength: field.max_length || undefined });
}

function RecordForm({ config, fields, related, item, onSaved, onCancel }) {
  const [values, setValues] = useState(() => blankValues(fields, item));
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const prefix = item ? `edit-${item.pk}` : "new";
  const editable = Object.keys(values);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const saved = await api(item ? "PATCH" : "POST", item ? `${config.path}${item.pk}/`
        : config.path, bodyOf(fields, values, Boolean(item)));
      onSaved(saved);
      if (!item) setValues(blankValues(fields, null));
    } catch (e) {
      setError(e);
    }
    setBusy(false);
  };
  return h("form", { class: item ? "inline-edit wide" : "panel", onSubmit: submit, noValidate: true,
    "aria-label": item ? `Edit ${config.one} ${config.title(item)}` : `New ${config.one}` },
  !item && h("h2", null, `New ${config.one}`),
  h("div", { class: "filters" }, editable.map((name) => h(Input, { key: name, name, prefix,
    field: fields[name], value: values[name], related, swatch: name === "color",
    onInput: (v) => setValues({ ...values, [name]: v }),
    error: error && error.field(name) }))),
  h(FormError, { message: error && error.general(editable) }),
  h("button", { type: "submit", disabled: busy }, item ? "Save" : `Create ${config.one}`),
  onCancel && " ", onCancel && h("button", { type: "button", class: "secondary",
    onClick: onCancel }, "Cancel"));
}

export function Records({ config }) {
  const [meta, setMeta] = useState(null);
  const [page, setPage] = useState(0);
  const [search, setSearch] = useState("");
  const [editing, setEditing] = useState(null);
  const [notice, setNotice] = useState("");
  const [rowError, setRowError] = useState(null);
  const { found, error, reload } = usePagedList(config.path, { search, ordering: config.ordering },
    page, PAGE, [search, config.path]);
  useEffect(() => {
    setMeta(null);
    api("OPTIONS", config.path).then(setMeta, () => setMeta({}));
  }, [config.path]);
  const fields = (meta && meta.actions && meta.actions.POST) || {};
  const canWrite = Boolean(meta && meta.actions && meta.actions.POST);
  const related = useRelated(fields);
  const remove = async (item) => {
    if (!window.confirm(`Delete the ${config.one} ${config.title(item)}?`)) return;
    setRowError(null);
    try {
      await api("DELETE", `${config.path}${item.pk}/`);
      setNotice(`${config.title(item)} deleted.`);
      reload();
    } catch (e) {
      setRowError([item.pk, e]);
    }
  };
  const saved = (item, verb) => {
    setNotice(`${config.title(item)} ${verb}.`);
    setEditing(null);
    reload();
  };
  const columns = config.columns;
  return h("main", null,
    h("h1", null, config.heading),
    config.about && h("p", { class: "hint" }, config.about),
    canWrite && h(RecordForm, { key: config.path, config, fields, related,
      onSaved: (item) => saved(item, "created") }),
    notice && h(Notice, null, notice),
    h("div", { class: "panel filters" }, h(TextField, { label: `Search ${config.heading
      .toLowerCase()}`, name: "search", type: "search", value: search,
    onInput: (v) => { setSearch(v); setPage(0); } })),
    h(FormError, { message: error && error.message }),
    !found ? h("p", { role: "status" }, "Loading…") : h("div", { class: "scroll" },
      h("table", { class: "list records" },
        h("caption", { class: "sr-only" }, config.heading),
        h("thead", null, h("tr", null, columns.map(([label]) => h("th", { scope: "col",
          key: label }, label)), h("th", { scope: "col" }, h("span", { class: "sr-only" },
          "Actions")))),
        h("tbody", null, found.results.map((item) => (editing === item.pk
          ? h("tr", { key: item.pk, "data-pk": item.pk }, h("td", { colSpan: columns.length + 1 },
            h(RecordForm, { config, fields, related, item, onSaved: (i) => saved(i, "saved"),
              onCancel: () => setEditing(null) })))
          : h("tr", { key: item.pk, "data-pk": item.pk },
            columns.map(([label, show]) => h("td", { key: label }, show(item))),
            h("td", { class: "actions" }, canWrite && [
              h("button", { type: "button", class: "link", onClick: () => setEditing(item.pk),
                "aria-label": `Edit ${config.title(item)}` }, "Edit"),
              h("button", { type: "button", class: "link danger", onClick: () => remove(item),
                "aria-label": `Delete ${config.title(item)}` }, "Delete")],
            rowError && rowError[0] === item.pk && h("p", { class: "error", role: "alert" },
              rowError[1].message)))))))),
    found && h(Pager, { label: `${config.heading} pages`, page, setPage, size: PAGE,
      count: found.count, none: `No ${config.heading.toLowerCase()}` }));
}

const swatch = (item) => h("span", { class: `badge color-${item.color}` }, item.label);

export const PROJECT_CODES = {
  path: "/api/project-code/", heading: "Project codes", one: "project code", ordering: "code",
  title: (item) => item.code,
  columns: [["Code", (i) => i.code], ["Description", (i) => i.description],
    ["Responsible", (i) => (i.responsible_detail ? i.responsible_detail.name : "")]],
};

export const CUSTOM_UNITS = {
  path: "/api/units/", heading: "Custom units", one: "unit", ordering: "name",
  about: "Units of measure beyond the built-in ones, defined in terms of them (e.g. "
    + "“100 mm” for a unit “dm”).",
  title: (item) => item.name,
  columns: [["Name", (i) => i.name], ["Symbol", (i) => i.symbol],
    ["Definition", (i) => i.definition]],
};

export const CUSTOM_STATES = {
  path: "/api/generic/status/custom/", heading: "Custom states", one: "state",
  ordering: "reference_status", about: "States added to a status class, each behaving as "
    + "one of the class's own (its logical key), shown with its label and colour.",
  title: (item) => `${item.reference_status} ${item.name}`,
  columns: [["Status class", (i) => i.reference_status], ["Key", (i) => i.key],
    ["Name", (i) => i.name], ["Shown as", swatch], ["Logical key", (i) => i.logical_key],
    ["Model", (i) => i.model_name || i.model]],
};
