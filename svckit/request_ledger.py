"""The ledger of HTTP requests sent with an `Idempotency-Key` (IETF draft "The
Idempotency-Key HTTP Header Field"), per user and key: the request's fingerprint, whether
it is still running (and who runs it, until when), and its first answer (status, content
type, body).

The gateway asks one service that hosts it (the users service, `RequestLedgerMixin`)
before a keyed request's first RPC (`begin_request`) and after its answer
(`finish_request`). The writes themselves are made at most once by svckit.idempotency,
under keys the gateway derives from the client's (svckit.request_keys): this ledger adds
the first answer of the whole request, the 422 for a key reused for another request, and
the 409 while the first one runs.
"""
import base64
import hashlib
from datetime import timedelta

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from svckit.errors import ApiError
from svckit.events import utcnow
from svckit.service import ServiceBase, rpc

MAX_ANSWER_BYTES = 1024 * 1024  # a larger answer is not kept: a repeat runs again (safely)
TABLE = "request_ledger"
RUNNING = "running"
DONE = "done"


def ledger_table(metadata: MetaData) -> Table:
    table = Table(
        TABLE, metadata,
        Column("key", String(64), primary_key=True),  # sha256 of user and client key
        Column("fingerprint", String(64), nullable=False),
        Column("state", String(16), nullable=False),
        Column("claim", String(64), nullable=False),  # the running request's own id
        Column("lease_until", DateTime, nullable=False),
        Column("status", Integer, nullable=True),
        Column("content_type", String(200), nullable=True),
        Column("body", LargeBinary, nullable=True),
        Column("expires", DateTime, nullable=False),
    )
    Index("ix_request_ledger_expires", table.c.expires)
    return table


def ledger_key(user_id: int, client_key: str) -> str:
    return hashlib.sha256(f"{user_id}\n{client_key}".encode()).hexdigest()


def key_reused() -> ApiError:
    return ApiError({"detail": "This Idempotency-Key was already used for a different "
                               "request (method, path or body)"}, 422)


STILL_RUNNING = ("A request with this Idempotency-Key is still being processed; repeat it "
                 "later to get its answer")
LEASE_LEFT = "lease_seconds"  # in a 409's detail for the gateway: how long the lease runs


def still_running(lease_left: float | None = None) -> ApiError:
    """The 409 of a key whose request runs; `lease_left`: seconds its lease still runs (for
    the gateway, which waits that long before answering it: gateway.idempotency.begin)."""
    detail: dict = {"detail": STILL_RUNNING}
    if lease_left is not None:
        detail[LEASE_LEFT] = round(max(lease_left, 0.0), 3)
    return ApiError(detail, 409)


def begin(s: Connection, table: Table, key: str, fingerprint: str, claim: str,
          lease_seconds: float, ttl_seconds: float) -> dict:
    """Start the request `claim` under `key`: `{"state": "new"}` (run it), or
    `{"state": "done", "status", "content_type", "body"}` (its first answer). A request
    still running under this key is a 409 (unless its lease ran out: a gateway that
    died, taken over), one with another fingerprint a 422."""
    now = utcnow()
    s.execute(delete(table).where(table.c.expires <= now))  # expired keys go here
    row = s.execute(select(table).where(table.c.key == key).with_for_update()).first()
    lease = now + timedelta(seconds=lease_seconds)
    if row is None:
        s.execute(insert(table).values(
            key=key, fingerprint=fingerprint, state=RUNNING, claim=claim, lease_until=lease,
            expires=now + timedelta(seconds=ttl_seconds)))
        return {"state": "new"}
    if row.fingerprint != fingerprint:
        raise key_reused()
    if row.state == DONE:
        return {"state": "done", "status": row.status, "content_type": row.content_type,
                "body": base64.b64encode(row.body or b"").decode()}
    if row.claim != claim and row.lease_until > now:
        raise still_running((row.lease_until - now).total_seconds())
    s.execute(update(table).where(table.c.key == key).values(claim=claim, lease_until=lease))
    return {"state": "new"}


def finish(s: Connection, table: Table, key: str, claim: str, status: int,
           content_type: str, body: str | None) -> bool:
    """Keep the answer of the request `claim` (`body` base64); None, or a body over
    MAX_ANSWER_BYTES: forget the key (a 5xx says nothing about what happened; a repeat
    runs again, its applied RPCs answering from their keys). False when
    the key is no longer this request's."""
    mine = (table.c.key == key) & (table.c.claim == claim) & (table.c.state == RUNNING)
    raw = base64.b64decode(body) if body is not None else b""
    if body is None or len(raw) > MAX_ANSWER_BYTES:  # too large to keep: forgotten too
        return s.execute(delete(table).where(mine)).rowcount == 1
    return s.execute(update(table).where(mine).values(
        state=DONE, status=status, content_type=content_type[:200], body=raw)).rowcount == 1


class RequestLedgerMixin(ServiceBase):
    """The ledger's entrypoints, for the service that hosts it (`ledger_table` in its models
    and migrations; its `settings` dependency gives IDEMPOTENCY_KEY_TTL). Only signed-in
    callers have keys of their own."""

    @property
    def _ledger(self) -> Table:
        return self.db.metadata.tables[TABLE]

    @rpc
    def begin_request(self, key: str, fingerprint: str, claim: str,
                      lease_seconds: float) -> dict:
        self.caller.require_login()
        assert self.caller.user_id is not None  # require_login
        try:
            with self.db.write() as s:
                return begin(s, self._ledger, ledger_key(self.caller.user_id, key),
                             fingerprint, claim, lease_seconds,
                             self.settings.IDEMPOTENCY_KEY_TTL)
        except IntegrityError:  # the same key begun at the same instant: it runs there
            raise still_running()

    @rpc
    def finish_request(self, key: str, claim: str, status: int, content_type: str,
                       body: str | None) -> bool:
        self.caller.require_login()
        assert self.caller.user_id is not None  # require_login
        with self.db.write() as s:
            return finish(s, self._ledger, ledger_key(self.caller.user_id, key), claim,
                          status, content_type, body)
