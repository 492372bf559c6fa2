"""Read models held by each gateway worker: answers of read calls that change only when a
service announces it, kept until a matching event arrives (then dropped at once).

While the worker's event listener is not connected, nothing is served from memory. A fill
that raced with an invalidation is not stored (generation check), so a stale answer never
outlives the event that made it stale.
"""
import hashlib
import threading
from collections import OrderedDict

from gateway import http


class QueryCache:
    def __init__(self, bus, invalidate_on: list[tuple[str, str]], max_entries: int = 256):
        self.bus = bus
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._generation = 0
        self._entries: OrderedDict = OrderedDict()
        for service, pattern in invalidate_on:
            bus.subscribe(service, pattern, lambda _event: self.invalidate())

    def invalidate(self):
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def get(self, key, fetch, fresh: bool = False):
        """The answer for `key`, calling `fetch()` on a miss (or when `fresh` is asked)."""
        if self.bus.healthy and not fresh:
            entry = self._entries.get(key)
            if entry is not None:
                return entry
        generation = self._generation
        entry = fetch()
        with self._lock:
            if generation == self._generation:
                self._entries[key] = entry
                if len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return entry

    def get_body(self, key, fetch, fresh: bool = False) -> tuple[str, bytes]:
        """(ETag, JSON body) for `key`: for answers sent as they are."""
        def fetch_body():
            body = http.dumps(fetch())
            return '"' + hashlib.sha256(body).hexdigest()[:32] + '"', body
        return self.get(("body", key), fetch_body, fresh)


def wants_fresh(req) -> bool:
    """`Cache-Control: no-cache` (or `Pragma: no-cache`) asks for the service's answer."""
    header = ((req.get_header("Cache-Control") or "") + (req.get_header("Pragma") or "")).lower()
    return "no-cache" in header


def not_modified(req, etag: str) -> bool:
    """True when the request's If-None-Match names `etag` (a quoted string)."""
    return bool(req.if_none_match) and any(t == "*" or f'"{t}"' == etag
                                           for t in req.if_none_match)


def send_cached(req, resp, entry: tuple[str, bytes]):
    """Answer with a cached body, or 304 when the client already holds it."""
    etag, body = entry
    resp.set_header("ETag", etag)
    resp.set_header("Cache-Control", "private, no-cache")
    if not_modified(req, etag):
        resp.status = 304
        return
    resp.content_type = http.JSON
    resp.data = body
