// Labelled form fields whose API errors show next to them (aria-invalid, aria-describedby).
import { h } from "preact";

export function Field({ label, name, error, hint, children, id }) {
  const fieldId = id || `field-${name}`;
  const described = [hint && `${fieldId}-hint`, error && `${fieldId}-error`].filter(Boolean);
  const control = children({
    id: fieldId, name, "aria-invalid": error ? "true" : undefined,
    "aria-describedby": described.length ? described.join(" ") : undefined,
  });
  return h("div", { class: "field" },
    h("label", { for: fieldId }, label),
    control,
    hint && h("p", { class: "hint", id: `${fieldId}-hint` }, hint),
    error && h("p", { class: "error", id: `${fieldId}-error`, role: "alert" }, error));
}

export function TextField({ label, name, value, onInput, error, type = "text", hint, ...rest }) {
  return h(Field, { label, name, error, hint, id: rest.id },
    (props) => h("input", { ...props, type, value, onInput: (e) => onInput(e.target.value),
      ...rest }));
}

export function FormError({ message }) {
  return message ? h("p", { class: "error form-error", role: "alert" }, message) : null;
}

export function Notice({ children }) {
  return h("p", { class: "notice", role: "status" }, children);
}

export function Progress({ label, value, max }) {
  const percent = max ? Math.floor((100 * value) / max) : 0;
  return h("label", { class: "progress" },
    h("span", null, label, " ", h("span", { class: "count" },
      max ? `${value.toLocaleString()} of ${max.toLocaleString()} (${percent}%)` : "")),
    h("progress", { value: max ? value : undefined, max: max || undefined }));
}
