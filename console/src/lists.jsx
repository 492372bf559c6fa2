// Pieces every list page shares: a server-paged list (`usePagedList`), its pager, a select
// field and a checkbox field.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, get, query } from "./api.js";
import { Field } from "./forms.jsx";

/**
 * GET `path` with `params` plus limit/offset of page `page`; re-fetched when `deps` change or
 * `reload()` is called. `{found, error, reload}`; `found` is DRF's paged envelope.
 */
export function usePagedList(path, params, page, size, deps = []) {
  const [found, setFound] = useState(null);
  const [error, setError] = useState(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let current = true;
    get(`${path}${query({ ...params, limit: size, offset: page * size })}`).then((answer) => {
      if (current) {
        setFound(answer);
        setError(null);
      }
    }, (e) => current && setError(e));
    return () => { current = false; };
  }, [path, page, tick, ...deps]);
  return { found, error, reload: () => setTick((n) => n + 1) };
}

/** Previous / "a–b of n" / Next, for a paged envelope's `count`. */
export function Pager({ label, page, setPage, size, count, none = "Nothing here" }) {
  const last = Math.max(0, Math.ceil(count / size) - 1);
  return h("nav", { class: "pager", "aria-label": label },
    h("button", { type: "button", disabled: page === 0, onClick: () => setPage(page - 1) },
      "Previous"),
    h("span", null, count ? `${(page * size + 1).toLocaleString()}–`
      + `${Math.min(count, (page + 1) * size).toLocaleString()} of ${count.toLocaleString()}`
      : none),
    h("button", { type: "button", disabled: page >= last, onClick: () => setPage(page + 1) },
      "Next"));
}

/** A labelled select of `choices` ([value, text] pairs). */
export function SelectField({ label, name, value, onChange, choices, error, id, hint }) {
  return h(Field, { label, name, error, id, hint }, (props) => h("select", { ...props, value,
    onChange: (e) => onChange(e.target.value) },
  choices.map(([v, text]) => h("option", { key: v, value: v }, text))));
}

/** A labelled checkbox. */
export function CheckField({ label, name, checked, onChange, error, id, disabled }) {
  const fieldId = id || `field-${name}`;
  return h("div", { class: "field checkbox" },
    h("input", { id: fieldId, name, type: "checkbox", checked, disabled,
      "aria-invalid": error ? "true" : undefined,
      onChange: (e) => onChange(e.target.checked) }),
    h("label", { for: fieldId }, label),
    error && h("p", { class: "error", id: `${fieldId}-error`, role: "alert" }, error));
}

/** "1.5 MB" for a byte count. */
export function bytes(n) {
  if (n < 1024) return `${n} bytes`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** The upload size limit that OPTIONS of `path` states for its file `field` (`max_size`,
 * in bytes), or null when it states none (the server still refuses with a 413). */
export async function uploadLimit(path, field) {
  const meta = await api("OPTIONS", path);
  const post = meta && meta.actions && meta.actions.POST;
  const size = post && post[field] ? post[field].max_size : null;
  return Number.isInteger(size) ? size : null;
}

/** Words for a file over `limit`, or null when it fits (or no limit is known). */
export function tooLarge(file, limit) {
  return limit !== null && file.size > limit
    ? `“${file.name}” is too large: ${file.size.toLocaleString("en")} bytes, and the server `
      + `accepts files of up to ${limit.toLocaleString("en")} bytes (${bytes(limit)}).`
    : null;
}
