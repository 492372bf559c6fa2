"""Consume the events of several services in batches: one handler call (one transaction) per
batch instead of one nameko worker per event, for subscribers that see every event (the
audit service records a million events when a million rows are imported).

The queues are the ones nameko's `@event_handler(source, "#", handler_type=SERVICE_POOL)`
declares for a method named `on_<source>_event` (svckit.service.event_handler, of the same
queue type), so events waiting in them are kept when a subscriber switches between the two.
Messages are acknowledged only after the handler returned, so delivery stays at least once:
handlers must skip events they saw before.
"""
import logging
import socket
import time
from collections.abc import Callable, Iterable

import eventlet
from kombu import Consumer, Queue
from nameko.extensions import DependencyProvider

from svckit.broker import connect, durable_queue_arguments
from svckit.container_settings import settings_of
from svckit.loop import ManagedLoop
from svckit.relay import event_exchange
from svckit.settings import ServiceSettings

log = logging.getLogger(__name__)


class BatchEventConsumer(ManagedLoop, DependencyProvider):
    """Calls `handle(db, events)` with up to `batch` events at a time, each batch gathered
    for at most `linger` seconds; `db` is the service's Store database. `sources(settings)`
    names the services whose events it takes, from the process's settings."""

    def __init__(self, sources: Callable[[ServiceSettings], Iterable[str]], handle,
                 batch: int = 500, linger: float = 0.05):
        self.source_names = sources
        self.sources: list[str] = []  # read in setup()
        self.handle = handle
        self.batch = batch
        self.linger = linger

    def setup(self):
        from svckit.service import Store  # svckit.service imports this module's neighbours
        settings = settings_of(self.container)
        self.amqp_uri = settings.AMQP_URI
        self.queue_type = settings.AMQP_QUEUE_TYPE
        self.sources = [s for s in self.source_names(settings) if s]
        # its `db` is made in its own setup, which may come after this one
        self.store = next(d for d in self.container.dependencies if isinstance(d, Store))

    def _queues(self) -> list[Queue]:
        service = self.container.service_name
        return [Queue(f"evt-{source}-#--{service}.on_{source}_event",
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
        pending: list = []
        with connect(self.amqp_uri) as conn:
            channel = conn.channel()
            channel.basic_qos(0, self.batch, False)
            consumer = Consumer(channel, self._queues(), accept=["json"],
                                callbacks=[lambda body, message: pending.append(
                                    (body, message))])
            with consumer:
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
                        self.handle(self.store.db, [body for body, _ in pending])
                        pending[-1][1].ack(multiple=True)  # every delivery up to the last
                        pending.clear()
                        first = None
