"""The live feed's machinery in a gateway worker process: one poller thread fans new audit
rows out to every listener of the process, each through a bounded buffer.

A gthread worker serves each request on one of its GATEWAY_THREADS threads, so a listener
holds a thread for as long as it listens. Hence:

- at most `max_listeners` (EVENTS_STREAM_MAX_LISTENERS, and always fewer than the worker's
  threads) per process; one more is a 503 with `Retry-After`;
- one poller per process, whatever the number of listeners: while anyone listens it asks
  the audit service for the rows after the last one it saw (`events_after`, keyset on the
  audit row id) every `poll` seconds (EVENTS_STREAM_POLL), or at once while pages come back
  full, and offers them to each listener, which keeps those its filters accept;
- a listener's buffer holds at most `buffer` events (EVENTS_STREAM_BUFFER). The poller never
  waits for a listener: one whose buffer is full is marked overflowed and gets nothing more;
  its thread sends what it holds, then an `overflow` event saying why and where to resume,
  and ends the answer. Its client reconnects with `Last-Event-ID` and catches up.

Positions are audit row ids, and the audit service draws them in commit order
(services.audit.feed), so "every row after N" never skips one that commits late. A listener
subscribes under the feed's lock and is told the position `head` the poller has delivered up
to: what comes after `head` reaches its buffer; what lies between its `Last-Event-ID` and
`head` it reads itself from the audit service (filtered, by keyset) before it drains its
buffer. Rows at or below the last one sent are dropped, so nothing is sent twice.
"""
import logging
import threading
import time
from collections import deque

from svckit.context import Caller
from svckit.errors import ServiceUnavailable
from svckit.eventfilter import EventFilter

log = logging.getLogger(__name__)

POLL_PAGE = 1000  # rows the poller asks for at a time
# who the poller calls the audit service as: the gateway itself, reading the trail for
# listeners it has already checked to be staff
FEED_CALLER = Caller(user_id=0, username="gateway:event-feed", is_staff=True)


class Listener:
    """One subscriber's filter and bounded buffer; `take()` waits for what arrives."""

    def __init__(self, selection: EventFilter, capacity: int):
        self.selection = selection
        self.capacity = capacity
        self.buffer: deque[dict] = deque()
        self.overflowed = False
        self.ready = threading.Condition()

    def offer(self, events: list[dict]):
        """Keep the events the filter accepts; past the buffer's capacity, nothing more
        (the listener is cut off once it has sent what it holds)."""
        with self.ready:
            if self.overflowed:
                return
            kept = 0
            for event in events:
                if not self.selection.matches(event):
                    continue
                if len(self.buffer) >= self.capacity:
                    self.overflowed = True
                    break
                self.buffer.append(event)
                kept += 1
            if kept or self.overflowed:
                self.ready.notify()

    def take(self, timeout: float) -> tuple[list[dict], bool]:
        """(the buffered events, whether the buffer overflowed), waiting up to `timeout`
        seconds for any."""
        with self.ready:
            if not self.buffer and not self.overflowed:
                self.ready.wait(timeout)
            events = list(self.buffer)
            self.buffer.clear()
            return events, self.overflowed


class EventFeed:
    """The listeners of one gateway worker process and their poller."""

    def __init__(self, rpc, max_listeners: int, buffer: int, poll: float):
        self.rpc = rpc
        self.max_listeners = max_listeners
        self.buffer = buffer
        self.poll = poll
        self.lock = threading.Condition()  # also wakes the poller for a first listener
        self.listeners: set[Listener] = set()
        self.head: int | None = None  # the last audit row offered to the listeners
        self.poller: threading.Thread | None = None

    def subscribe(self, selection: EventFilter) -> tuple[Listener, int]:
        """A new listener and the position from which its buffer receives events; a 503 when
        the process has `max_listeners` already."""
        with self.lock:
            if len(self.listeners) >= self.max_listeners:
                raise ServiceUnavailable({"detail": (
                    f"This gateway process serves {self.max_listeners} live-feed listeners "
                    "already (EVENTS_STREAM_MAX_LISTENERS); try again later.")})
            if self.head is None:  # nobody listened: start from the latest row
                self.head = int(self.rpc.call("audit", "latest_event_id", caller=FEED_CALLER))
            listener = Listener(selection, self.buffer)
            self.listeners.add(listener)
            if self.poller is None:
                self.poller = threading.Thread(target=self._run, name="event-feed-poller",
                                               daemon=True)
                self.poller.start()
            self.lock.notify()
            return listener, self.head

    def unsubscribe(self, listener: Listener):
        with self.lock:
            self.listeners.discard(listener)

    def count(self) -> int:
        with self.lock:
            return len(self.listeners)

    def _run(self):
        """Poll while anyone listens; when the last one leaves, forget the position (the
        next listener starts from the latest row then) and sleep until one comes. The
        thread lives as long as the process, so its RPC client is made once."""
        while True:
            with self.lock:
                while not self.listeners:
                    self.head = None
                    self.lock.wait()
                after = self.head
            try:
                page = self.rpc.call("audit", "events_after", caller=FEED_CALLER, params={},
                                     after=after, limit=POLL_PAGE)
            except Exception as exc:  # keep polling: listeners keep their heartbeat meanwhile
                log.warning("live feed: polling the audit trail failed: %s", exc)
                time.sleep(max(self.poll, 1.0))
                continue
            with self.lock:
                for listener in self.listeners:
                    listener.offer(page["results"])
                self.head = max(after or 0, page["last"])
            if not page["more"]:
                time.sleep(self.poll)
