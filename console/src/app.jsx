// The console's frame: who is signed in, the navigation their roles allow, and the pages.
import { h } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { api, onLostSession } from "./api.js";
import { Account } from "./account.jsx";
import { Administration, NotAllowed } from "./admin/index.jsx";
import { CUSTOM_STATES, CUSTOM_UNITS, PROJECT_CODES, Records } from "./admin/records.jsx";
import { ErrorReports, News, Notifications, Rates, Services } from "./admin/system.jsx";
import { Groups } from "./admin/groups.jsx";
import { Tokens } from "./admin/tokens.jsx";
import { Users } from "./admin/users.jsx";
import { Attachments } from "./attachments.jsx";
import { Audit } from "./audit.jsx";
import { ImportList } from "./imports/list.jsx";
import { ImportSession } from "./imports/session.jsx";
import { BASE, currentPath, Link, match, navigate, useLocation } from "./router.js";
import { isStaff, refresh, signedOut, useSession } from "./session.js";
import { safeNext, SignIn } from "./signin.jsx";

const SIGN_IN = `${BASE}/sign-in`;

function toSignIn() {
  const here = currentPath();
  if (!here.startsWith(SIGN_IN)) {
    signedOut();
    navigate(`${SIGN_IN}?next=${encodeURIComponent(here)}`, { replace: true });
  }
}

onLostSession(toSignIn);

/** Navigation entries: each shown only to users whose roles allow the page. */
const NAV = [
  { href: `${BASE}/`, label: "Home", allowed: () => true },
  { href: `${BASE}/imports`, label: "Imports", allowed: (s) => Boolean(s.me) },
  { href: `${BASE}/attachments`, label: "Attachments", allowed: (s) => Boolean(s.me) },
  { href: `${BASE}/audit`, label: "Audit", allowed: isStaff },
  { href: `${BASE}/admin`, label: "Administration", allowed: isStaff },
  { href: `${BASE}/account`, label: "Account", allowed: (s) => Boolean(s.me) },
];

const staffOnly = (page) => (params, session) => (isStaff(session) ? page(params)
  : h(NotAllowed, null));

const PAGES = [
  { pattern: `${BASE}/imports`, page: () => h(ImportList, null) },
  { pattern: `${BASE}/imports/:id`, page: ({ id }) => h(ImportSession, { id }) },
  { pattern: `${BASE}/attachments`, page: () => h(Attachments, null) },
  { pattern: `${BASE}/account`, page: () => h(Account, null) },
  { pattern: `${BASE}/account/tokens`, page: () => h(Tokens, null) },
  { pattern: `${BASE}/notifications`, page: () => h(Notifications, null) },
  { pattern: `${BASE}/audit`, page: staffOnly(() => h(Audit, null)) },
  { pattern: `${BASE}/admin`, page: staffOnly(() => h(Administration, null)) },
  { pattern: `${BASE}/admin/users`, page: staffOnly(() => h(Users, null)) },
  { pattern: `${BASE}/admin/groups`, page: staffOnly(() => h(Groups, null)) },
  { pattern: `${BASE}/admin/project-codes`,
    page: () => h(Records, { config: PROJECT_CODES, key: "codes" }) },
  { pattern: `${BASE}/admin/units`, page: () => h(Records, { config: CUSTOM_UNITS, key: "units" }) },
  { pattern: `${BASE}/admin/states`,
    page: () => h(Records, { config: CUSTOM_STATES, key: "states" }) },
  { pattern: `${BASE}/admin/error-reports`, page: staffOnly(() => h(ErrorReports, null)) },
  { pattern: `${BASE}/admin/news`, page: staffOnly(() => h(News, null)) },
  { pattern: `${BASE}/admin/rates`, page: () => h(Rates, null) },
  { pattern: `${BASE}/admin/services`, page: () => h(Services, null) },
  { pattern: `${BASE}`, page: () => h(Home, null) },
];

