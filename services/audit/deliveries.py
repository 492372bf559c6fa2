"""Deliveries of outbound webhooks: made when an event is recorded, sent off the write path.

`enqueue` runs in the transaction that records a batch of received events (service.py's
batch handler): one `pending` delivery per active subscription whose patterns match the
event's type, at most one per subscription and event (a redelivered event adds none). The
service's dispatcher (svckit.dispatcher) then asks `Deliveries` which subscriptions have
deliveries due, claims a few of each (a lease, so replicas share the work and a crashed
sender's deliveries are sent again once it expires), signs and POSTs each one
(svckit.webhook_signature, svckit.outbound) and records the answer: a 2xx delivers it;
anything else (an error, a timeout, a redirect, a refused address) schedules another
attempt with exponential backoff and jitter, until WEBHOOK_RETRY_FOR_SECONDS after the
delivery was made (or redelivered), and then parks it. Staff put a parked delivery back
with `redeliver`.

Order: a subscription's first attempts go out in the order the events were received, at
most WEBHOOK_PER_SUBSCRIPTION at a time; a retried delivery does not hold back the ones
behind it, so receivers order by the event's `seq`/`created` if they need to, and
deduplicate by `Webhook-Id` (the delivery is sent at least once)."""
import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from svckit import eventtypes, outbound, webhook_signature
from svckit.context import Caller
from svckit.errors import NotFound, ValidationFailed
from svckit.events import utcnow
from svckit.listing import get_by_id, run_list

from . import auditevents, metrics, webhooks
from .events import WEBHOOK_DELIVERY_REDELIVERED
from .models import (
    audit_events,
    store,
    webhook_deliveries,
    webhook_secrets,
    webhook_subscriptions,
)

PENDING, DELIVERED, PARKED = "pending", "delivered", "parked"
STATUSES = (PENDING, DELIVERED, PARKED)
STREAM = "webhook_delivery"
LEASE_MARGIN_SECONDS = 30.0
ERROR_CHARS = 500
PAGE_SIZE, MAX_LIMIT = 100, 1000  # delivery lists are always paged
d = webhook_deliveries.c


@dataclass(frozen=True)
class DeliveryPolicy:
    """The WEBHOOK_* settings of the dispatcher and of each attempt."""

    allowed_hosts: list[str]
    allow_private: bool
    timeout: float  # per socket operation
    retry_for: float  # seconds after the delivery was made (or redelivered)
    backoff_base: float
    backoff_max: float
    concurrency: int  # in flight, all subscriptions
    per_key: int  # in flight, one subscription
    poll: float

    @property
    def limit(self) -> float:
        """Longest an attempt may take (connect, send, answer) before it is cut off."""
        return 2 * self.timeout + 1

    @property
    def rules(self) -> webhooks.TargetRules:
        return webhooks.TargetRules(self.allowed_hosts, self.allow_private)


def backoff(attempts: int, base: float, maximum: float, rand=random.random) -> float:
    """Seconds before the next attempt after `attempts` failed ones: base * 2^(attempts-1),
    at most `maximum`, with jitter (between half and all of it)."""
    delay = min(maximum, base * 2 ** min(attempts - 1, 40))
    return delay * (0.5 + rand() / 2)


def enqueue(session, events: list[dict]) -> int:
    """Pending deliveries for received events (wire events: `id`, `type`), one per matching
    active subscription; events that already have theirs add none. How many were new."""
    subscriptions = webhooks.active_subscriptions(session)
    if not subscriptions or not events:
        return 0
    now = utcnow()
    rows = [{"subscription_id": sub["id"], "event_id": event["id"], "status": PENDING,
             "attempts": 0, "created": now, "window_start": now, "next_attempt": now,
             "last_error": ""}
            for event in events for sub in subscriptions
            if eventtypes.matches(sub["event_types"], event["type"])]
    if not rows:
        return 0
    if session.dialect.name == "postgresql":  # multi-row statements (auditevents' reason)
        return len(session.execute(pg_insert(webhook_deliveries).on_conflict_do_nothing(
            index_elements=["subscription_id", "event_id"]).returning(
            webhook_deliveries.c.id), rows).all())
    result = session.execute(sqlite_insert(webhook_deliveries).on_conflict_do_nothing(
        index_elements=["subscription_id", "event_id"]), rows)
    return max(result.rowcount or 0, 0)


