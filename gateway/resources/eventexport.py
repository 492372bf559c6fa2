"""`GET /api/events/export/?format=ndjson|csv&<filters>` (staff): any filtered selection of
the audit trail (the filters of `GET /api/events/`, svckit.eventfilter) as a download,
streamed in constant memory: a generator pulls keyset pages over RPC (the audit service's
`export_page`, `id > last`, never an offset), asking for the next one while it writes out
the current one, so the gateway holds two pages whatever the size of the export.

The audit service answers each page as text (`export_page`), joined from lines it rendered
once when it recorded the events (services.audit.eventlines), so neither side encodes an
event again. CSV has one row per event (the payload as JSON in its own column); a cell that
begins with `=`, `+`, `-` or `@` (or a tab or carriage return) is written with a leading `'`
so that a spreadsheet does not run it as a formula (svckit.csvsafe). An error after the first
page ends the answer without its last chunk, so a client sees a cut-off transfer, never a
complete-looking partial file."""
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

from gateway import http
from svckit import eventfilter
from svckit.errors import ValidationFailed

from .base import Resource
from .eventhistory import require_staff

log = logging.getLogger(__name__)

FORMATS = {"ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
AHEAD_THREADS = 4  # per process: exports beyond as many at once wait for a thread a page


def export_format(req) -> str:
    """`format` (which http.query leaves out), or a 400 naming it."""
    raw = req.params.get("format")
    fmt = str(raw[-1] if isinstance(raw, list) else raw or "").lower()
    if fmt not in FORMATS:
        raise ValidationFailed({"format": [f"Expected one of: {', '.join(FORMATS)}."]})
    return fmt


class Export(Resource):
    def on_get(self, req, resp):
        require_staff(req)
        fmt = export_format(req)
        params = http.query(req)
        eventfilter.parse(params)  # a bad filter is a 400 before anything is sent
        size = self.api.settings.EVENTS_EXPORT_PAGE

        def fetch(after: int) -> dict:
            return self.call(req, "audit", "export_page", params=params, after=after,
                             limit=size, format=fmt)

        first = fetch(0)  # the service's own 4xx (403, 400) still answers as such
        resp.status = 200
        resp.content_type = FORMATS[fmt]
        resp.set_header("Content-Disposition",
                        f'attachment; filename="events_{date.today().isoformat()}.{fmt}"')
        resp.set_header("Cache-Control", "no-store")
        resp.stream = chunks(pages(first, fetch, fetch_ahead()))


def chunks(texts):
    """The answer's body: each page's text, as bytes."""
    for text in texts:
        yield text.encode()


def pages(first: dict, fetch, ahead=None):
    """The text of `first`, then of each following keyset page, until one says no more.
    With `ahead` (an executor), the next page is asked for while this one is written out,
    so the audit service reads while the gateway writes (two cores, not one at a time)."""
    page = first
    while True:
        following = None
        if page["more"] and ahead is not None:
            following = ahead.submit(fetch, page["last"])
        if page["text"]:
            yield page["text"]
        if not page["more"]:
            return
        page = following.result() if following is not None else fetch(page["last"])


_AHEAD: ThreadPoolExecutor | None = None
_AHEAD_LOCK = threading.Lock()


def fetch_ahead() -> ThreadPoolExecutor:
    """The process's threads that fetch exports' next pages (AHEAD_THREADS; they live as
    long as the process, so each keeps its one RPC client). Made on first use: after
    gunicorn's fork."""
    global _AHEAD
    with _AHEAD_LOCK:
        if _AHEAD is None:
            _AHEAD = ThreadPoolExecutor(AHEAD_THREADS, thread_name_prefix="export-ahead")
        return _AHEAD


def register(app, api):
    app.add_route("/api/events/export/", Export(api))
