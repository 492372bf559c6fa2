// Groups and their roles (staff write them): InvenTree's ten roles as a grid of checkboxes,
// role × view/add/change/delete, saved as the group's `roles` field. The server widens what
// is granted (add or delete imply change, any implies view) and the grid shows its answer.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api } from "../api.js";
import { FormError, Notice, TextField } from "../forms.jsx";
import { Pager, usePagedList } from "../lists.jsx";
import { useSession } from "../session.js";

const PAGE = 25;
export const PERMISSIONS = ["view", "add", "change", "delete"];
export const ROLE_NAMES = {
  admin: "Admin", part_category: "Part categories", part: "Parts", stocktake: "Stocktake",
  stock_location: "Stock locations", stock: "Stock items", build: "Build orders",
  purchase_order: "Purchase orders", sales_order: "Sales orders", return_order: "Return orders",
};

/** The role names in the server's order (from /api/user/roles/), else InvenTree's. */
export function roleKeys(session) {
  const roles = session.roles && session.roles.roles;
  return roles ? Object.keys(roles) : Object.keys(ROLE_NAMES);
}

/** What a click grants as InvenTree does: add/delete need change, anything needs view. */
function toggled(perms, perm, on) {
  const next = new Set(perms);
  if (on) {
    next.add(perm);
    if (perm === "add" || perm === "delete") next.add("change");
    next.add("view");
  } else {
    next.delete(perm);
    if (perm === "view") PERMISSIONS.forEach((p) => next.delete(p));
    if (perm === "change") { next.delete("add"); next.delete("delete"); }
  }
  return PERMISSIONS.filter((p) => next.has(p));
}

export function RoleGrid({ idPrefix, roles, keys, onChange, disabled, caption }) {
  return h("div", { class: "scroll" }, h("table", { class: "list roles" },
    h("caption", null, caption),
    h("thead", null, h("tr", null, h("th", { scope: "col" }, "Role"),
      PERMISSIONS.map((p) => h("th", { scope: "col", key: p }, p[0].toUpperCase() + p.slice(1))))),
    h("tbody", null, keys.map((role) => {
      const granted = roles[role] || [];
      return h("tr", { key: role }, h("th", { scope: "row" }, ROLE_NAMES[role] || role),
        PERMISSIONS.map((perm) => h("td", { key: perm }, h("input", {
          type: "checkbox", id: `${idPrefix}-${role}-${perm}`, checked: granted.includes(perm),
          disabled, "aria-label": `${ROLE_NAMES[role] || role}: ${perm}`,
          onChange: (e) => onChange({ ...roles, [role]: toggled(granted, perm,
            e.target.checked) }) }))));
    }))));
}

function emptyRoles(keys) {
  return Object.fromEntries(keys.map((k) => [k, []]));
}

function GroupForm({ group, keys, onSaved, onCancel }) {
  const [name, setName] = useState(group ? group.name : "");
  const [roles, setRoles] = useState(group ? { ...emptyRoles(keys), ...Object.fromEntries(
    Object.entries(group.roles || {}).map(([k, v]) => [k, v || []])) } : emptyRoles(keys));
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const body = { name, roles: Object.fromEntries(Object.entries(roles)
      .filter(([, perms]) => perms.length)) };
    if (group) { // roles left out are kept by the server: clear them explicitly
      for (const key of keys) if (!body.roles[key]) body.roles[key] = [];
    }
    try {
      const saved = await api(group ? "PATCH" : "POST",
        group ? `/api/user/group/${group.pk}/` : "/api/user/group/", body);
      onSaved(saved);
      if (!group) {
        setName("");
        setRoles(emptyRoles(keys));
      }
    } catch (e) {
      setError(e);
    }
    setBusy(false);
  };
  const prefix = group ? `group-${group.pk}` : "new-group";
  return h("form", { class: group ? "inline-edit wide" : "panel", onSubmit: submit,
    "aria-label": group ? `Edit group ${group.name}` : "New group", noValidate: true },
  !group && h("h2", null, "New group"),
  h(TextField, { label: "Group name", name: "name", id: `${prefix}-name`, value: name,
    onInput: setName, error: error && error.field("name"), required: true }),
  h(RoleGrid, { idPrefix: prefix, roles, keys, onChange: setRoles, disabled: busy,
    caption: "Roles of the group" }),
  h(FormError, { message: error && (error.field("roles") || error.general(["name", "roles"])) }),
  h("button", { type: "submit", disabled: busy }, group ? "Save group" : "Create group"),
  onCancel && " ", onCancel && h("button", { type: "button", class: "secondary",
    onClick: onCancel }, "Cancel"));
}

