// Every call the console makes goes through here: the public API, signed in by the session
// cookie, with Django's CSRF header on unsafe methods. A lost session (401, or DRF's 403 for
// missing credentials or CSRF) calls the handler set by the app, which sends the user to
// sign in and back.

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);
let lostSessionHandler = () => {};

export function onLostSession(handler) {
  lostSessionHandler = handler;
}

/** Send the user to sign in and back (a call made outside `api()` found the session gone). */
export function reportLostSession() {
  lostSessionHandler();
}

export function csrfToken() {
  const found = document.cookie.split(";").map((c) => c.trim())
    .find((c) => c.startsWith("csrftoken="));
  return found ? decodeURIComponent(found.slice("csrftoken=".length)) : "";
}

/** An error answer of the API: `status`, the DRF-shaped `body`, and words for a person. */
export class ApiError extends Error {
  constructor(status, body) {
    super(describe(status, body));
    this.status = status;
    this.body = body;
  }

  /** Messages of one field ("detail" and "non_field_errors" are the form's own). */
  field(name) {
    const value = this.body && typeof this.body === "object" ? this.body[name] : null;
    return value == null ? null : flatten(value);
  }

  /** What belongs to no field of `known`: the form-wide message. */
  general(known = []) {
    if (!this.body || typeof this.body !== "object" || Array.isArray(this.body)) {
      return this.message;
    }
    const rest = Object.entries(this.body).filter(([k]) => !known.includes(k));
    if (!rest.length) return null;
    return rest.map(([k, v]) => (k === "detail" || k === "non_field_errors"
      ? flatten(v) : `${k}: ${flatten(v)}`)).join(" ");
  }
}

function flatten(value) {
  if (Array.isArray(value)) return value.map(flatten).join(" ");
  if (value && typeof value === "object") return Object.values(value).map(flatten).join(" ");
  return String(value);
}

const STATUS_WORDS = {
  0: "The server could not be reached. Check the connection and try again.",
  413: "That is larger than the server accepts.",
  429: "Too many attempts. Wait a while and try again.",
  500: "The server failed on this request; the error was reported to the administrators.",
  502: "A service the server depends on failed. Try again later.",
  503: "A service is unavailable just now. Try again in a moment.",
};

export function describe(status, body) {
  if (body && typeof body === "object" && !Array.isArray(body) && status < 500) {
    if (body.detail) return flatten(body.detail);
    if (body.non_field_errors) return flatten(body.non_field_errors);
    const first = Object.entries(body)[0];
    if (first) return `${first[0]}: ${flatten(first[1])}`;
  }
  return STATUS_WORDS[status] || (body && body.detail ? flatten(body.detail)
    : `The server answered ${status}.`);
}

export function isLostSession(status, body) {
  if (status === 401) return true;
  const detail = body && typeof body === "object" ? String(body.detail || "") : "";
  return status === 403 && (detail.startsWith("Authentication credentials were not provided")
    || detail.startsWith("CSRF Failed"));
}

function headersFor(method, json) {
  const headers = { Accept: "application/json" };
  if (json) headers["Content-Type"] = "application/json";
  if (!SAFE.has(method)) headers["X-CSRFToken"] = csrfToken();
  return headers;
}

function parse(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text.slice(0, 200) };
  }
}

/**
 * `method path` with an optional JSON `body`; resolves to the parsed answer, rejects with an
 * ApiError. `quiet`: a 401 is only an error (the app asks who is signed in at start).
 */
export async function api(method, path, body, { quiet = false } = {}) {
  let answer;
  try {
    answer = await fetch(path, {
      method, credentials: "same-origin", headers: headersFor(method, body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, null);
  }
  const data = parse(await answer.text());
  if (!answer.ok) {
    if (!quiet && isLostSession(answer.status, data)) lostSessionHandler();
    throw new ApiError(answer.status, data);
  }
  return data;
}

const PREFETCH_MS = 10_000;
const prefetched = new Map(); // path -> {answer: Promise, at: ms}

/**
 * Ask for GET `path` now, before the page that needs it is rendered (a page's data loaded in
 * parallel with the app's own start); the first `get(path)` within 10 s takes its answer.
 */
export function prefetch(path) {
  if (prefetched.has(path)) return;
  const answer = api("GET", path, undefined, { quiet: true });
  answer.catch(() => {}); // taken, or dropped, later
  prefetched.set(path, { answer, at: Date.now() });
}

function takePrefetched(path) {
  const early = prefetched.get(path);
  prefetched.delete(path);
  return early && Date.now() - early.at < PREFETCH_MS ? early.answer : null;
}

/** GET `path` (a prefetched answer if there is one; a failed one is asked again). */
export const get = (path, options) => {
  const early = takePrefetched(path);
  const ask = () => api("GET", path, undefined, options);
  return early ? early.catch(ask) : ask();
};

/** A query string of the defined values of `params`. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") search.set(k, String(v));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/**
 * A multipart POST through XMLHttpRequest, whose upload reports progress:
 * `onProgress(sent, total)`. Resolves to the parsed answer, rejects with an ApiError.
 */
export function upload(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.withCredentials = true;
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    };
    xhr.onload = () => {
      const data = parse(xhr.responseText);
      if (xhr.status >= 200 && xhr.status < 300) return resolve(data);
      if (isLostSession(xhr.status, data)) lostSessionHandler();
      reject(new ApiError(xhr.status, data));
    };
    xhr.onerror = () => reject(new ApiError(0, null));
    xhr.send(form);
  });
}