function Home() {
  const session = useSession();
  return h("main", null,
    h("h1", null, `Welcome, ${session.me.username}`),
    h("p", null, "This console works through the server's public API, with what your roles "
      + "allow."),
    h("ul", { class: "cards" },
      h("li", null, h(Link, { href: `${BASE}/imports` }, "Imports"),
        h("p", null, "Load project codes, custom units or custom states from a CSV, TSV, JSON "
          + "or Excel file, review the rows and fix them before they are created.")),
      h("li", null, h(Link, { href: `${BASE}/attachments` }, "Attachments"),
        h("p", null, "Files and links attached to objects: upload, preview, rename, tag, "
          + "download, delete.")),
      isStaff(session) && h("li", null, h(Link, { href: `${BASE}/audit` }, "Audit"),
        h("p", null, "Who changed what, and when: every event of every service, an "
          + "object's history, and new events as they happen.")),
      isStaff(session) && h("li", null, h(Link, { href: `${BASE}/admin` }, "Administration"),
        h("p", null, "Users, groups and their roles, project codes, units, states, error "
          + "reports, news, exchange rates and the services' health.")),
      h("li", null, h(Link, { href: `${BASE}/notifications` }, "Notifications"),
        h("p", null, "Messages for you from the server; mark them read.")),
      h("li", null, h(Link, { href: `${BASE}/account/tokens` }, "API tokens"),
        h("p", null, "Keys for scripts that use the API as you: create, copy once, revoke.")),
      h("li", null, h(Link, { href: `${BASE}/account` }, "Account"),
        h("p", null, "Your details and roles; change your password."))));
}

function Header({ session, path }) {
  const signOut = async () => {
    try {
      await api("POST", "/api/auth/logout/", {});
    } finally {
      signedOut();
      navigate(SIGN_IN, { replace: true });
    }
  };
  return h("header", { class: "top" },
    h("a", { class: "skip", href: "#content" }, "Skip to content"),
    h("span", { class: "brand" }, "InvenTree console"),
    session.me && h("nav", { "aria-label": "Main" },
      h("ul", null, NAV.filter((entry) => entry.allowed(session)).map((entry) => {
        const current = entry.href === `${BASE}/` ? path === `${BASE}/` || path === BASE
          : path.startsWith(entry.href);
        return h("li", { key: entry.href }, h(Link, { href: entry.href,
          "aria-current": current ? "page" : undefined }, entry.label));
      }))),
    session.me && h("div", { class: "who" },
      h("span", null, session.me.username),
      h("button", { type: "button", class: "secondary", onClick: signOut }, "Sign out")));
}

export function App() {
  const session = useSession();
  const { path, search } = useLocation();
  const first = useRef(true);
  useEffect(() => {
    refresh();
  }, []);
  useEffect(() => { // a new page: the keyboard (and a screen reader) starts at its content
    if (first.current) first.current = false;
    else document.getElementById("content").focus({ preventScroll: true });
  }, [path]);
  useEffect(() => {
    if (session.status === "anonymous" && !path.startsWith(SIGN_IN)) toSignIn();
    if (session.status === "signed-in" && path.startsWith(SIGN_IN)) {
      navigate(safeNext(search.get("next")), { replace: true });
    }
  }, [session.status, path]);
  let body;
  if (session.status === "loading") {
    body = h("main", null, h("p", { role: "status" }, "Loading…"));
  } else if (session.status === "error") {
    body = h("main", null, h("p", { class: "error", role: "alert" }, session.error.message),
      h("button", { type: "button", onClick: refresh }, "Try again"));
  } else if (path.startsWith(SIGN_IN)) {
    body = h(SignIn, null);
  } else if (session.status !== "signed-in") {
    body = null;
  } else {
    body = null;
    for (const { pattern, page } of PAGES) {
      const params = match(pattern, path);
      if (params) {
        body = page(params, session);
        break;
      }
    }
    if (!body) {
      body = h("main", null, h("h1", null, "Not found"),
        h("p", null, "There is no such page. ", h(Link, { href: `${BASE}/` }, "Home")));
    }
  }
  return h("div", { class: "frame" }, h(Header, { session, path }),
    h("div", { id: "content", tabIndex: -1 }, body));
}