@dataclass(frozen=True)
class Job:
    """One claimed delivery, with what its attempt needs."""

    id: int
    claim: str
    attempts: int
    window_start: datetime
    target_url: str
    secret: str
    body: bytes


def _free_lease(now):
    return or_(d.lease_until.is_(None), d.lease_until < now)


class Deliveries:
    """The dispatcher's jobs (svckit.dispatcher.Jobs): keys are subscription pks."""

    def __init__(self, policy: DeliveryPolicy, rand=random.random):
        self.policy = policy
        self.rand = rand

    def due_keys(self, db) -> list:
        now = utcnow()
        with db.read() as s:
            return list(s.execute(
                select(d.subscription_id).distinct()
                .join(webhook_subscriptions, webhook_subscriptions.c.id == d.subscription_id)
                .where(d.status == PENDING, d.next_attempt <= now, _free_lease(now),
                       webhook_subscriptions.c.active.is_(True))).scalars())

    def claim(self, db, key, count: int) -> list[Job]:
        """Lease up to `count` of a subscription's due deliveries, oldest first."""
        now = utcnow()
        token = uuid.uuid4().hex
        lease = now + timedelta(seconds=self.policy.limit + LEASE_MARGIN_SECONDS)
        with db.write() as s:
            ids = list(s.execute(select(d.id).where(
                d.subscription_id == key, d.status == PENDING, d.next_attempt <= now,
                _free_lease(now)).order_by(d.id).limit(count)).scalars())
            if not ids:
                return []
            s.execute(update(webhook_deliveries).where(
                d.id.in_(ids), d.status == PENDING, _free_lease(now)).values(
                lease_until=lease, claim=token))
            rows = s.execute(
                select(d.id.label("delivery_id"), d.attempts, d.window_start,
                       webhook_subscriptions.c.target_url, webhook_secrets.c.secret,
                       audit_events)
                .join(webhook_subscriptions, webhook_subscriptions.c.id == d.subscription_id)
                .join(webhook_secrets, webhook_secrets.c.subscription_id == d.subscription_id)
                .join(audit_events, audit_events.c.event_id == d.event_id)
                .where(d.claim == token).order_by(d.id)).mappings().all()
        return [Job(r["delivery_id"], token, r["attempts"], r["window_start"], r["target_url"],
                    r["secret"], json.dumps(auditevents.render(r), separators=(",", ":"))
                    .encode()) for r in rows]

    def run(self, job: Job) -> outbound.Answer:
        """One attempt: sign and POST; the answer (never raises for the receiver's faults)."""
        try:
            target = outbound.parse_target(job.target_url, self.policy.allowed_hosts)
        except outbound.RefusedTarget as exc:
            return outbound.Answer(None, str(exc), 0.0)
        headers = webhook_signature.signed_headers(job.secret, str(job.id), job.body)
        return outbound.post(target, job.body, headers, self.policy.timeout,
                             self.policy.allow_private)

    def timed_out(self, job: Job) -> outbound.Answer:
        return outbound.Answer(None, f"cut off after {self.policy.limit:g} s",
                               self.policy.limit * 1000)

    def record(self, db, outcomes: list[tuple[Job, outbound.Answer]]) -> list[str]:
        """The attempts' outcomes on their deliveries, in one transaction (each only if its
        claim still holds the delivery): delivered, pending again after a backoff, or
        parked. Returns the new statuses."""
        now = utcnow()
        changes = [(job, self.outcome(job, answer, now)) for job, answer in outcomes]
        with db.write() as s:
            for job, values in changes:
                s.execute(update(webhook_deliveries).where(
                    d.id == job.id, d.claim == job.claim).values(**values))
        metrics.count_outcomes([(answer.status, answer.latency_ms, values["status"])
                                for (_, answer), (_, values) in zip(outcomes, changes)])
        return [values["status"] for _, values in changes]

    def outcome(self, job: Job, answer: outbound.Answer, now) -> dict:
        """The delivery's new columns after an attempt that answered `answer`."""
        attempts = job.attempts + 1
        values = {"attempts": attempts, "last_attempt": now, "response_code": answer.status,
                  "latency_ms": answer.latency_ms, "lease_until": None, "claim": None}
        if answer.status is not None and 200 <= answer.status < 300:
            values.update(status=DELIVERED, delivered=now, next_attempt=None, last_error="")
            return values
        error = answer.error or f"HTTP {answer.status}: {answer.body}"
        delay = backoff(attempts, self.policy.backoff_base, self.policy.backoff_max, self.rand)
        retry = now + timedelta(seconds=delay)
        give_up = job.window_start + timedelta(seconds=self.policy.retry_for)
        values.update(last_error=error[:ERROR_CHARS])
        if retry > give_up:
            values.update(status=PARKED, next_attempt=None)
        else:
            values.update(status=PENDING, next_attempt=retry)
        return values


