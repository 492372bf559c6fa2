"""Publishes a service's committed events to RabbitMQ, in chain order, at least once.

Events go to the topic exchange `<service>.events` with the event type as routing key
(nameko's event convention, so `@event_handler("<service>", "<type>")` receives them).
Only one relay per service publishes at a time: a lease row in the service's own database
(so replicas of a service never interleave a stream). A row is marked published only after
the broker confirmed it; a crash in between republishes it, and subscribers deduplicate.
A batch is published, then its confirmations are awaited together (`Confirms`): one wait
for the broker (a quorum queue's replication) per batch instead of one per event.

The relay's connection has AMQP heartbeats (HEARTBEAT_SECONDS), read and sent while it
waits for confirms and at every pass: a connection whose broker went silent (its node's
host gone, a network partition: no FIN, no RST) is known broken after two missed beats and
the batch is sent again on another node, instead of waiting CONFIRM_TIMEOUT for confirms
that cannot come.

One write transaction per pass: it marks the previous batch published (confirmed events
wait in memory for the next pass, at most a second: the relay loop wakes that often; a
crash before it republishes them, as it would a crash before their confirmation), links
the events committed since into the chain, and takes those as the batch to publish. Only
when the chain's head was moved by someone else (a verification links too, a replica
whose lease ran out), or the relay's last batch failed or was not all, does it read the
log for unpublished events instead.
"""
import logging
import socket
import time
import uuid
from datetime import datetime, timedelta

from kombu import Connection, Exchange
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from svckit import chainlog
from svckit.broker import connect
from svckit.events import EventStore, utcnow, wire_event
from svckit.metrics import EVENTS_PUBLISHED

log = logging.getLogger(__name__)

LEASE_SECONDS = 15
BATCH = 500
CONFIRM_TIMEOUT = 30.0  # seconds for the broker to confirm a batch
HEARTBEAT_SECONDS = 5  # of the relay's connection: silence for twice that is a broken one
WAIT_SLICE = 1.0  # seconds between heartbeat checks while confirms are awaited


class NotConfirmed(Exception):
    """The broker refused (nacked) a message of the batch, or did not confirm it in time."""


class Confirms:
    """Publisher confirms of one channel (put in confirm mode here), awaited per batch:
    `sent()` after each publish, `wait()` until the broker confirmed every message sent."""

    def __init__(self, channel):
        self.channel = channel
        self.unconfirmed: set[int] = set()  # delivery tags, counted from 1 per channel
        self.tag = 0
        self.refused = False
        channel.confirm_select()
        channel.events["basic_ack"].add(self._ack)
        channel.events["basic_nack"].add(self._nack)

    def sent(self):
        self.tag += 1
        self.unconfirmed.add(self.tag)

    def _settle(self, tag: int, multiple: bool):
        if multiple:
            self.unconfirmed = {t for t in self.unconfirmed if t > tag}
        else:
            self.unconfirmed.discard(tag)

    def _ack(self, tag, multiple):
        self._settle(tag, multiple)

    def _nack(self, tag, multiple):
        self.refused = True
        self._settle(tag, multiple)

    def wait(self, timeout: float = CONFIRM_TIMEOUT):
        """Until every message sent is confirmed; NotConfirmed when one was refused or
        `timeout` passed; the connection's error (ConnectionForced: too many heartbeats
        missed) as soon as it is known broken."""
        deadline = time.monotonic() + timeout
        connection = self.channel.connection
        while self.unconfirmed and not self.refused:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NotConfirmed(f"{len(self.unconfirmed)} event(s) not confirmed in "
                                   f"{timeout:.0f} s")
            try:
                connection.drain_events(timeout=min(left, WAIT_SLICE))
            except socket.timeout:
                connection.heartbeat_tick()
        if self.refused:
            raise NotConfirmed("the broker refused an event")


def event_exchange(service: str) -> Exchange:
    return Exchange(f"{service}.events", type="topic", durable=True, delivery_mode=2)


