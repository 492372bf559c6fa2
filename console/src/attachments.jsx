// Attachments: browse by model type and object, search, files or links; upload several files
// by drag and drop with progress, add links, edit name, comment and tags, preview images,
// download, delete one or many. Paged by the server.
import { h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, get, query, upload } from "./api.js";
import { Field, FormError, Progress, TextField } from "./forms.jsx";
import { bytes, tooLarge } from "./lists.jsx";
import { useSession } from "./session.js";

const PAGE = 25;
const IMAGE = /\.(png|jpe?g|gif|webp|bmp)$/i;
const KINDS = { all: "Files and links", file: "Files", link: "Links" };

/**
 * Whether the session's user may `permission` attachments of `modelType`: InvenTree's
 * `<app>.<permission>_<model>` permission, which /api/user/roles/ lists under
 * `permissions` by model name (a role grants it for every table in its rule set).
 */
export function mayAttach(session, modelType, permission) {
  if (!session.me) return false;
  if (session.me.is_superuser) return true;
  const perms = session.roles && session.roles.permissions
    ? session.roles.permissions[modelType] : null;
  return Array.isArray(perms) && perms.includes(permission);
}

function Uploads({ target, limit, onDone }) {
  const [queue, setQueue] = useState([]); // {name, sent, total, error, done}
  const [dragging, setDragging] = useState(false);
  const [comment, setComment] = useState("");
  const send = async (files) => {
    const items = [...files].map((f, id) => ({ id, file: f, name: f.name, sent: 0, total: f.size,
      refused: tooLarge(f, limit) }));
    let shown = [...items];
    setQueue(shown);
    for (const item of items) {
      if (item.refused) continue; // too large: refused before its upload starts
      const form = new FormData();
      form.append("model_type", target.model_type);
      form.append("model_id", target.model_id);
      form.append("comment", comment);
      form.append("attachment", item.file, item.file.name);
      try {
        await upload("/api/attachment/", form, (sent, total) => {
          shown = shown.map((q) => (q.id === item.id ? { ...q, sent, total } : q));
          setQueue(shown);
        });
        shown = shown.map((q) => (q.id === item.id ? { ...q, sent: q.total, done: true } : q));
      } catch (e) {
        shown = shown.map((q) => (q.id === item.id ? { ...q, error: e } : q));
      }
      setQueue(shown);
    }
    onDone();
  };
  return h("div", { class: `drop${dragging ? " dragging" : ""}`,
    onDragOver: (e) => { e.preventDefault(); setDragging(true); },
    onDragLeave: () => setDragging(false),
    onDrop: (e) => { e.preventDefault(); setDragging(false); send(e.dataTransfer.files); } },
  h("h3", null, "Upload files"),
  h(TextField, { label: "Comment for the uploaded files", name: "upload_comment", value: comment,
    onInput: setComment }),
  h(Field, { label: "Files", name: "files", hint: `Drop files here, or choose them${limit
    ? ` (up to ${bytes(limit)} each)` : ""}.` },
    (props) => h("input", { ...props, type: "file", multiple: true,
      onChange: (e) => { send(e.target.files); e.target.value = ""; } })),
  queue.map((q) => h("div", { key: q.id },
    h(Progress, { label: q.name, value: q.sent, max: q.total || 1 }),
    q.refused && h("p", { class: "error", role: "alert" }, q.refused),
    q.error && h("p", { class: "error", role: "alert" },
      `${q.name}: ${q.error.field("attachment") || q.error.general(["attachment"])}`))));
}

function AddLink({ target, onDone }) {
  const [link, setLink] = useState("");
  const [comment, setComment] = useState("");
  const [error, setError] = useState(null);
  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    try {
      await api("POST", "/api/attachment/", { ...target, link, comment });
      setLink("");
      setComment("");
      onDone();
    } catch (e) {
      setError(e);
    }
  };
  return h("form", { onSubmit: submit, "aria-labelledby": "add-link-title" },
    h("h3", { id: "add-link-title" }, "Add a link"),
    h(TextField, { label: "Link", name: "link", type: "url", value: link, onInput: setLink,
      error: error && error.field("link") }),
    h(TextField, { label: "Comment", name: "link_comment", value: comment, onInput: setComment,
      error: error && error.field("comment") }),
    h(FormError, { message: error && error.general(["link", "comment"]) }),
    h("button", { type: "submit", class: "secondary" }, "Add link"));
}

