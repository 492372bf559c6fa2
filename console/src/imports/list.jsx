// Imports: start one (pick the model, drop or choose a file, watch it upload) and the past
// sessions, paged by the server, each resumable (and deletable by a superuser).
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, get, query, upload } from "../api.js";
import { Field, FormError, Progress } from "../forms.jsx";
import { bytes, tooLarge, uploadLimit } from "../lists.jsx";
import { BASE, Link, navigate } from "../router.js";
import { isSuperuser, useSession } from "../session.js";
import { EXTENSIONS, fileName, modelName, STATUS_NAMES } from "./models.js";

const PAGE = 20;

function extensionOf(name) {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
}

function NewImport() {
  const [models, setModels] = useState(null);
  const [model, setModel] = useState("");
  const [file, setFile] = useState(null);
  const [dragging, setDragging] = useState(false);
  const [sent, setSent] = useState(null); // [bytes sent, total] while uploading
  const [error, setError] = useState(null);
  const [fileError, setFileError] = useState(null);
  const [limit, setLimit] = useState(null);

  useEffect(() => {
    uploadLimit("/api/importer/session/", "data_file").then(setLimit, () => setLimit(null));
    get("/api/importer/models/").then((found) => {
      setModels(found);
      if (found.length) setModel(found[0].model_type);
    }, setError);
  }, []);

  const choose = (chosen) => {
    setError(null);
    if (!chosen) return;
    const extension = extensionOf(chosen.name);
    if (!EXTENSIONS.includes(extension)) {
      setFile(null);
      setFileError(`“${chosen.name}” is not a data file this server reads: choose a `
        + `${EXTENSIONS.join(", ")} file.`);
      return;
    }
    const refused = tooLarge(chosen, limit);
    if (refused) { // refused before the upload starts
      setFile(null);
      setFileError(refused);
      return;
    }
    setFileError(null);
    setFile(chosen);
  };
  const drop = (event) => {
    event.preventDefault();
    setDragging(false);
    const files = event.dataTransfer && event.dataTransfer.files;
    if (files && files.length) choose(files[0]);
  };
  const submit = async (event) => {
    event.preventDefault();
    if (!file) {
      setFileError("Choose a file to import.");
      return;
    }
    const refused = tooLarge(file, limit); // chosen before the limit was known
    if (refused) {
      setFileError(refused);
      return;
    }
    const form = new FormData();
    form.append("model_type", model);
    form.append("data_file", file, file.name);
    setError(null);
    setSent([0, file.size]);
    try {
      const made = await upload("/api/importer/session/", form,
        (loaded, total) => setSent([loaded, total]));
      navigate(`${BASE}/imports/${made.pk}`);
    } catch (e) {
      setSent(null);
      setError(e);
    }
  };

  const fieldError = (name) => error && error.field(name);
  return h("form", { onSubmit: submit, "aria-labelledby": "new-import-title", noValidate: true,
    class: "panel" },
    h("h2", { id: "new-import-title" }, "New import"),
    h(Field, { label: "What to import", name: "model_type", error: fieldError("model_type") },
      (props) => h("select", { ...props, value: model, disabled: !models,
        onChange: (e) => setModel(e.target.value) },
        (models || []).map((m) => h("option", { key: m.model_type, value: m.model_type },
          modelName(m.model_type))))),
    h("div", { class: `drop${dragging ? " dragging" : ""}`,
      onDragOver: (e) => { e.preventDefault(); setDragging(true); },
      onDragLeave: () => setDragging(false), onDrop: drop },
    h(Field, { label: "Data file (CSV, TSV, JSON or Excel)", name: "data_file",
      hint: `Drop the file here, or choose it${limit ? ` (up to ${bytes(limit)})` : ""}.`,
      error: fileError || fieldError("data_file") },
    (props) => h("input", { ...props, type: "file",
      accept: EXTENSIONS.map((e) => `.${e}`).join(","),
      onChange: (e) => choose(e.target.files[0]) })),
    file && h("p", { class: "chosen" }, `${file.name} — ${file.size.toLocaleString()} bytes`)),
    sent && h(Progress, { label: "Uploading", value: sent[0], max: sent[1] }),
    h(FormError, { message: error && error.general(["model_type", "data_file"]) }),
    h("button", { type: "submit", disabled: Boolean(sent) || !models }, "Upload and map columns"));
}

function PastSessions() {
  const session = useSession();
  const [page, setPage] = useState(0);
  const [found, setFound] = useState(null);
  const [error, setError] = useState(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    get(`/api/importer/session/${query({ limit: PAGE, offset: page * PAGE,
      ordering: "-timestamp" })}`).then(setFound, setError);
  }, [page, tick]);

  const remove = async (pk) => {
    if (!window.confirm(`Delete import session ${pk} and its rows?`)) return;
    try {
      await api("DELETE", `/api/importer/session/${pk}/`);
      setTick(tick + 1);
    } catch (e) {
      setError(e);
    }
  };
  if (error) return h("p", { class: "error", role: "alert" }, error.message);
  if (!found) return h("p", { role: "status" }, "Loading sessions…");
  const last = Math.max(0, Math.ceil(found.count / PAGE) - 1);
  return h("section", { "aria-labelledby": "past-title" },
    h("h2", { id: "past-title" }, "Import sessions"),
    found.count === 0 ? h("p", null, "No imports yet.") : h("div", { class: "scroll" },
      h("table", { class: "list" },
        h("thead", null, h("tr", null, ["#", "Model", "File", "Status", "Rows", "Started", ""]
          .map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", null, found.results.map((s) => h("tr", { key: s.pk },
          h("td", null, s.pk), h("td", null, modelName(s.model_type)),
          h("td", null, fileName(s.data_file)), h("td", null, STATUS_NAMES[s.status] || s.status),
          h("td", null, `${s.completed_row_count.toLocaleString()} / ${s.row_count.toLocaleString()}`),
          h("td", null, s.timestamp),
          h("td", { class: "actions" },
            h(Link, { href: `${BASE}/imports/${s.pk}`,
              "aria-label": `Open import session ${s.pk}` }, s.status === 40 ? "View" : "Resume"),
            isSuperuser(session) && h("button", { type: "button", class: "link danger",
              onClick: () => remove(s.pk), "aria-label": `Delete import session ${s.pk}` },
            "Delete"))))))),
    found.count > PAGE && h("nav", { class: "pager", "aria-label": "Session pages" },
      h("button", { type: "button", disabled: page === 0, onClick: () => setPage(page - 1) },
        "Previous"),
      h("span", null, `Page ${page + 1} of ${last + 1}`),
      h("button", { type: "button", disabled: page >= last, onClick: () => setPage(page + 1) },
        "Next")));
}

export function ImportList() {
  return h("main", null,
    h("h1", null, "Imports"),
    h(NewImport, null),
    h(PastSessions, null));
}
