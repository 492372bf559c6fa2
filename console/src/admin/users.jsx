// Users (staff): list and search, create (superusers: the list's OPTIONS offers POST only to
// them), activate or deactivate, staff status (superusers only), name, e-mail and groups.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, get } from "../api.js";
import { FormError, Notice, TextField } from "../forms.jsx";
import { CheckField, Pager, usePagedList } from "../lists.jsx";
import { isSuperuser, useSession } from "../session.js";

const PAGE = 25;
const FIELDS = ["username", "first_name", "last_name", "email", "password", "is_staff",
  "is_active", "groups"];

function GroupChoices({ groups, chosen, setChosen, prefix, disabled }) {
  if (!groups.length) return h("p", { class: "hint" }, "There are no groups yet.");
  return h("fieldset", { class: "choices" }, h("legend", null, "Groups"),
    groups.map((g) => h(CheckField, { key: g.pk, id: `${prefix}-group-${g.pk}`, label: g.name,
      name: "groups", checked: chosen.includes(g.pk), disabled,
      onChange: (on) => setChosen(on ? [...chosen, g.pk] : chosen.filter((pk) => pk !== g.pk)),
    })));
}

function UserForm({ user, groups, superuser, onSaved, onCancel }) {
  const [values, setValues] = useState(() => ({
    username: user ? user.username : "", first_name: user ? user.first_name : "",
    last_name: user ? user.last_name : "", email: user ? user.email : "", password: "",
    is_staff: user ? user.is_staff : false, is_active: user ? user.is_active : true }));
  const [chosen, setChosen] = useState(user ? user.groups.map((g) => g.pk) : []);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (name) => (value) => setValues({ ...values, [name]: value });
  const prefix = user ? `user-${user.pk}` : "new-user";
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const body = { ...values, groups: chosen };
    if (!body.password) delete body.password;
    if (!superuser) delete body.is_staff; // only superusers grant or take away staff status
    try {
      const saved = await api(user ? "PATCH" : "POST", user ? `/api/user/${user.pk}/`
        : "/api/user/", body);
      onSaved(saved);
      if (!user) {
        setValues({ username: "", first_name: "", last_name: "", email: "", password: "",
          is_staff: false, is_active: true });
        setChosen([]);
      }
    } catch (e) {
      setError(e);
    }
    setBusy(false);
  };
  const err = (name) => error && error.field(name);
  const text = (label, name, extra = {}) => h(TextField, { label, name, id: `${prefix}-${name}`,
    value: values[name], onInput: set(name), error: err(name), ...extra });
  return h("form", { class: user ? "inline-edit wide" : "panel", onSubmit: submit, noValidate: true,
    "aria-label": user ? `Edit user ${user.username}` : "New user" },
  !user && h("h2", null, "New user"),
  h("div", { class: "filters" },
    text("Username", "username", { autocomplete: "off" }),
    text("First name", "first_name"), text("Last name", "last_name"),
    text("E-mail", "email", { type: "email" }),
    text(user ? "New password (leave empty to keep)" : "Password", "password",
      { type: "password", autocomplete: "new-password" })),
  h(CheckField, { label: "Active (may sign in)", name: "is_active", id: `${prefix}-is_active`,
    checked: values.is_active, onChange: set("is_active"), error: err("is_active") }),
  superuser && h(CheckField, { label: "Staff (administration pages)", name: "is_staff",
    id: `${prefix}-is_staff`, checked: values.is_staff, onChange: set("is_staff"),
    error: err("is_staff") }),
  h(GroupChoices, { groups, chosen, setChosen, prefix, disabled: busy }),
  err("groups") && h("p", { class: "error", role: "alert" }, err("groups")),
  h(FormError, { message: error && error.general(FIELDS) }),
  h("button", { type: "submit", disabled: busy }, user ? "Save user" : "Create user"),
  onCancel && " ", onCancel && h("button", { type: "button", class: "secondary",
    onClick: onCancel }, "Cancel"));
}