function summary(roles) {
  const granted = Object.entries(roles || {}).filter(([, perms]) => perms && perms.length);
  if (!granted.length) return h("span", { class: "hint" }, "No roles");
  return granted.map(([role, perms]) => `${ROLE_NAMES[role] || role}: ${perms.join(", ")}`)
    .join("; ");
}

export function Groups() {
  const session = useSession();
  const keys = roleKeys(session);
  const [page, setPage] = useState(0);
  const [canWrite, setCanWrite] = useState(false);
  const [editing, setEditing] = useState(null);
  const [notice, setNotice] = useState("");
  const [actionError, setActionError] = useState(null);
  const { found, error, reload } = usePagedList("/api/user/group/", { ordering: "name" }, page,
    PAGE);
  useEffect(() => {
    api("OPTIONS", "/api/user/group/").then((meta) => setCanWrite(Boolean(
      meta.actions && meta.actions.POST)), () => setCanWrite(false));
  }, []);
  const remove = async (group) => {
    if (!window.confirm(`Delete the group ${group.name}? Its members lose its roles.`)) return;
    setActionError(null);
    try {
      await api("DELETE", `/api/user/group/${group.pk}/`);
      setNotice(`Group ${group.name} deleted.`);
      reload();
    } catch (e) {
      setActionError(e);
    }
  };
  const saved = (group, verb) => {
    setNotice(`Group ${group.name} ${verb}.`);
    setEditing(null);
    reload();
  };
  return h("main", null,
    h("h1", null, "Groups"),
    h("p", { class: "hint" }, "A user gets every role of each group they belong to. "
      + "Add users to groups on the Users page."),
    canWrite && h(GroupForm, { keys, onSaved: (g) => saved(g, "created") }),
    notice && h(Notice, null, notice),
    h(FormError, { message: (error || actionError) && (error || actionError).message }),
    !found ? h("p", { role: "status" }, "Loading…") : h("div", { class: "scroll" },
      h("table", { class: "list groups" },
        h("caption", { class: "sr-only" }, "Groups"),
        h("thead", null, h("tr", null, ["Name", "Roles", ""].map((t, i) => h("th",
          { scope: "col", key: i }, t || h("span", { class: "sr-only" }, "Actions"))))),
        h("tbody", null, found.results.map((group) => h("tr", { key: group.pk,
          "data-pk": group.pk },
        h("th", { scope: "row" }, group.name),
        h("td", null, editing === group.pk ? h(GroupForm, { group, keys,
          onSaved: (g) => saved(g, "saved"), onCancel: () => setEditing(null) })
          : summary(group.roles)),
        h("td", { class: "actions" }, canWrite && editing !== group.pk && [
          h("button", { type: "button", class: "link", onClick: () => setEditing(group.pk),
            "aria-label": `Edit group ${group.name}` }, "Edit"),
          h("button", { type: "button", class: "link danger", onClick: () => remove(group),
            "aria-label": `Delete group ${group.name}` }, "Delete")])))))),
    found && h(Pager, { label: "Group pages", page, setPage, size: PAGE, count: found.count,
      none: "No groups" }));
}
