// Who is signed in: GET /api/user/me/ and /api/user/roles/, shared by every page.
import { useEffect, useState } from "preact/hooks";
import { ApiError, get } from "./api.js";

let state = { status: "loading", me: null, roles: null };
const listeners = new Set();

function set(next) {
  state = next;
  listeners.forEach((listener) => listener(state));
}

/** Ask the API who the session belongs to; anonymous on 401/403. */
export async function refresh() {
  try {
    const [me, roles] = await Promise.all([
      get("/api/user/me/", { quiet: true }), get("/api/user/roles/", { quiet: true })]);
    set({ status: "signed-in", me, roles });
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      set({ status: "anonymous", me: null, roles: null });
    } else {
      set({ status: "error", me: null, roles: null, error });
    }
  }
  return state;
}

export function signedOut() {
  set({ status: "anonymous", me: null, roles: null });
}

export function useSession() {
  const [current, setCurrent] = useState(state);
  useEffect(() => {
    listeners.add(setCurrent);
    setCurrent(state);
    return () => listeners.delete(setCurrent);
  }, []);
  return current;
}

/** Whether the session's user may `permission` ("view", "add", ...) in `role`. */
export function allows(session, role, permission = "view") {
  if (!session.me) return false;
  if (session.me.is_superuser) return true;
  const granted = session.roles && session.roles.roles ? session.roles.roles[role] : null;
  return Array.isArray(granted) && granted.includes(permission);
}

export const isSuperuser = (session) => Boolean(session.me && session.me.is_superuser);
export const isStaff = (session) => Boolean(session.me && (session.me.is_staff
  || session.me.is_superuser));
