"""The gateway worker's link to the event bus.

A daemon thread per worker process consumes, from an exclusive queue, the events that make
cached answers stale (token revocations, user and group changes, custom states) and calls
the registered callbacks. While the listener is not connected, caches must not be trusted
(`healthy` is False) and the gateway asks the services every time.

`publish()` sends the gateway's own events (`error.logged`) to the `gateway.events`
exchange, where subscribers find them like any service's events.
"""
import logging
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Callable

from kombu import Queue

from svckit import procid, tracing
from svckit.broker import connect
from svckit.relay import event_exchange

log = logging.getLogger(__name__)
RECONNECT_MAX_SECONDS = 1.0  # longest pause between rounds of the broker's nodes


class EventBus:
    def __init__(self, amqp_uri: str, heartbeat: float = 30.0):
        """`heartbeat`: seconds of the listener connection's AMQP heartbeat; it is checked
        (and a heartbeat sent when due) every quarter of that, as amqp asks, so that the
        broker does not drop an idle listener for missed heartbeats."""
        self.amqp_uri = amqp_uri
        self.heartbeat = heartbeat
        self._bindings: list[tuple[str, str, Callable]] = []  # (service, pattern, callback)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pid: int | None = None
        self.healthy = False
        self._connected = threading.Event()
        self.undecodable = 0  # messages dropped because they could not be decoded

    def subscribe(self, service: str, pattern: str, callback):
        self._bindings.append((service, pattern, callback))

    def start(self):
        """Start the listener once per process (gunicorn forks after import)."""
        pid = procid.current()
        with self._lock:
            if self._pid == pid and self._thread and self._thread.is_alive():
                return
            self._pid = pid
            self.healthy = False
            self._thread = threading.Thread(target=self._run, name="event-bus", daemon=True)
            self._thread.start()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def _matches(self, pattern: str, key: str) -> bool:
        if pattern.endswith(".#"):
            return key == pattern[:-2] or key.startswith(pattern[:-1])
        return pattern == key

    def _on_message(self, body, message):
        exchange = message.delivery_info.get("exchange", "")
        service = exchange.rsplit(".events", 1)[0]
        key = message.delivery_info.get("routing_key", "")
        for svc, pattern, callback in self._bindings:
            if svc == service and self._matches(pattern, key):
                try:
                    callback(body)
                except Exception:
                    log.exception("event callback failed for %s", key)
        message.ack()

    def _run(self):
        """Listen, reconnecting at most RECONNECT_MAX_SECONDS after each failed round of the
        broker's nodes: until it listens, the gateway's /readyz is 503 and the load balancer
        sends it nothing (with pauses growing to 10 s, the gateways came back up to 10 s
        after the broker)."""
        backoff = 0.5
        while True:
            try:
                with connect(self.amqp_uri, heartbeat=self.heartbeat) as conn:
                    queue = Queue(f"gateway-cache-{uuid.uuid4().hex}", exclusive=True,
                                  auto_delete=True, durable=False)
                    channel = conn.channel()
                    queue = queue(channel)
                    queue.declare()
                    for service, pattern, _ in self._bindings:
                        exchange = event_exchange(service)(channel)
                        exchange.declare()
                        queue.bind_to(exchange=exchange, routing_key=pattern)
                    with conn.Consumer(queue, callbacks=[self._on_message], accept=["json"],
                                       on_decode_error=self._undecodable):
                        self._mark_stale()  # anything cached before we listened is suspect
                        self.healthy = True
                        self._connected.set()
                        backoff = 0.5
                        while True:
                            try:
                                conn.drain_events(timeout=self.heartbeat / 4)
                            except TimeoutError:
                                pass
                            conn.heartbeat_check()
            except Exception as exc:
                if self.healthy:
                    log.warning("event bus connection lost: %s", exc)
                self.healthy = False
                self._connected.clear()
                self._mark_stale()
                time.sleep(backoff)
                backoff = min(backoff * 2, RECONNECT_MAX_SECONDS)

    def _undecodable(self, message, exc):
        """A message that is not JSON: dropped (the queue is this worker's own and dies with
        it, so there is no dead-letter queue to park it in), counted and logged."""
        self.undecodable += 1
        log.error("dropped an undecodable event message (%s): %r", exc, message.body[:200])
        message.ack()

    def _mark_stale(self):
        for _, _, callback in self._bindings:
            try:
                callback(None)  # None: "you may have missed events, drop everything"
            except Exception:
                log.exception("cache reset failed")

    def publish(self, type_: str, payload: dict, actor: str = "", request_id: str = ""):
        """Publish one of the gateway's own events (best effort, never raises)."""
        now = datetime.now(timezone.utc)
        event = {"id": f"gateway:{uuid.uuid4().hex}", "service": "gateway",
                 "seq": int(now.timestamp() * 1e6), "stream_type": "error",
                 "stream_id": request_id or uuid.uuid4().hex, "version": 1, "type": type_,
                 "payload": payload, "actor": actor, "request_id": request_id,
                 "trace_context": tracing.traceparent(),
                 "created": now.replace(tzinfo=None).isoformat() + "Z"}
        try:
            with connect(self.amqp_uri, connect_timeout=3,
                         transport_options={"confirm_publish": True}) as conn:
                conn.Producer().publish(event, exchange=event_exchange("gateway"),
                                        routing_key=type_, serializer="json",
                                        declare=[event_exchange("gateway")], delivery_mode=2,
                                        retry=True, retry_policy={"max_retries": 2})
        except Exception:
            log.exception("could not publish %s", type_)
