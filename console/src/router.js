// A tiny router over the History API: pages live under /console/, links are plain <a>
// elements (so they work with the keyboard, middle click and "open in new tab").
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";

export const BASE = "/console";
const listeners = new Set();

export function currentPath() {
  return window.location.pathname + window.location.search;
}

export function navigate(to, { replace = false } = {}) {
  if (to === currentPath()) return;
  window.history[replace ? "replaceState" : "pushState"](null, "", to);
  listeners.forEach((listener) => listener());
  window.scrollTo(0, 0);
}

window.addEventListener("popstate", () => listeners.forEach((listener) => listener()));

/** The current location, re-rendering the caller when it changes. */
export function useLocation() {
  const [, setTick] = useState(0);
  useEffect(() => {
    const listener = () => setTick((n) => n + 1);
    listeners.add(listener);
    return () => listeners.delete(listener);
  }, []);
  return { path: window.location.pathname, search: new URLSearchParams(window.location.search) };
}

/** `pattern` like "/console/imports/:id" against `path`: the parameters, or null. */
export function match(pattern, path) {
  const want = pattern.replace(/\/$/, "").split("/");
  const got = path.replace(/\/$/, "").split("/");
  if (want.length !== got.length) return null;
  const params = {};
  for (let i = 0; i < want.length; i += 1) {
    if (want[i].startsWith(":")) params[want[i].slice(1)] = decodeURIComponent(got[i]);
    else if (want[i] !== got[i]) return null;
  }
  return params;
}

function sameOrigin(event, anchor) {
  return !event.defaultPrevented && event.button === 0 && !event.metaKey && !event.ctrlKey
    && !event.shiftKey && !event.altKey && anchor.origin === window.location.origin
    && !anchor.hasAttribute("download") && anchor.target !== "_blank";
}

/** A link inside the console, followed without a page load. */
export function Link({ href, children, ...rest }) {
  const onClick = (event) => {
    if (sameOrigin(event, event.currentTarget)) {
      event.preventDefault();
      navigate(href);
    }
  };
  return h("a", { href, onClick, ...rest }, children);
}