function Editor({ item, onSaved, onCancel }) {
  const [filename, setFilename] = useState(item.filename || "");
  const [comment, setComment] = useState(item.comment || "");
  const [tags, setTags] = useState((item.tags || []).join(", "));
  const [error, setError] = useState(null);
  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    const body = { comment, tags: tags.split(",").map((t) => t.trim()).filter(Boolean) };
    if (item.filename && filename !== item.filename) body.filename = filename;
    try {
      onSaved(await api("PATCH", `/api/attachment/${item.pk}/`, body));
    } catch (e) {
      setError(e);
    }
  };
  const id = (name) => `edit-${item.pk}-${name}`;
  return h("form", { class: "inline-edit", onSubmit: submit },
    item.filename && h(TextField, { label: "File name", name: "filename", id: id("filename"),
      value: filename, onInput: setFilename, error: error && error.field("filename") }),
    h(TextField, { label: "Comment", name: "comment", id: id("comment"), value: comment,
      onInput: setComment, error: error && error.field("comment") }),
    h(TextField, { label: "Tags (comma separated)", name: "tags", id: id("tags"), value: tags,
      onInput: setTags, error: error && error.field("tags") }),
    h(FormError, { message: error && error.general(["filename", "comment", "tags"]) }),
    h("button", { type: "submit" }, "Save"),
    " ",
    h("button", { type: "button", class: "secondary", onClick: onCancel }, "Cancel"));
}

function Item({ item, selected, toggle, onChanged, onError }) {
  const session = useSession();
  const [editing, setEditing] = useState(false);
  const mayChange = mayAttach(session, item.model_type, "change");
  const mayDelete = mayAttach(session, item.model_type, "delete");
  const name = item.filename || item.link;
  const remove = async () => {
    if (!window.confirm(`Delete ${name}?`)) return;
    try {
      await api("DELETE", `/api/attachment/${item.pk}/`);
      onChanged();
    } catch (e) {
      onError(e);
    }
  };
  return h("tr", { "data-pk": item.pk },
    h("td", null, h("input", { type: "checkbox", checked: selected, onChange: () => toggle(item.pk),
      "aria-label": `Select ${name}` })),
    h("td", { class: "preview" }, item.filename && IMAGE.test(item.filename)
      ? h("img", { src: item.attachment, alt: `Preview of ${item.filename}`, loading: "lazy" })
      : h("span", { class: "hint" }, item.link ? "link" : "file")),
    h("td", null, editing ? h(Editor, { item, onCancel: () => setEditing(false),
      onSaved: () => { setEditing(false); onChanged(); } })
      : [item.link ? h("a", { href: item.link, rel: "noopener noreferrer", target: "_blank" },
        item.link) : h("a", { href: item.attachment, download: item.filename }, item.filename),
      item.comment && h("p", { class: "hint" }, item.comment),
      item.tags && item.tags.length ? h("p", { class: "tags" }, item.tags.join(", ")) : null]),
    h("td", null, `${item.model_type} ${item.model_id}`),
    h("td", null, item.file_size ? `${item.file_size.toLocaleString()} B` : ""),
    h("td", null, item.upload_date.slice(0, 10)),
    h("td", { class: "actions" },
      !editing && mayChange && h("button", { type: "button", class: "link",
        onClick: () => setEditing(true), "aria-label": `Edit ${name}` }, "Edit"),
      mayDelete && h("button", { type: "button", class: "link danger", onClick: remove,
        "aria-label": `Delete ${name}` }, "Delete")));
}