class Relay:
    def __init__(self, service: str, db, store: EventStore, amqp_uri: str):
        self.service = service
        self.db = db
        self.store = store
        self.amqp_uri = amqp_uri
        self.owner = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self.exchange = event_exchange(service)
        self._conn: Connection | None = None
        self._producer = None
        self._confirms: Confirms | None = None
        self._lease_until: datetime | None = None  # while comfortably before this, no renewal
        # another replica's lease, as last read: not asked again before it runs out (a
        # replica that does not publish would otherwise read the lease at every commit)
        self._theirs_until: datetime | None = None
        self._confirmed: list[int] = []  # ids of events confirmed, not yet marked published
        # the chain's position after this relay's last batch, when every event linked up
        # to it is published (None: not known, read the log for unpublished events)
        self._head: int | None = None
        self._next_head: int | None = None  # what `_head` becomes once the batch is published

    def _hold_lease(self) -> bool:
        now = utcnow()
        if self._lease_until is not None and now < self._lease_until:
            return True
        if self._theirs_until is not None and now < self._theirs_until:
            return False
        self._lease_until = self._theirs_until = None
        lease = self.store.lease
        try:
            with self.db.write(notify=False) as s:
                row = s.execute(select(lease).where(lease.c.name == "relay")).mappings().first()
                until = now + timedelta(seconds=LEASE_SECONDS)
                if row is None:
                    s.execute(insert(lease).values(name="relay", owner=self.owner, until=until))
                elif row["owner"] != self.owner and row["until"] > now:
                    self._theirs_until = row["until"]
                    self._head = None  # the other replica links and publishes meanwhile
                    return False
                else:
                    if row["owner"] != self.owner:
                        self._head = None
                    s.execute(update(lease).where(lease.c.name == "relay").values(
                        owner=self.owner, until=until))
        except IntegrityError:  # another replica inserted the lease first: it holds it
            self._head = None
            return False
        self._lease_until = now + timedelta(seconds=LEASE_SECONDS / 2)
        return True

    def _ensure_producer(self):
        if self._producer is None:
            conn = self._conn = connect(self.amqp_uri, heartbeat=HEARTBEAT_SECONDS)
            channel = conn.default_channel
            self.exchange(channel).declare()
            self._confirms = Confirms(channel)
            self._producer = conn.Producer(channel)
        return self._producer

    def pending(self, limit=BATCH) -> list[dict]:
        """The next unpublished events in the order of the log's hash chain, linking the
        events committed since the last pass into the chain first (svckit.chainlog), so
        that subscribers see each event after the one it links to; the events confirmed
        since the last pass are marked published in the same transaction."""
        events = self.store.events
        with self.db.write(notify=False) as s:
            self._mark_confirmed(s)
            linked = chainlog.link_pending(self.store, s, limit)
            if self._head is not None and linked.head_before == self._head:
                rows = linked.rows  # everything linked before them is published
            else:
                rows = [dict(r) for r in s.execute(
                    select(events).where(events.c.published.is_(None),
                                         events.c.chain_seq.is_not(None))
                    .order_by(events.c.chain_seq).limit(limit)).mappings()]
        self._confirmed = []
        # once these are published, the log holds no unpublished event before this position
        # unless the batch was full (more may wait)
        self._next_head = (linked.head_before + linked.linked
                           if len(rows) < limit else None)
        return rows

    def _mark_confirmed(self, session):
        if self._confirmed:
            events = self.store.events
            session.execute(update(events).where(events.c.id.in_(self._confirmed))
                            .values(published=utcnow()))

    def flush(self):
        """Mark the events confirmed since the last pass published now (before stopping,
        or while another replica holds the lease)."""
        if self._confirmed:
            with self.db.write(notify=False) as s:
                self._mark_confirmed(s)
            self._confirmed = []

    def keep_alive(self):
        """Between batches: read what the broker sent (its heartbeats), send a heartbeat when
        one is due; a connection found broken is dropped (the next batch connects again)."""
        if self._conn is None:
            return
        try:
            try:
                self._conn.drain_events(timeout=0)
            except socket.timeout:
                pass
            self._conn.heartbeat_check()
        except Exception as exc:
            log.warning("the event relay's broker connection broke (%s); it connects again "
                        "for the next batch", exc)
            self.close(broken=True)

    def pump(self) -> int:
        """Publish every unpublished event; returns how many were published."""
        total = 0
        self.keep_alive()
        if not self._hold_lease():
            self.flush()
            return 0
        while True:
            rows = self.pending()
            if not rows:
                self._head = self._next_head
                return total
            producer = self._ensure_producer()
            confirms = self._confirms
            assert confirms is not None  # made with the producer
            try:
                for row in rows:  # on the channel in confirm mode: no reconnection midway
                    producer.publish(wire_event(self.service, row), exchange=self.exchange,
                                     routing_key=row["type"], serializer="json",
                                     delivery_mode=2)
                    confirms.sent()
                confirms.wait()
            except Exception:
                self._head = None  # the next pass reads what is unpublished
                self.close(broken=True)  # the next pass connects again (to another node)
                raise
            self._confirmed = [r["id"] for r in rows]
            self._head = self._next_head
            EVENTS_PUBLISHED.labels(self.service).inc(len(rows))
            total += len(rows)
            if len(rows) < BATCH:  # that was all (a later commit nudges the loop again)
                return total

    def close(self, broken: bool = False):
        """Drop the connection: closed as AMQP asks, or, when `broken`, its socket only (a
        close handshake on a silent connection would wait for an answer forever)."""
        if self._conn is not None:
            try:
                if broken:
                    self._conn.collect()
                else:
                    self._conn.release()
            except Exception:  # closing a broken connection may fail; it is gone either way
                pass
        self._conn = self._producer = self._confirms = None
