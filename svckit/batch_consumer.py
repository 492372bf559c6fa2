"""Consume the events of several services in batches: one handler call (one transaction) per
batch instead of one nameko worker per event, for subscribers that see every event (the
audit service records a million events when a million rows are imported).

The queues are the ones nameko's `@event_handler(source, "#", handler_type=SERVICE_POOL)`
declares for a method named `on_<source>_event` (svckit.service.event_handler, of the same
queue type), so events waiting in them are kept when a subscriber switches between the two.
Messages are acknowledged only after the handler returned, so delivery stays at least once:
handlers must skip events they saw before. A batch whose handler fails is handled again one
event at a time, and an event that keeps failing is parked in its queue's dead-letter queue
(svckit.parking) while the events behind it go on; a batch is one span (svckit.tracing)
linked to the spans that recorded its events; a handler that answers
`ServiceUnavailable` (its database is down) is retried until it works.

What a message costs before the handler is kept small, since a subscriber of every event
receives thousands a second: the socket is read in large chunks (svckit.buffered_reads),
each body is decoded once with the standard JSON decoder (kombu's registry is skipped: the
relays publish plain JSON), and the broker may send PREFETCH_BATCHES batches ahead, so
that the next batch arrives while the handler runs and acknowledges the last one.
"""
import json
import logging
import socket
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from functools import partial
from typing import Any

import eventlet
from kombu import Consumer, Queue
from nameko.extensions import DependencyProvider

from svckit import parking, tracing
from svckit.broker import connect, durable_queue_arguments
from svckit.buffered_reads import BufferedTransport
from svckit.container_settings import settings_of
from svckit.errors import ServiceUnavailable
from svckit.loop import ManagedLoop
from svckit.relay import event_exchange
from svckit.settings import ServiceSettings

log = logging.getLogger(__name__)

PREFETCH_BATCHES = 4  # unacknowledged messages the broker may send: this many batches
JSON = "application/json"


class ContentRefused(ValueError):
    """A message whose content type is not JSON (parked as undecodable)."""