def render(row) -> dict:
    def when(value):
        return value.isoformat() + "Z" if value else None
    return {"pk": row["id"], "subscription": row["subscription_id"],
            "event_id": row["event_id"], "event_type": row.get("type"),
            "status": row["status"], "attempts": row["attempts"],
            "response_code": row["response_code"], "latency_ms": row["latency_ms"],
            "last_error": row["last_error"], "created": when(row["created"]),
            "last_attempt": when(row["last_attempt"]),
            "next_attempt": when(row["next_attempt"]) if row["status"] == PENDING else None,
            "delivered": when(row["delivered"])}


ORDERING = {"pk": d.id, "created": d.created, "status": d.status, "attempts": d.attempts,
            "next_attempt": d.next_attempt, "last_attempt": d.last_attempt}


def _with_type():
    return select(webhook_deliveries, audit_events.c.type).outerjoin(
        audit_events, audit_events.c.event_id == d.event_id)


def list_deliveries(session, subscription: int, params: dict) -> dict:
    """A subscription's deliveries (404 for an unknown subscription), newest first unless
    ordered otherwise; `status` filters (pending, delivered, parked). Always paged: without
    `limit` a page of PAGE_SIZE, no `limit` above MAX_LIMIT."""
    webhooks.get(session, subscription)
    stmt = _with_type().where(d.subscription_id == subscription)
    if params.get("status"):
        wanted = str(params["status"]).split(",")
        wrong = [w for w in wanted if w not in STATUSES]
        if wrong:
            raise ValidationFailed({"status": [
                f"Select a valid choice. {w} is not one of the available choices." for w in wrong]})
        stmt = stmt.where(d.status.in_(wanted))
    return run_list(session, stmt, params, search=(d.event_id, d.last_error), ordering=ORDERING,
                    default_order=[d.id.desc()], render=render, default_limit=PAGE_SIZE,
                    max_limit=MAX_LIMIT)


def get(session, subscription: int, pk: int) -> dict:
    row = session.execute(_with_type().where(
        d.id == pk, d.subscription_id == subscription)).mappings().first()
    if row is None:
        raise NotFound()
    return dict(row)


def redeliver(session, caller: Caller, subscription: int, pk: int) -> dict:
    """Put a parked delivery back, due now, with a fresh retry window."""
    get_by_id(session, webhook_subscriptions, subscription)
    store.lock_stream(session, STREAM, pk)
    row = get(session, subscription, pk)
    if row["status"] != PARKED:
        raise ValidationFailed({"detail": f"Only a parked delivery can be redelivered; this "
                                          f"one is {row['status']}."})
    now = utcnow()
    store.record(session, STREAM, pk, WEBHOOK_DELIVERY_REDELIVERED,
                 {"subscription": subscription, "event_id": row["event_id"]}, caller)
    session.execute(update(webhook_deliveries).where(d.id == pk).values(
        status=PENDING, next_attempt=now, window_start=now, lease_until=None, claim=None))
    return render(get(session, subscription, pk))


