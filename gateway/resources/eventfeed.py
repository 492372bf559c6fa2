"""`GET /api/events/stream/` (staff): the audit trail live, as Server-Sent Events, with the
filters of `GET /api/events/` (svckit.eventfilter). gateway.eventstream holds the design
(one poller per process, bounded buffers, the listener cap).

Frames: each event as `id: <audit row id>` and `data: <the event as listed>`; first an
`open` event whose id is the position the feed starts from (so a client that loses the
connection before any event still resumes from there); `: heartbeat` comment lines every
EVENTS_STREAM_HEARTBEAT seconds of silence; an `overflow` event before the answer ends for a
listener that fell a whole buffer behind, and an `end` event after
EVENTS_STREAM_MAX_SECONDS (a reconnection authenticates again). `Last-Event-ID` (the
header, or `last_event_id` in the query for a first connection) resumes after that row,
without a gap or a duplicate. `payload=false` leaves each event's payload out, as the list
does (the same values: true/false/1/0; anything else is a 400 naming it)."""
import json
import threading
import time

from gateway import http
from gateway.eventstream import EventFeed
from svckit import eventfilter
from svckit.errors import ServiceUnavailable, ValidationFailed
from svckit.listing import INT64_MAX, parse_int

from .base import Resource
from .eventhistory import require_staff

OWN_PARAMS = ("last_event_id", "payload")
CATCH_UP_PAGE = 1000
RETRY_MS = 2000  # how long an EventSource waits before reconnecting
_FEED_LOCK = threading.Lock()


def feed_of(api) -> EventFeed:
    """The worker process's feed (gunicorn builds the app in each worker, after the fork)."""
    with _FEED_LOCK:
        feed = getattr(api, "event_feed", None)
        if feed is None:
            settings = api.settings
            feed = api.event_feed = EventFeed(
                api.rpc, max_listeners(settings), settings.EVENTS_STREAM_BUFFER,
                settings.EVENTS_STREAM_POLL)
        return feed


def max_listeners(settings) -> int:
    """EVENTS_STREAM_MAX_LISTENERS, but always a thread short of GATEWAY_THREADS, so
    listeners never take every thread of a worker from the other requests."""
    return max(0, min(settings.EVENTS_STREAM_MAX_LISTENERS, settings.GATEWAY_THREADS - 1))


def last_event_id(req, params: dict) -> int | None:
    """`Last-Event-ID` (header first, then `last_event_id`), or None; a 400 naming it if it
    is not an audit row id."""
    header = req.get_header("Last-Event-ID")
    name, raw = ("Last-Event-ID", header) if header is not None else (
        "last_event_id", params.get("last_event_id"))
    if raw is None or str(raw).strip() == "":
        return None
    value = parse_int(raw)
    if value is None or not 0 <= value <= INT64_MAX:
        raise ValidationFailed({name: ["Expected the id of an event of this feed."]})
    return value


def frame(event: dict, with_payload: bool = True) -> bytes:
    if not with_payload:
        event = eventfilter.without_payload(event)
    data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event['pk']}\ndata: {data}\n\n".encode()


def control(name: str, data: dict, position: int | None = None) -> bytes:
    head = f"id: {position}\n" if position is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class Stream(Resource):
    def on_get(self, req, resp):
        require_staff(req)
        params = http.query(req)
        selection = eventfilter.parse(params, OWN_PARAMS)
        with_payload = eventfilter.payload_wanted(params)
        resume = last_event_id(req, params)
        # the catch-up reads the trail with the filters and `payload`
        filters = {k: v for k, v in params.items() if k != "last_event_id"}
        settings = self.api.settings
        feed = feed_of(self.api)
        try:
            listener, head = feed.subscribe(selection)
        except ServiceUnavailable:
            resp.set_header("Retry-After", "5")
            raise

        def catch_up(after: int) -> dict:
            return self.call(req, "audit", "events_after", params=filters, after=after,
                             limit=CATCH_UP_PAGE)

        def leave():
            feed.unsubscribe(listener)

        resp.status = 200
        resp.content_type = "text/event-stream; charset=utf-8"
        resp.set_header("Cache-Control", "no-store")
        resp.set_header("X-Accel-Buffering", "no")  # a proxy in front must not hold frames
        http.close_connection(resp)
        _bound_sends(req, settings.EVENTS_STREAM_HEARTBEAT)
        resp.stream = Answer(self.stream(listener, head, resume, catch_up, with_payload),
                             leave)

    def stream(self, listener, head: int, resume: int | None, catch_up, with_payload: bool):
        settings = self.api.settings
        sent = head if resume is None else resume
        yield f"retry: {RETRY_MS}\n".encode() + control("open", {"last_event_id": sent}, sent)
        after = sent
        while after < head:  # what came before the buffer's first row, read from the trail
            page = catch_up(after)
            for event in page["results"]:
                if event["pk"] > head:
                    break
                yield frame(event, with_payload)
                sent = event["pk"]
            after = page["last"]
            if not page["more"]:
                break
        heartbeat = settings.EVENTS_STREAM_HEARTBEAT
        ends = time.monotonic() + settings.EVENTS_STREAM_MAX_SECONDS
        wrote = time.monotonic()
        while True:
            now = time.monotonic()
            events, overflowed = listener.take(max(0.0, min(wrote + heartbeat, ends) - now))
            fresh = [e for e in events if e["pk"] > sent]
            if fresh:
                yield b"".join(frame(e, with_payload) for e in fresh)
                sent, wrote = fresh[-1]["pk"], time.monotonic()
            if overflowed:
                yield control("overflow", {
                    "detail": (f"This listener fell {listener.capacity} events behind "
                               "(EVENTS_STREAM_BUFFER) and was cut off; reconnect with "
                               f"Last-Event-ID: {sent} to resume where it stopped."),
                    "last_event_id": sent})
                return
            if time.monotonic() >= ends:
                yield control("end", {
                    "detail": ("The stream reached EVENTS_STREAM_MAX_SECONDS; reconnect with "
                               f"Last-Event-ID: {sent} to go on."), "last_event_id": sent})
                return
            if time.monotonic() - wrote >= heartbeat:
                yield b": heartbeat\n\n"
                wrote = time.monotonic()


class Answer:
    """The stream as the WSGI server sees it: `close()` (called however the answer ends,
    also when it never started because the client was gone) ends the listener's
    subscription, which a generator's own `finally` would miss in that case."""

    def __init__(self, frames, on_close):
        self.frames = frames
        self.on_close = on_close

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        try:
            return next(self.frames)
        except StopIteration:
            self.on_close()
            raise

    def close(self):
        try:
            self.frames.close()
        finally:
            self.on_close()


def _bound_sends(req, heartbeat: float):
    """A client that stops reading must not hold the thread forever in a blocked send: its
    socket's sends give up after twice the heartbeat (at least 10 s), which ends the
    answer (gunicorn puts the socket in the WSGI environment)."""
    sock = req.env.get("gunicorn.socket")
    if sock is not None:
        sock.settimeout(max(10.0, heartbeat * 2))


def register(app, api):
    app.add_route("/api/events/stream/", Stream(api))