function flags(user) {
  return [user.is_superuser && "superuser", user.is_staff && !user.is_superuser && "staff",
    !user.is_active && "inactive"].filter(Boolean).join(", ");
}

export function Users() {
  const session = useSession();
  const superuser = isSuperuser(session);
  const [page, setPage] = useState(0);
  const [search, setSearch] = useState("");
  const [groups, setGroups] = useState([]);
  const [canCreate, setCanCreate] = useState(false);
  const [editing, setEditing] = useState(null);
  const [notice, setNotice] = useState("");
  const [rowError, setRowError] = useState(null); // [pk, error]
  const { found, error, reload } = usePagedList("/api/user/", { search, ordering: "username" },
    page, PAGE, [search]);
  useEffect(() => {
    get("/api/user/group/?limit=500&ordering=name").then((g) => setGroups(g.results), () => {});
    api("OPTIONS", "/api/user/").then((meta) => setCanCreate(Boolean(meta.actions
      && meta.actions.POST)), () => {});
  }, []);
  const mayEdit = (user) => user.pk === session.me.pk || !user.is_superuser || superuser;
  const setActive = async (user, active) => {
    setRowError(null);
    try {
      await api("PATCH", `/api/user/${user.pk}/`, { is_active: active });
      setNotice(`${user.username} ${active ? "activated" : "deactivated"}.`);
      reload();
    } catch (e) {
      setRowError([user.pk, e]);
    }
  };
  const saved = (user, verb) => {
    setNotice(`User ${user.username} ${verb}.`);
    setEditing(null);
    reload();
  };
  return h("main", null,
    h("h1", null, "Users"),
    canCreate && h(UserForm, { groups, superuser, onSaved: (u) => saved(u, "created") }),
    notice && h(Notice, null, notice),
    h("div", { class: "panel filters" }, h(TextField, { label: "Search users", name: "search",
      type: "search", value: search, onInput: (v) => { setSearch(v); setPage(0); } })),
    h(FormError, { message: error && error.message }),
    !found ? h("p", { role: "status" }, "Loading…") : h("div", { class: "scroll" },
      h("table", { class: "list users" },
        h("caption", { class: "sr-only" }, "Users"),
        h("thead", null, h("tr", null, ["Username", "Name", "E-mail", "Groups", "Status", ""]
          .map((t, i) => h("th", { scope: "col", key: i }, t
            || h("span", { class: "sr-only" }, "Actions"))))),
        h("tbody", null, found.results.map((user) => editing === user.pk
          ? h("tr", { key: user.pk, "data-pk": user.pk }, h("td", { colSpan: 6 },
            h(UserForm, { user, groups, superuser, onSaved: (u) => saved(u, "saved"),
              onCancel: () => setEditing(null) })))
          : h("tr", { key: user.pk, "data-pk": user.pk },
            h("th", { scope: "row" }, user.username),
            h("td", null, `${user.first_name} ${user.last_name}`.trim()),
            h("td", null, user.email),
            h("td", null, user.groups.map((g) => g.name).join(", ")),
            h("td", null, flags(user) || "active"),
            h("td", { class: "actions" }, mayEdit(user) && [
              h("button", { type: "button", class: "link", onClick: () => setEditing(user.pk),
                "aria-label": `Edit user ${user.username}` }, "Edit"),
              user.pk !== session.me.pk && h("button", { type: "button", class: "link",
                onClick: () => setActive(user, !user.is_active),
                "aria-label": `${user.is_active ? "Deactivate" : "Activate"} ${user.username}` },
              user.is_active ? "Deactivate" : "Activate")],
            rowError && rowError[0] === user.pk && h("p", { class: "error", role: "alert" },
              rowError[1].message))))))),
    found && h(Pager, { label: "User pages", page, setPage, size: PAGE, count: found.count,
      none: "No users match" }));
}