class BatchEventConsumer(ManagedLoop, DependencyProvider):
    """Calls `handle(db, events)` with up to `batch` events at a time, each batch gathered
    for at most `linger` seconds; `db` is the service's Store database. `sources(settings)`
    names the services whose events it takes, from the process's settings."""

    def __init__(self, sources: Callable[[ServiceSettings], Iterable[str]], handle,
                 batch: int = 500, linger: float = 0.05,
                 configure: Callable[[ServiceSettings], Any] | None = None):
        self.source_names = sources
        self.sources: list[str] = []  # read in setup()
        self.handle = handle
        # `configure(settings)`, when given, is made once in setup() and handed to the
        # handler as its third argument: handle(db, events, configured)
        self.configure = configure
        self.configured: Any = None
        self.batch = batch
        self.linger = linger

    def setup(self):
        from svckit.service import Store  # svckit.service imports this module's neighbours
        settings = settings_of(self.container)
        self.amqp_uri = settings.AMQP_URI
        self.queue_type = settings.AMQP_QUEUE_TYPE
        self.delivery_limit = settings.AMQP_DELIVERY_LIMIT
        self.sources = self.sources_of(settings)
        if self.configure is not None:
            self.configured = self.configure(settings)
        # its `db` is made in its own setup, which may come after this one
        self.store = next(d for d in self.container.dependencies if isinstance(d, Store))

    def sources_of(self, settings: ServiceSettings) -> list[str]:
        return [s for s in self.source_names(settings) if s]

    @staticmethod
    def queue_name(source: str, service: str) -> str:
        return f"evt-{source}-#--{service}.on_{source}_event"

    def queue_names(self, service: str, settings: ServiceSettings) -> list[str]:
        """The queues this consumer of `service` takes events from, given its settings
        (svckit.deadletters finds them so)."""
        return [self.queue_name(source, service) for source in self.sources_of(settings)]

    def _queues(self) -> list[Queue]:
        service = self.container.service_name
        return [Queue(self.queue_name(source, service),
                      exchange=event_exchange(source), routing_key="#", durable=True,
                      auto_delete=False, exclusive=False,
                      queue_arguments=durable_queue_arguments(self.queue_type)) for source in self.sources]

    def _run(self):
        backoff = 0.5
        while self.running:
            try:
                self._consume()
                backoff = 0.5
            except Exception:
                log.exception("event consumer failed; reconnecting in %.1f s", backoff)
                eventlet.sleep(backoff)
                backoff = min(backoff * 2, 10)

    def _consume(self):
        pending: list = []  # (guard, body, message)

        def received(guard, message):
            if not guard.admit(message):  # parked, or put back with a lost attempt counted
                return
            try:
                body = decoded(message)
            except ValueError as exc:  # json's errors and UnicodeDecodeError are ValueErrors
                guard.undecodable(message, exc)
                return
            pending.append((guard, body, message))

        with connect(self.amqp_uri, transport=BufferedTransport) as conn:
            channel = conn.channel()
            channel.basic_qos(0, self.batch * PREFETCH_BATCHES, False)
            consumers = []
            service = self.container.service_name
            for queue in self._queues():
                guard = parking.Guard(parking.parking_for(self.amqp_uri, self.queue_type),
                                      queue.name, service, lambda message: message.ack(),
                                      self.delivery_limit)
                consumers.append(Consumer(channel, [queue],
                                          on_message=partial(received, guard)))
                guard.declare(channel)  # after the queue: the consumer declared it
            with ExitStack() as stack:
                for consumer in consumers:
                    stack.enter_context(consumer)
                first: float | None = None  # when the oldest pending message came
                while self.running:
                    try:
                        conn.drain_events(timeout=self.linger)
                    except socket.timeout:
                        pass
                    if not pending:
                        continue
                    if first is None:
                        first = time.monotonic()
                    if len(pending) >= self.batch or time.monotonic() - first >= self.linger:
                        self._deliver(pending)
                        pending.clear()
                        first = None
                        # under a backlog the socket always has data, so nothing else would
                        # yield: the service's RPC entrypoints would wait for the backlog
                        eventlet.sleep(0)

    def _deliver(self, pending: list):
        """Hand a batch to the handler; if it fails, each event on its own, so that one
        event that cannot be processed is retried and parked (svckit.parking) alone."""
        try:
            bodies = [body for _, body, _ in pending]
            with tracing.span(f"{self.container.service_name}.events", tracing.CONSUMER,
                              attributes={"messaging.batch.message_count": len(bodies)},
                              links=self._links(bodies)):
                self._handle(bodies)
        except Exception:
            if len(pending) > 1:
                log.warning("a batch of %d events failed; handling them one by one",
                            len(pending), exc_info=True)
            self._one_by_one(pending)
            return
        pending[-1][2].ack(multiple=True)  # every delivery up to the last

    @staticmethod
    def _links(bodies: list) -> list | None:
        """Links to the spans that recorded the events (their `trace_context`)."""
        if not tracing.enabled():
            return None
        return tracing.links_to(b.get("trace_context") for b in bodies if isinstance(b, dict))

    def _one_by_one(self, pending: list):
        for guard, body, message in pending:
            try:
                self._handle([body])
            except Exception as exc:
                if not self.running:
                    raise  # stopping: left unacknowledged, delivered again later
                guard.failed(message, exc, sleep=lambda _seconds: None)
            else:
                message.ack()

    def _handle(self, bodies: list):
        """The handler, retried while it says a dependency is down (ServiceUnavailable: its
        database, say), so an outage neither loses nor parks events."""
        backoff = 0.5
        while True:
            try:
                if self.configure is not None:
                    return self.handle(self.store.db, bodies, self.configured)
                return self.handle(self.store.db, bodies)
            except ServiceUnavailable as exc:
                if not self.running:
                    raise
                log.warning("events wait: %s; trying again in %.1f s", exc.detail, backoff)
                eventlet.sleep(backoff)
                backoff = min(backoff * 2, 5)


def decoded(message):
    """A message's JSON body, as kombu's `accept=["json"]` would decode it; ValueError for
    another content type or a body that is not JSON."""
    if message.content_type != JSON:
        raise ContentRefused(f"content type {message.content_type!r} is not {JSON}")
    return json.loads(message.body)
