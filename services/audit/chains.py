"""The audit service's side of tamper evidence: every received event's hash is checked
(recomputed from what it carries, svckit.hashchain.wire_hash) and so is its link to the
event before it in its service's chain, when that one was received just before; and each
service's chain is summed up per hour in a digest signed with HMAC-SHA256 (the key is
AUDIT_DIGEST_KEY), like CloudTrail's digest files. `GET /api/events/verify/` shows the last
digest beside the walk of the service's own log, which checks the digest's last event too.
"""
import hashlib
import hmac
import logging
from datetime import datetime

from sqlalchemy import desc, func, insert, select, update

from svckit.events import utcnow
from svckit.hashchain import canonical_json

from .models import audit_chains, audit_digests, audit_events
from .received import Received

log = logging.getLogger(__name__)


def check_received(session, received: list[Received]) -> dict[str, str]:
    """Check the chain links of newly received events (in chain order per service) and move
    each service's head; {event id: fault} for those that do not match."""
    faults: dict[str, str] = {}
    by_service: dict[str, list[Received]] = {}
    for one in received:
        if one.chained:
            by_service.setdefault(one.event["service"], []).append(one)
    for service, chained in sorted(by_service.items()):
        chained.sort(key=lambda r: r.event["chain_seq"])
        head = _head_for_update(session, service)
        seq, last_hash = (head["seq"], head["hash"]) if head else (0, None)
        for one in chained:
            event = one.event
            fault = None
            if not one.hash_matches():
                fault = "content"
            elif event["chain_seq"] == seq + 1 and last_hash is not None \
                    and event["prev_hash"] != last_hash:
                fault = "order"
            if fault:
                faults[event["id"]] = fault
                log.warning("event %s of %s fails its chain check: %s", event["id"], service,
                            fault)
            if event["chain_seq"] > seq:
                seq, last_hash = event["chain_seq"], event["hash"]
        values = {"seq": seq, "hash": last_hash, "updated": utcnow()}
        if head is None:
            session.execute(insert(audit_chains).values(service=service, **values))
        elif seq != head["seq"]:
            session.execute(update(audit_chains).where(audit_chains.c.service == service)
                            .values(**values))
    return faults


def _head_for_update(session, service: str):
    """The service's chain head, locked until the transaction ends (concurrent batches of
    one service wait for each other on PostgreSQL; SQLite writers are serial)."""
    return session.execute(select(audit_chains).where(audit_chains.c.service == service)
                           .with_for_update()).mappings().first()


def sign(key: bytes, digest: dict) -> str:
    """HMAC-SHA256 of a digest's canonical form (service, hour, count, first and last event,
    the last one's chain position and hash)."""
    body = {k: digest[k] for k in ("service", "count", "first_seq", "last_seq",
                                   "last_chain_seq", "last_hash")}
    body["hour"] = digest["hour"].isoformat()
    return hmac.new(key, canonical_json(body), hashlib.sha256).hexdigest()


def update_digests(session, key: bytes, received: list[Received]):
    """Count newly received chained events into their service's hourly digests and sign
    each digest again."""
    groups: dict[tuple[str, datetime], list[dict]] = {}
    for one in received:
        if one.chained:
            hour = one.created.replace(minute=0, second=0, microsecond=0)
            groups.setdefault((one.event["service"], hour), []).append(one.event)
    for (service, hour), group in sorted(groups.items()):
        last = max(group, key=lambda e: e["chain_seq"])
        row = session.execute(select(audit_digests).where(
            audit_digests.c.service == service, audit_digests.c.hour == hour)
            .with_for_update()).mappings().first()
        digest = {"service": service, "hour": hour, "count": len(group),
                  "first_seq": min(e["seq"] for e in group), "last_seq": last["seq"],
                  "last_chain_seq": last["chain_seq"], "last_hash": last["hash"]}
        if row is not None:
            digest["count"] += row["count"]
            digest["first_seq"] = min(digest["first_seq"], row["first_seq"])
            if row["last_chain_seq"] > digest["last_chain_seq"]:
                digest.update(last_seq=row["last_seq"], last_chain_seq=row["last_chain_seq"],
                              last_hash=row["last_hash"])
        values = {**digest, "signature": sign(key, digest), "updated": utcnow()}
        if row is None:
            session.execute(insert(audit_digests).values(**values))
        else:
            session.execute(update(audit_digests).where(
                audit_digests.c.service == service, audit_digests.c.hour == hour)
                .values(**values))


def last_digest(session, key: bytes, service: str) -> dict | None:
    """The service's latest hourly digest, whether its signature holds, and how many events
    failed their check on receipt."""
    row = session.execute(select(audit_digests).where(audit_digests.c.service == service)
                          .order_by(desc(audit_digests.c.hour)).limit(1)).mappings().first()
    faults = session.execute(select(func.count()).select_from(audit_events).where(
        audit_events.c.service == service, audit_events.c.chain_fault.is_not(None))).scalar()
    if row is None:
        return {"digest": None, "received_faults": faults}
    digest = dict(row)
    valid = hmac.compare_digest(sign(key, digest), digest["signature"])
    return {"digest": {"hour": digest["hour"].isoformat() + "Z", "count": digest["count"],
                       "first_seq": digest["first_seq"], "last_seq": digest["last_seq"],
                       "last_chain_seq": digest["last_chain_seq"],
                       "last_hash": digest["last_hash"], "signature": digest["signature"],
                       "signature_valid": valid},
            "received_faults": faults}
