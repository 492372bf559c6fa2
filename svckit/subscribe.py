"""Tail events for operators' scripts: one JSON line per event on stdout.

    python -m svckit.subscribe --types 'attachment.*' [--from <event id or ISO time>]

Events come from RabbitMQ through a durable queue of the subscriber's own (`--queue`, by
default named after the patterns), bound to each service's event exchange
(`<service>.events`) with the patterns' topic keys (svckit.eventtypes); a message is
acknowledged after its line is written, so a tail that stops and starts again with the same
queue goes on where it stopped (at least once: a line may repeat after a crash).

With `--from`, it first catches up from the audit log through the public API
(`GET /api/events/`, staff token in SUBSCRIBE_API_TOKEN, gateway at SUBSCRIBE_API_URL):
every recorded event after the given event (`status:12`) or created at or after the given
time. The switch to the queue has no gap and no duplicate: the queue is bound before the
catch-up starts, so whatever is published meanwhile waits in it; the catch-up goes on until
the audit log holds, for each service, the first event waiting in the queue (the relay
publishes a service's events in chain order and the audit service records them in that
order, so the log then holds all that service published before it), and, for services with
nothing waiting, until the log has been quiet for `--settle` seconds (the audit service's
lag); queued events the catch-up printed already are dropped by their id. (Not by `seq`:
on PostgreSQL, with replicas, ids are not committed in their order.) Each line has the
fields the API lists: id, service, seq, stream_type, stream_id, version, type, payload,
actor, request_id, created.

Exit after `--max-events` lines or `--idle-exit` seconds without one (for scripts); else it
runs until interrupted. `--delete-queue` removes the queue when it exits.
"""
import argparse
import hashlib
import json
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

from kombu import Queue

from svckit import eventtypes
from svckit.broker import connect, durable_queue_arguments
from svckit.layout import service_names
from svckit.relay import event_exchange
from svckit.settings import BrokerSettings

PAGE = 1000  # the audit list's EVENTS_MAX_LIMIT default
FIELDS = ("id", "service", "seq", "stream_type", "stream_id", "version", "type", "payload",
          "actor", "request_id", "created")
TIME_SLACK_SECONDS = 300  # events of other services received around an `--from` event
# an event created this long before the queue was bound is taken never to be waiting in it
# (a relay that was held up longer, by a broker outage, publishes it later: it may repeat)
DEDUP_WINDOW_SECONDS = 600


class SubscribeSettings(BrokerSettings):
    """What `svckit.subscribe` reads: the broker (AMQP_URI, AMQP_QUEUE_TYPE) and, for the
    catch-up, the gateway's URL and a staff user's API token."""

    AMQP_QUEUE_TYPE: str = "classic"
    SUBSCRIBE_API_URL: str = "http://127.0.0.1:8000"
    SUBSCRIBE_API_TOKEN: str = ""


class UsageError(Exception):
    pass


def line(event: dict) -> dict:
    return {k: event.get(k) for k in FIELDS}


