"""Benchmark of the operator console in Debian's chromium (Playwright), timed by the browser's
own clock (`performance.now()`, the Navigation and Resource Timing entries).

Starts its own stack (2 gateway workers, every service, SQLite) on port 8150 in a RabbitMQ
vhost of its own, and builds a `--rows` (default 100,000) row import session of project
codes through the API (a generated CSV, `--bad` invalid rows spread through it; upload,
accept the columns, wait until the rows are read). Then, signed in as the superuser, it
measures (`--rounds` times each, median and worst reported):

  first load    the sign-in page loaded afresh: bytes on the wire (transferSize of the page
                and every resource, compressed) and the load event
  row review    /console/imports/<session> loaded afresh (the app, who is signed in, the
                session, its columns, the first page of rows: invalid rows first) until the
                first row is in the document (target < 500 ms)
  pages         each page of the navigation and the administration pages reached by a click
                inside the console, until its heading shows and nothing says "Loading"
                (target: usable within 1 s), once the audit service has taken in the
                import's events
  live view     with the audit page's live view on (the SSE feed), a project code created
                by the page's own fetch, until its event's row is in the list

and saves docs/console-audit.png (the audit view at 1280 px, its live view on). It serves a copy of
console/dist (build it first: `make console`), so a rebuild meanwhile does not change it. Writes
bench/results/console-<date>.md.

    .venv/bin/python bench/console_load.py [--rows 100000] [--bad 40] [--rounds 5]
"""
import argparse
import os
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import requests

from common import ADMIN, ROOT, bench_stack, write_report

NAME = "bench-console"
PORT = 8150
CHROMIUM = "/usr/bin/chromium"
ROW_TARGET_MS = 500
PAGE_TARGET_MS = 1000
DEADLINE = 1800

# records, from the page's first script on, when the first row of the review is in the DOM
FIRST_ROW_WATCH = """
(() => {
  const look = () => {
    if (document.querySelector('table.rows tbody tr[data-row]')) {
      window.__firstRowMs = performance.now();
    } else {
      requestAnimationFrame(look);
    }
  };
  requestAnimationFrame(look);
})();
"""

# checks `done()` on every animation frame: the milliseconds from `started` until it holds,
# -1 after 20 s (a function declared inside each timer below)
WAIT_FOR = """const waitFor = (started, done) => new Promise((resolve) => {
    const look = () => {
      if (done()) {
        resolve(performance.now() - started);
      } else if (performance.now() - started > 20000) {
        resolve(-1);
      } else {
        requestAnimationFrame(look);
      }
    };
    look();
  });"""

# clicks a link of the console and waits (on animation frames) until the page is usable
PAGE_TIMER = """async ([selector, heading]) => {
  """ + WAIT_FOR + """
  const started = performance.now();
  document.querySelector(selector).click();
  return await waitFor(started, () => {
    const h1 = document.querySelector('main h1');
    const loading = [...document.querySelectorAll('[role=status]')]
      .some((e) => e.textContent.startsWith('Loading'));
    return h1 && h1.textContent.trim() === heading && !loading;
  });
}"""

# with the live view on: creates a project code through the API and waits (on animation
# frames) until its event's row is in the list; the milliseconds from the request's start
LIVE_TIMER = """async (code) => {
  """ + WAIT_FOR + """
  const token = decodeURIComponent((document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || '');
  const started = performance.now();
  const answer = await fetch('/api/project-code/', {method: 'POST', credentials: 'same-origin',
    headers: {'Content-Type': 'application/json', 'X-CSRFToken': token},
    body: JSON.stringify({code, description: 'bench live view'})});
  const pk = (await answer.json()).pk;
  const name = `History of project_code ${pk}`;
  return await waitFor(started, () =>
    document.querySelector(`table.events a[aria-label="${name}"]`));
}"""

PAGES = [  # (link selector, heading once there)
    ('nav a[href="/console/imports"]', "Imports"),
    ('nav a[href="/console/attachments"]', "Attachments"),
    ('nav a[href="/console/audit"]', "Audit"),
    ('nav a[href="/console/admin"]', "Administration"),
    ('main a[href="/console/admin/users"]', "Users"),
    ('nav a[href="/console/admin"]', "Administration"),
    ('main a[href="/console/admin/groups"]', "Groups"),
    ('nav a[href="/console/admin"]', "Administration"),
    ('main a[href="/console/admin/states"]', "Custom states"),
    ('nav a[href="/console/admin"]', "Administration"),
    ('main a[href="/console/admin/services"]', "Services"),
    ('nav a[href="/console/account"]', "Account"),
    ('main a[href="/console/account/tokens"]', "API tokens"),
]


