// The signed-in user's API tokens: create one with a name and an expiry (POST
// /api/user/tokens/, which answers its key this once), copy the key, revoke
// (DELETE /api/user/tokens/{id}/). The list shows keys redacted, as the server sends them.
import { h } from "preact";
import { useRef, useState } from "preact/hooks";
import { api } from "../api.js";
import { FormError, Notice, TextField } from "../forms.jsx";
import { Pager, usePagedList } from "../lists.jsx";

const PAGE = 25;

async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    input.select();
    return document.execCommand("copy");
  }
}

/** The new key, shown until it is copied or dismissed; then gone from the page. */
function NewKey({ created, onDone }) {
  const input = useRef(null);
  const [failed, setFailed] = useState(false);
  const copy = async () => {
    if (await copyText(created.token, input.current)) onDone(true);
    else setFailed(true);
  };
  return h("section", { class: "panel key", "aria-labelledby": "new-key-title" },
    h("h2", { id: "new-key-title" }, `Token ${created.name || "(no name)"} created`),
    h("p", null, `It expires on ${created.expiry}. Copy the key now: it is not shown again.`),
    h("label", { for: "new-token-key" }, "Key"),
    h("input", { id: "new-token-key", ref: input, readOnly: true, value: created.token,
      class: "mono key-value", onFocus: (e) => e.target.select() }),
    failed && h("p", { class: "error", role: "alert" }, "The browser did not allow copying: "
      + "select the key and copy it yourself."),
    h("div", { class: "toolbar" },
      h("button", { type: "button", onClick: copy }, "Copy key"),
      h("button", { type: "button", class: "secondary", onClick: () => onDone(false) },
        "I have saved it")));
}

export function Tokens() {
  const [page, setPage] = useState(0);
  const [name, setName] = useState("");
  const [expiry, setExpiry] = useState("");
  const [error, setError] = useState(null);
  const [created, setCreated] = useState(null);
  const [notice, setNotice] = useState("");
  const [rowError, setRowError] = useState(null); // [id, error]
  const list = usePagedList("/api/user/tokens/", {}, page, PAGE);

  const create = async (event) => {
    event.preventDefault();
    setError(null);
    setNotice("");
    try { // a new token each time (POST), its key answered this once
      setCreated(await api("POST", "/api/user/tokens/", { name, expiry: expiry || null }));
      setName("");
      setExpiry("");
      list.reload();
    } catch (e) {
      setError(e);
    }
  };
  const revoke = async (token) => {
    if (!window.confirm(`Revoke the token ${token.name || token.token}? Clients using it `
      + "are refused from now on.")) return;
    setRowError(null);
    try {
      await api("DELETE", `/api/user/tokens/${token.id}/`);
      setNotice(`Token ${token.name || token.token} revoked.`);
      list.reload();
    } catch (e) {
      setRowError([token.id, e]);
    }
  };
  const done = (copied) => {
    setCreated(null);
    setNotice(copied ? "Key copied. It is not shown again." : "The key is no longer shown.");
  };
  const { found } = list;
  return h("main", null,
    h("h1", null, "API tokens"),
    h("p", { class: "hint" }, "Tokens let scripts and other programs use the API as you "
      + "(header Authorization: Token <key>) until they expire or are revoked."),
    created ? h(NewKey, { created, onDone: done })
      : h("form", { class: "panel", onSubmit: create, noValidate: true,
        "aria-labelledby": "new-token-title" },
      h("h2", { id: "new-token-title" }, "New token"),
      h(TextField, { label: "Token name", name: "name", value: name, onInput: setName,
        hint: "What it is for, e.g. the script that uses it. Spaces become dashes.",
        error: error && error.field("name") }),
      h(TextField, { label: "Expires on", name: "expiry", type: "date", value: expiry,
        onInput: setExpiry, hint: "At most a year ahead; left empty, a year from today.",
        error: error && error.field("expiry") }),
      h(FormError, { message: error && error.general(["name", "expiry"]) }),
      h("button", { type: "submit" }, "Create token")),
    notice && h(Notice, null, notice),
    h(FormError, { message: list.error && list.error.message }),
    !found ? h("p", { role: "status" }, "Loading…") : h("div", { class: "scroll" },
      h("table", { class: "list tokens" },
        h("caption", { class: "sr-only" }, "Your tokens"),
        h("thead", null, h("tr", null, ["Name", "Key", "Created", "Expires", "Last used",
          "State", ""].map((t, i) => h("th", { scope: "col", key: i }, t
          || h("span", { class: "sr-only" }, "Actions"))))),
        h("tbody", null, found.results.map((t) => h("tr", { key: t.id, "data-id": t.id },
          h("th", { scope: "row" }, t.name || h("span", { class: "hint" }, "(no name)")),
          h("td", { class: "mono" }, t.token),
          h("td", null, t.created), h("td", null, t.expiry), h("td", null, t.last_seen || "never"),
          h("td", null, t.revoked ? "revoked" : t.active ? "active" : "expired"),
          h("td", { class: "actions" }, t.active && h("button", { type: "button",
            class: "link danger", onClick: () => revoke(t),
            "aria-label": `Revoke ${t.name || t.token}` }, "Revoke"),
          rowError && rowError[0] === t.id && h("p", { class: "error", role: "alert" },
            rowError[1].message))))))),
    found && h(Pager, { label: "Token pages", page, setPage, size: PAGE, count: found.count,
      none: "No tokens yet" }));
}