class AuditLog:
    """`GET /api/events/` pages, in the order the audit service recorded them."""

    def __init__(self, url: str, token: str):
        if not token:
            raise UsageError("catching up needs SUBSCRIBE_API_TOKEN (a staff user's API token)")
        self.url = url.rstrip("/") + "/api/events/"
        self.token = token

    def get(self, params: dict) -> dict:
        request = urllib.request.Request(f"{self.url}?{urllib.parse.urlencode(params)}",
                                         headers={"Authorization": f"Token {self.token}",
                                                  "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return json.load(answer)
        except urllib.error.HTTPError as exc:
            raise UsageError(f"GET {self.url}: HTTP {exc.code} {exc.read()[:300]!r}") from None

    def event(self, event_id: str) -> dict:
        service, _, seq = event_id.partition(":")
        found = self.get({"service": service, "event_id": event_id, "limit": 1})["results"]
        if not found or found[0]["id"] != event_id:
            raise UsageError(f"--from: no event {event_id!r} in the audit log")
        return found[0]

    def has(self, service: str, event_id: str) -> bool:
        """Whether the audit log holds the event."""
        return self.get({"service": service, "event_id": event_id, "limit": 1})["count"] > 0

    def pages(self, after: str | None, offset: int):
        """(offset after the page, its events) from `offset` on, until a short page."""
        while True:
            params = {"ordering": "id", "limit": PAGE, "offset": offset}
            if after:
                params["after"] = after
            events = self.get(params)["results"]
            offset += len(events)
            yield offset, events
            if len(events) < PAGE:
                return


class Subscriber:
    def __init__(self, settings: SubscribeSettings, patterns: list[str], services: list[str],
                 queue: str, out=sys.stdout):
        self.settings = settings
        self.patterns = patterns
        self.services = services
        self.queue_name = queue
        self.out = out
        # ids of the events the catch-up wrote, those created from DEDUP_WINDOW_SECONDS
        # before the queue was bound (older ones cannot be waiting in it)
        self.caught_up: set[str] = set()
        self.bound_at = 0.0
        self.written = 0

    # ------------------------------------------------------------ output
    def emit(self, event: dict) -> bool:
        """Write an event's line unless it is not wanted or the catch-up wrote it."""
        if not eventtypes.matches(self.patterns, str(event.get("type"))):
            return False
        if event.get("id") in self.caught_up:
            return False
        self.out.write(json.dumps(line(event), separators=(",", ":")) + "\n")
        self.out.flush()
        self.written += 1
        return True

    # ------------------------------------------------------------ broker
    def declare(self, channel) -> Queue:
        queue = Queue(self.queue_name, durable=True, auto_delete=False,
                      queue_arguments=durable_queue_arguments(self.settings.AMQP_QUEUE_TYPE))
        queue(channel).declare()
        for service in self.services:
            exchange = event_exchange(service)
            exchange(channel).declare()
            for key in eventtypes.topic_bindings(self.patterns):
                channel.queue_bind(self.queue_name, exchange=exchange.name, routing_key=key)
        return queue

    def waiting(self, channel) -> list:
        """Every message waiting in the queue now (not acknowledged yet)."""
        messages: list = []
        bound = Queue(self.queue_name, channel=channel)
        while True:
            message = bound.get(no_ack=False, accept=["json"])
            if message is None:
                return messages
            messages.append(message)

    # ------------------------------------------------------------ catch-up
    def catch_up(self, log: AuditLog, start: str, channel, settle: float) -> list:
        """Write the audit log's events from `start` until it meets the queue (see the
        module's docstring); returns the queued messages taken meanwhile, unacknowledged.
        For each service with messages waiting, the log must hold the first of them (so it
        holds every event that service published before: one queue per source, recorded in
        order), and a pass to the log's end must have followed."""
        after, skip_to = start_point(log, start)
        offset, quiet_since = 0, time.monotonic()
        taken: list = []
        met: set[str] = set()  # services whose first waiting event the log holds
        while True:
            met_before = set(met)
            new = False
            for reached, events in log.pages(after, offset):
                offset = reached
                for event in events:
                    new = True
                    if not (skip_to and event["pk"] <= skip_to):
                        self.catch_up_one(event)
            if new:
                quiet_since = time.monotonic()
            taken += self.waiting(channel)
            first: dict = {}
            for message in taken:
                first.setdefault(message.payload.get("service"), message.payload.get("id"))
            met |= {s for s, event_id in first.items()
                    if s not in met and log.has(str(s), str(event_id))}
            if set(first) <= met_before and time.monotonic() - quiet_since >= settle:
                return taken
            time.sleep(0.2)

    def catch_up_one(self, event: dict):
        if self.emit(event) and self.recent(event):
            self.caught_up.add(event["id"])

    def recent(self, event: dict) -> bool:
        try:
            created = datetime.fromisoformat(str(event["created"]).replace("Z", "+00:00"))
        except ValueError:
            return True
        return created.timestamp() >= self.bound_at - DEDUP_WINDOW_SECONDS

    # ------------------------------------------------------------ the tail
    def run(self, start: str | None, settle: float, max_events: int | None,
            idle_exit: float | None, delete_queue: bool) -> int:
        with connect(self.settings.AMQP_URI) as conn:
            channel = conn.channel()
            queue = self.declare(channel)
            self.bound_at = time.time()
            taken = []
            if start:
                log = AuditLog(self.settings.SUBSCRIBE_API_URL, self.settings.SUBSCRIBE_API_TOKEN)
                taken = self.catch_up(log, start, channel, settle)
            try:
                for message in taken:
                    self.emit(message.payload)
                    message.ack()
                    if max_events and self.written >= max_events:
                        return 0
                self.tail(conn, channel, queue, max_events, idle_exit)
            finally:
                if delete_queue:
                    channel.queue_delete(self.queue_name)
        return 0

    def tail(self, conn, channel, queue, max_events, idle_exit):
        done = False
        last = time.monotonic()

        def received(body, message):
            nonlocal done, last
            if self.emit(body):
                last = time.monotonic()
            message.ack()
            if max_events and self.written >= max_events:
                done = True

        channel.basic_qos(0, 100, False)
        with conn.Consumer(queue, callbacks=[received], accept=["json"], channel=channel):
            while not done:
                try:
                    conn.drain_events(timeout=0.5)
                except socket.timeout:
                    if idle_exit is not None and time.monotonic() - last >= idle_exit:
                        return


def is_event_id(start: str) -> bool:
    return ":" in start and not start[:4].isdigit()


def check_start(start: str):
    """`--from` is an event id (`service:seq`) or an ISO time; UsageError if neither."""
    service, _, seq = start.partition(":")
    if is_event_id(start):
        if not (service and seq.isdigit()):
            raise UsageError(f"--from: {start!r} is not an event id such as status:12")
        return
    try:
        datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--from: {start!r} is neither an event id (status:12) nor an ISO "
                         "time") from None


def start_point(log: AuditLog, start: str) -> tuple[str | None, int]:
    """(the `after` filter, the audit pk to skip to) of a checked `--from`."""
    if is_event_id(start):
        event = log.event(start)
        created = datetime.fromisoformat(event["created"].replace("Z", "+00:00"))
        earlier = datetime.fromtimestamp(created.timestamp() - TIME_SLACK_SECONDS,
                                         timezone.utc)
        return earlier.isoformat().replace("+00:00", "Z"), event["pk"]
    return start, 0


def default_queue(patterns: list[str], services: list[str]) -> str:
    digest = hashlib.sha256(json.dumps([sorted(patterns), sorted(services)]).encode())
    return f"subscribe.{digest.hexdigest()[:12]}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m svckit.subscribe", description=(
        "Print events as JSON lines: caught up from the audit log (--from), then live from "
        "a durable queue of their own."))
    parser.add_argument("--types", required=True,
                        help="comma-separated event type patterns, e.g. 'attachment.*'")
    parser.add_argument("--from", dest="start",
                        help="catch up from the audit log first: after this event id "
                             "(status:12), or from this ISO time")
    parser.add_argument("--services", help="services whose events to take (default: all)")
    parser.add_argument("--queue", help="the durable queue's name (default: from the patterns)")
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds the audit log must stay quiet before the switch to "
                             "the queue (default 2)")
    parser.add_argument("--max-events", type=int, help="exit after this many events")
    parser.add_argument("--idle-exit", type=float, help="exit after this many seconds "
                                                        "without an event")
    parser.add_argument("--delete-queue", action="store_true",
                        help="delete the queue on exit (a one-off tail)")
    args = parser.parse_args(argv)
    patterns = [p.strip() for p in args.types.split(",") if p.strip()]
    problems = eventtypes.pattern_problems(patterns)
    if problems:
        parser.error("; ".join(problems))
    services = ([s.strip() for s in args.services.split(",") if s.strip()] if args.services
                else ["gateway", *service_names()])
    settings = SubscribeSettings()
    subscriber = Subscriber(settings, patterns, services,
                            args.queue or default_queue(patterns, services))
    try:
        if args.start:
            check_start(args.start)
        return subscriber.run(args.start, args.settle, args.max_events, args.idle_exit,
                              args.delete_queue)
    except UsageError as exc:
        print(f"svckit.subscribe: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