def make_csv(rows: int, bad: int, prefix: str) -> str:
    """Project codes `<prefix>-<n>`; `bad` rows spread evenly have an empty code."""
    every = max(rows // max(bad, 1), 1)
    fd, path = tempfile.mkstemp(suffix=".csv")
    with os.fdopen(fd, "w") as out:
        out.write("Project Code,Description\n")
        for n in range(1, rows + 1):
            code = "" if bad and n % every == 0 else f"{prefix}-{n}"
            out.write(f"{code},Bench row {n}\n")
    return path


def build_session(base: str, http: requests.Session, rows: int, bad: int) -> int:
    path = make_csv(rows, bad, f"C{uuid.uuid4().hex[:5].upper()}")
    started = time.monotonic()
    try:
        with open(path, "rb") as data:
            r = http.post(f"{base}/api/importer/session/", timeout=600,
                          data={"model_type": "projectcode"},
                          files={"data_file": ("bench.csv", data, "text/csv")})
    finally:
        os.unlink(path)
    r.raise_for_status()
    pk = r.json()["pk"]
    http.post(f"{base}/api/importer/session/{pk}/accept_fields/", timeout=600).raise_for_status()
    while True:
        found = http.get(f"{base}/api/importer/session/{pk}/", timeout=60).json()
        if found["status"] == 30:
            break
        if time.monotonic() - started > DEADLINE:
            raise RuntimeError(f"session {pk} not read after {DEADLINE} s: {found}")
        time.sleep(1)
    print(f"session {pk}: {found['row_count']:,} rows read in "
          f"{time.monotonic() - started:.0f} s", flush=True)
    return pk


def audit_settled(base: str, http: requests.Session) -> int:
    """Wait until the audit service has taken in the import's events (its count stops
    growing for 3 s), so that the pages are not timed against its backlog; the count."""
    started, last, same_since = time.monotonic(), -1, time.monotonic()
    while time.monotonic() - started < DEADLINE:
        count = http.get(f"{base}/api/events/?limit=1", timeout=60).json()["count"]
        if count != last:
            last, same_since = count, time.monotonic()
        elif time.monotonic() - same_since >= 3:
            print(f"audit: {count:,} events, settled after {time.monotonic() - started:.0f} s",
                  flush=True)
            return count
        time.sleep(1)
    raise RuntimeError(f"the audit count still grew after {DEADLINE} s")


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} ms (worst {max(values):,.0f})"


def measure(base: str, session_pk: int, rounds: int) -> dict:
    from playwright.sync_api import sync_playwright
    results: dict = {"first_load": [], "rows": [], "pages": {}, "live": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=base)
        context.add_init_script(FIRST_ROW_WATCH)
        page = context.new_page()
        for _ in range(rounds):
            page.goto("/console/sign-in", wait_until="load")
            page.get_by_label("Username").wait_for()
            results["first_load"].append(page.evaluate("""() => {
                const nav = performance.getEntriesByType('navigation')[0];
                const all = [nav, ...performance.getEntriesByType('resource')];
                return {bytes: all.reduce((n, e) => n + e.transferSize, 0),
                        ms: nav.loadEventEnd - nav.startTime}; }"""))
        page.get_by_label("Username").fill(ADMIN[0])
        page.get_by_label("Password", exact=True).fill(ADMIN[1])
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.get_by_role("button", name="Sign out").wait_for()
        for _ in range(rounds):
            page.goto(f"/console/imports/{session_pk}")
            page.wait_for_function("() => window.__firstRowMs !== undefined", timeout=60_000)
            results["rows"].append(page.evaluate("() => window.__firstRowMs"))
        rows_text = page.locator("text=/^Rows 1–/").first.text_content()
        results["rows_text"] = rows_text
        for _ in range(rounds):
            page.goto("/console/")
            page.locator("main h1").wait_for()
            for selector, heading in PAGES:
                ms = page.evaluate(PAGE_TIMER, [selector, heading])
                results["pages"].setdefault(heading, []).append(ms)
        page.goto("/console/audit")
        page.locator("table.events tbody tr").first.wait_for()
        page.get_by_role("button", name="Live view").click()
        page.locator("[data-live=streaming]").wait_for()
        for n in range(rounds):
            results["live"].append(page.evaluate(LIVE_TIMER, f"LIVE{uuid.uuid4().hex[:6]}{n}"))
        page.wait_for_timeout(300)
        page.screenshot(path=str(ROOT / "docs" / "console-audit.png"))
        browser.close()
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--bad", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    load_before = os.getloadavg()
    served = Path(tempfile.mkdtemp(prefix="console-dist-")) / "dist"
    shutil.copytree(ROOT / "console" / "dist", served)  # a rebuild meanwhile changes nothing
    env = {"IMPORT_RPC_TIMEOUT": "600", "CONSOLE_DIR": str(served)}
    with bench_stack(NAME, PORT, env, wrk=False) as (stack, token, _):
        http = requests.Session()
        http.headers["Authorization"] = f"Token {token}"
        session_pk = build_session(stack.url, http, args.rows, args.bad)
        events = audit_settled(stack.url, http)
        results = measure(stack.url, session_pk, args.rounds)
    shutil.rmtree(served.parent)
    load_after = os.getloadavg()
    first = results["first_load"]
    lines = [f"# Console in the browser, {args.rows:,}-row import session", "",
             f"Load average {load_before[0]:.1f} at the start, {load_after[0]:.1f} at the end "
             f"(2 cores); {args.rounds} rounds; chromium headless, 1280x900, loopback.", "",
             "| what | median (worst) | target |", "| --- | --- | --- |",
             f"| first load (cold cache): bytes on the wire | {first[0]['bytes']:,} | < 300 KB |",
             f"| first load: load event | {summary([b['ms'] for b in first])} | |",
             f"| row review of {args.rows:,} rows: first row shown, from navigation start "
             f"| {summary(results['rows'])} | < {ROW_TARGET_MS} ms |"]
    for heading, values in results["pages"].items():
        lines.append(f"| page {heading}: usable after the click | {summary(values)} "
                     f"| < {PAGE_TARGET_MS} ms |")
    lines.append(f"| live view: a new event's row shown, from its write's request "
                 f"| {summary(results['live'])} | |")
    lines += ["", f"The review showed: {results['rows_text']!r}.",
              "Each row review is a fresh page load (the app's script, who is signed in, the "
              "session, its columns and the first 25 rows, `ordering=valid,row_index`).",
              f"Pages were timed once the audit service held all {events:,} events; the "
              "audit page lists 25 events a page (its default) without their payloads.",
              "The live view's figure includes the write itself (the system service's "
              "transaction), its relay to the broker, the audit service's batch, the gateway "
              "feed's poll (EVENTS_STREAM_POLL) and the page's render."]
    write_report("console", lines)


if __name__ == "__main__":
    main()
