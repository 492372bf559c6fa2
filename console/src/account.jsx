// The signed-in user's account: change the password (POST /api/auth/password/change/).
import { h } from "preact";
import { useState } from "preact/hooks";
import { api } from "./api.js";
import { FormError, Notice, TextField } from "./forms.jsx";
import { ROLE_NAMES } from "./admin/groups.jsx";
import { BASE, Link } from "./router.js";
import { useSession } from "./session.js";

function Roles({ roles }) {
  const granted = Object.entries((roles && roles.roles) || {}).filter(([, p]) => p && p.length);
  return h("section", { "aria-labelledby": "roles-title" },
    h("h2", { id: "roles-title" }, "Your roles"),
    granted.length ? h("ul", { class: "roles-held" }, granted.map(([role, perms]) => h("li",
      { key: role, "data-role": role }, h("strong", null, ROLE_NAMES[role] || role), ": ",
    perms.join(", ")))) : h("p", null, "No roles: your groups grant none."));
}

const FIELDS = ["old_password", "new_password1", "new_password2", "revoke_tokens"];

export function Account() {
  const session = useSession();
  const [values, setValues] = useState({ old_password: "", new_password1: "", new_password2: "" });
  const [revoke, setRevoke] = useState(false);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const field = (name) => (value) => setValues({ ...values, [name]: value });
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setDone(false);
    try {
      await api("POST", "/api/auth/password/change/", { ...values, revoke_tokens: revoke });
      setDone(true);
      setValues({ old_password: "", new_password1: "", new_password2: "" });
    } catch (e) {
      setError(e);
    }
    setBusy(false);
  };
  const me = session.me || {};
  return h("main", { class: "narrow" },
    h("h1", null, "Account"),
    h("dl", { class: "facts" },
      h("dt", null, "Username"), h("dd", null, me.username),
      h("dt", null, "Name"), h("dd", null, [me.first_name, me.last_name].filter(Boolean)
        .join(" ") || "—"),
      h("dt", null, "E-mail"), h("dd", null, me.email || "—"),
      h("dt", null, "Access"), h("dd", null, me.is_superuser ? "Superuser"
        : me.is_staff ? "Staff" : "User"),
      h("dt", null, "Groups"), h("dd", null, (me.groups || []).map((g) => g.name).join(", ")
        || "—")),
    h(Roles, { roles: session.roles }),
    h("p", null, h(Link, { href: `${BASE}/account/tokens` }, "Your API tokens")),
    h("form", { onSubmit: submit, "aria-labelledby": "password-title", noValidate: true },
      h("h2", { id: "password-title" }, "Change password"),
      h(TextField, { label: "Current password", name: "old_password", type: "password",
        value: values.old_password, onInput: field("old_password"),
        autocomplete: "current-password", error: error && error.field("old_password") }),
      h(TextField, { label: "New password", name: "new_password1", type: "password",
        value: values.new_password1, onInput: field("new_password1"),
        autocomplete: "new-password", error: error && error.field("new_password1") }),
      h(TextField, { label: "New password again", name: "new_password2", type: "password",
        value: values.new_password2, onInput: field("new_password2"),
        autocomplete: "new-password", error: error && error.field("new_password2") }),
      h("div", { class: "field checkbox" },
        h("input", { type: "checkbox", id: "field-revoke", checked: revoke,
          onChange: (e) => setRevoke(e.target.checked) }),
        h("label", { for: "field-revoke" }, "Also revoke my API tokens")),
      h(FormError, { message: error && error.general(FIELDS) }),
      done && h(Notice, null, "Password changed. Your other browser sessions were signed out."),
      h("button", { type: "submit", disabled: busy }, "Change password")));
}