export function Attachments() {
  const session = useSession();
  const [types, setTypes] = useState([]);
  const [limit, setLimit] = useState(null);
  const [modelType, setModelType] = useState("");
  const [modelId, setModelId] = useState("");
  const [search, setSearch] = useState("");
  const [kind, setKind] = useState("all");
  const [page, setPage] = useState(0);
  const [found, setFound] = useState(null);
  const [error, setError] = useState(null);
  const [selected, setSelected] = useState(() => new Set());
  const [tick, setTick] = useState(0);

  useEffect(() => {
    api("OPTIONS", "/api/attachment/").then((meta) => {
      const field = meta.actions && meta.actions.POST && meta.actions.POST.model_type;
      setTypes(field ? field.choices : []);
      const file = meta.actions && meta.actions.POST && meta.actions.POST.attachment;
      setLimit(file && Number.isInteger(file.max_size) ? file.max_size : null);
    }, setError);
  }, []);
  const typed = useRef(false); // the first list is asked for at once, later ones after typing
  useEffect(() => {
    const wait = typed.current ? 200 : 0;
    typed.current = true;
    const timer = setTimeout(() => get(`/api/attachment/${query({ limit: PAGE,
      offset: page * PAGE, model_type: modelType, model_id: modelId, search,
      is_file: kind === "file" ? "true" : undefined, is_link: kind === "link" ? "true" : undefined,
      ordering: "-upload_date" })}`).then(setFound, setError), wait);
    return () => clearTimeout(timer);
  }, [modelType, modelId, search, kind, page, tick]);

  const refresh = () => { setSelected(new Set()); setTick((n) => n + 1); };
  const toggle = (pk) => {
    const next = new Set(selected);
    if (next.has(pk)) next.delete(pk);
    else next.add(pk);
    setSelected(next);
  };
  const removeSelected = async () => {
    if (!window.confirm(`Delete ${selected.size} attachments?`)) return;
    try {
      await api("DELETE", "/api/attachment/", { items: [...selected] });
      refresh();
    } catch (e) {
      setError(e);
    }
  };
  const target = modelType && /^\d+$/.test(modelId)
    ? { model_type: modelType, model_id: Number(modelId) } : null;
  const mayAdd = modelType && mayAttach(session, modelType, "change");
  const shown = found ? found.results : [];
  const mayDeleteSelected = shown.filter((a) => selected.has(a.pk))
    .every((a) => mayAttach(session, a.model_type, "delete"));
  const count = found ? found.count : 0;
  const last = Math.max(0, Math.ceil(count / PAGE) - 1);
  const filter = (set) => (value) => { set(value); setPage(0); };
  return h("main", null,
    h("h1", null, "Attachments"),
    h("div", { class: "panel filters" },
      h(Field, { label: "Model type", name: "model_type" }, (props) => h("select", { ...props,
        value: modelType, onChange: (e) => filter(setModelType)(e.target.value) },
      h("option", { value: "" }, "Any"),
      types.map((t) => h("option", { key: t.value, value: t.value }, t.display_name)))),
      h(TextField, { label: "Object id", name: "model_id", value: modelId, inputmode: "numeric",
        onInput: filter(setModelId) }),
      h(TextField, { label: "Search", name: "search", type: "search", value: search,
        onInput: filter(setSearch) }),
      h(Field, { label: "Show", name: "kind" }, (props) => h("select", { ...props, value: kind,
        onChange: (e) => filter(setKind)(e.target.value) },
      Object.entries(KINDS).map(([k, label]) => h("option", { key: k, value: k }, label))))),
    target && mayAdd ? h("section", { class: "panel", "aria-label": "Add attachments" },
      h(Uploads, { target, limit, onDone: refresh }), h(AddLink, { target, onDone: refresh }))
      : h("p", { class: "hint" }, modelType && !mayAdd ? "Your roles do not allow adding "
        + "attachments to this model type." : "Choose a model type and an object id to add "
        + "attachments."),
    h(FormError, { message: error && error.message }),
    h("div", { class: "toolbar" },
      h("button", { type: "button", class: "secondary",
        disabled: !selected.size || !mayDeleteSelected, onClick: removeSelected }, `Delete selected (${selected.size})`)),
    !found ? h("p", { role: "status" }, "Loading…") : h("div", { class: "scroll" },
      h("table", { class: "list attachments" },
        h("caption", { class: "sr-only" }, "Attachments"),
        h("thead", null, h("tr", null, ["", "Preview", "Attachment", "Object", "Size", "Uploaded",
          ""].map((t, i) => h("th", { scope: "col", key: i }, t || h("span", { class: "sr-only" },
          i ? "Actions" : "Selected"))))),
        h("tbody", null, found.results.map((item) => h(Item, { key: item.pk, item,
          selected: selected.has(item.pk), toggle, onChanged: refresh, onError: setError }))))),
    found && h("nav", { class: "pager", "aria-label": "Attachment pages" },
      h("button", { type: "button", disabled: page === 0, onClick: () => setPage(page - 1) },
        "Previous"),
      h("span", null, count ? `${(page * PAGE + 1).toLocaleString()}–`
        + `${Math.min(count, (page + 1) * PAGE).toLocaleString()} of ${count.toLocaleString()}`
        : "No attachments"),
      h("button", { type: "button", disabled: page >= last, onClick: () => setPage(page + 1) },
        "Next")));
}
