"""Browser tests of the operator console: Debian's chromium (`/usr/bin/chromium`, installed
by `make test`), driven by Playwright for Python, against the e2e stack (tests/e2e/conftest.py),
nothing downloaded at test time.

Playwright's sync API cannot run on eventlet's monkey-patched main thread (the root conftest
patches everything for nameko), so Playwright and the browser live in one real OS thread for
the whole run (`BrowserThread`), and each test of this directory runs in that thread
(`pytest_pyfunc_call` below). `playwright.stop()` never returns there (it waits for its driver
process through asyncio's child watcher, a green thread that never runs), so it is not called:
the browser is closed at the end, and the driver process exits when pytest does (its stdin
closes). A failing test saves a screenshot of every page it opened to
`var/test/screenshots/<test>-<n>.png` before its pages close, and names it in the failure."""
import re
import sys
import time
from pathlib import Path

import eventlet.patcher
import pytest

from svckit.layout import ROOT

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = ROOT / "var" / "test" / "screenshots"
TEST_SECONDS = 600  # a whole test, chromium's start included, on a loaded machine
ACTION_MS = 30_000  # one click, fill or wait for an element
real_threading = eventlet.patcher.original("threading")
real_queue = eventlet.patcher.original("queue")


class BrowserThread:
    """A real OS thread that owns Playwright and one headless chromium, and runs jobs."""

    def __init__(self):
        self.jobs = real_queue.Queue()
        self.playwright = None
        self.browser = None
        self.thread = real_threading.Thread(target=self._serve, name="browser", daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            job, done = self.jobs.get()
            if job is None:
                return
            try:
                done["result"] = job()
            except BaseException as exc:  # noqa: B036  (handed to the caller as it is)
                done["error"] = exc
            finally:
                done["event"].set()

    def run(self, job, timeout: float):
        """`job()` in the browser thread; its result, or its exception raised here."""
        done: dict = {"event": real_threading.Event()}
        self.jobs.put((job, done))
        if not done["event"].wait(timeout):
            pytest.fail(f"the browser test did not finish within {timeout} s")
        if "error" in done:
            raise done["error"]
        return done.get("result")

    def launch(self):
        """The browser (in the browser thread), started on first use."""
        if self.browser is None:
            from playwright.sync_api import expect, sync_playwright
            expect.set_options(timeout=ACTION_MS)
            self.playwright = sync_playwright().start()
            self.browser = self.playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=["--no-sandbox", "--disable-dev-shm-usage"])
        return self.browser

    def close(self):
        def close_browser():
            if self.browser is not None:
                self.browser.close()
        try:
            self.run(close_browser, 60)
        finally:
            self.jobs.put((None, None))


@pytest.fixture(scope="session")
def browser_thread():
    thread = BrowserThread()
    yield thread
    thread.close()


class Console:
    """The console of the stack in a browser: `page` (a Playwright page, opened on first use
    at 1280x800), `new_page()`, `url(path)`, `sign_in(username, password)`."""

    def __init__(self, base: str, thread: BrowserThread):
        self.base = base
        self.thread = thread
        self.pages: list = []

    def url(self, path: str = "/console/") -> str:
        return self.base + path

    def new_page(self, width: int = 1280, height: int = 800):
        context = self.thread.launch().new_context(viewport={"width": width, "height": height},
                                            base_url=self.base)
        context.set_default_timeout(ACTION_MS)
        page = context.new_page()
        self.pages.append(page)
        return page

    @property
    def page(self):
        return self.pages[0] if self.pages else self.new_page()

    def sign_in(self, username: str, password: str, page=None):
        """Through the sign-in form; waits until the console shows who is signed in."""
        page = page or self.page
        if "/console/sign-in" not in page.url:
            page.goto(self.url("/console/sign-in"))
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.get_by_role("button", name="Sign out").wait_for()
        return page

    def screenshot_all(self, name: str) -> list[Path]:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        saved = []
        for n, page in enumerate(self.pages):
            path = SCREENSHOTS / f"{name}-{n}.png"
            try:
                page.screenshot(path=str(path), full_page=True)
                saved.append(path)
            except Exception as exc:  # a page that crashed: say so, keep the others
                print(f"no screenshot of page {n}: {exc}", file=sys.stderr)
        return saved

    def close(self):
        for page in self.pages:
            page.context.close()
        self.pages = []


@pytest.fixture
def console(stack, browser_thread):
    return Console(stack.url, browser_thread)


def _safe_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1])[:120]


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run the test in the browser thread; on failure screenshot its pages, then close them."""
    if not str(pyfuncitem.path).startswith(str(Path(__file__).parent)):
        return None
    kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    console = kwargs.get("console")
    thread = console.thread if console is not None else kwargs["browser_thread"]

    def job():
        try:
            pyfuncitem.obj(**kwargs)
        except BaseException as exc:
            if console is not None:
                saved = console.screenshot_all(_safe_name(pyfuncitem.nodeid))
                if saved:
                    exc.add_note("screenshots: " + ", ".join(map(str, saved)))
            raise
        finally:
            if console is not None:
                try:
                    console.close()
                except Exception as exc:
                    print(f"closing the test's pages failed: {exc}", file=sys.stderr)

    started = time.monotonic()
    thread.run(job, TEST_SECONDS)
    print(f"browser test took {time.monotonic() - started:.1f} s", file=sys.stderr)
    return True
