// Sign in with username and password (POST /api/auth/login/ starts a session), or have a
// sign-in link mailed (POST /api/email/generate/). Back to `next` afterwards.
import { h } from "preact";
import { useState } from "preact/hooks";
import { api } from "./api.js";
import { FormError, Notice, TextField } from "./forms.jsx";
import { BASE, navigate, useLocation } from "./router.js";
import { refresh } from "./session.js";

/** Where to go after signing in: only a path inside the console. */
export function safeNext(next) {
  return next && next.startsWith(`${BASE}/`) && !next.startsWith("//")
    && !next.startsWith(`${BASE}/sign-in`) ? next : `${BASE}/`;
}

function PasswordForm({ next }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api("POST", "/api/auth/login/", { username, password }, { quiet: true });
      await refresh();
      navigate(safeNext(next), { replace: true });
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  return h("form", { onSubmit: submit, "aria-labelledby": "sign-in-title", noValidate: true },
    h("h1", { id: "sign-in-title" }, "Sign in"),
    h(TextField, { label: "Username", name: "username", value: username, onInput: setUsername,
      autocomplete: "username", required: true, autofocus: true,
      error: error && error.field("username") }),
    h(TextField, { label: "Password", name: "password", type: "password", value: password,
      onInput: setPassword, autocomplete: "current-password", required: true,
      error: error && error.field("password") }),
    h(FormError, { message: error && error.general(["username", "password"]) }),
    h("button", { type: "submit", disabled: busy }, busy ? "Signing in…" : "Sign in"));
}

function LinkForm() {
  const [email, setEmail] = useState("");
  const [error, setError] = useState(null);
  const [sent, setSent] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    setSent(false);
    try {
      await api("POST", "/api/email/generate/", { email }, { quiet: true });
      setSent(true);
    } catch (e) {
      setError(e);
    }
  };
  return h("form", { onSubmit: submit, "aria-labelledby": "link-title", noValidate: true },
    h("h2", { id: "link-title" }, "Or get a sign-in link by e-mail"),
    h(TextField, { label: "E-mail address", name: "email", type: "email", value: email,
      onInput: setEmail, autocomplete: "email", id: "field-link-email",
      error: error && error.field("email") }),
    h(FormError, { message: error && error.general(["email"]) }),
    sent && h(Notice, null, "If an account has this address, a sign-in link is on its way. "
      + "It works once, for a few minutes."),
    h("button", { type: "submit", class: "secondary" }, "E-mail me a link"));
}

export function SignIn() {
  const { search } = useLocation();
  return h("main", { class: "narrow" },
    h(PasswordForm, { next: search.get("next") }),
    h(LinkForm, null));
}
