"""Idempotent RPCs: a call whose key was already applied answers what it answered then.

A caller puts a key in the signed caller context (`Caller.idempotency_key`; the gateway
derives one for every RPC it makes, svckit.request_keys). In the service:

- before the method runs, a call that arrives again (a redelivery, or a caller's retry)
  whose key is recorded gets the recorded answer, and the method does not run
  (`prepare`, from the worker's setup);
- the worker's units of work (`KeyedUnits`, what `self.db` is in a keyed worker) defer
  the commit of the last write unit until the entrypoint has its answer; `finish` (before
  the reply is sent) stores the key with that answer in the same transaction and commits.
  A process killed at any instant leaves either nothing, or the write with its answer;
- an entrypoint that raises an ApiError after its write unit ended commits that unit
  with the error as its answer, as it would commit without a key (a failed login is
  recorded, then refused); an unexpected exception commits it without a key;
- a unit opened while a write unit is deferred commits it first (its later work may depend
  on the commit: a background job woken, a file deleted): a read commits it with the key
  recorded as applied, answer pending (stored once the entrypoint returns); a write commits
  it without the key (the key goes with the last write). An entrypoint whose answer is
  known before such later work (`accept_rows` answers its rows, then waits for them to be
  created) commits its write with that answer first (`commit_answer`), so a process
  killed during the later work leaves the key with its answer, never pending. A duplicate
  that finds a pending key waits up to PENDING_WAIT_SECONDS for its answer (the first call
  is still running); only a key whose process died pending is answered 409, and not
  applied again;
- a concurrent duplicate that committed first wins: the loser's transaction fails on the
  key (or on the domain's own rules), rolls back, and the loser answers the winner's answer
  (a resend that failed waits up to RESENT_WAIT_SECONDS for the first send's answer: it may
  have failed on that send's work in progress, a file already taken, say).

Keys expire after IDEMPOTENCY_KEY_TTL seconds (`purge_expired`, from the store's loop).
"""
import hashlib
import logging
import time
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Callable

from kombu.utils import json as kombu_json
from sqlalchemy import (
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from svckit.db_outage import is_outage
from svckit.errors import ERROR_CLASSES, ApiError, ServiceUnavailable

log = logging.getLogger(__name__)

TABLE = "idempotency_record"
MAX_KEY_CHARS = 128
OWN_KEY_PREFIX = "g-"  # a key the gateway made for a request that came without one
OWN_KEY_SECONDS = 3600.0  # such a key only has to outlive resends and redeliveries
RESENT_WAIT_SECONDS = 5.0  # how long a failed resend waits for the first send's answer
PENDING_WAIT_SECONDS = 5.0  # how long a duplicate waits for a pending key's answer
POLL_SECONDS = 0.05
PENDING_DETAIL = ("This request was applied, but it ended before its answer was kept; it "
                  "was not applied again")


def record_table(metadata: MetaData) -> Table:
    """The table of applied keys, which every service keeps beside its event log."""
    table = Table(
        TABLE, metadata,
        Column("key", String(MAX_KEY_CHARS), primary_key=True),
        Column("method", String(200), nullable=False),
        Column("args_digest", String(64), nullable=False),
        Column("answer", Text, nullable=True),  # JSON {"result"} or {"error"}; NULL: pending
        Column("created", DateTime, nullable=False),
        Column("expires", DateTime, nullable=False),
    )
    Index("ix_idempotency_record_expires", table.c.expires)
    return table


def own_key_seconds(ttl: float, signature_max_age: float) -> float:
    """How long keys the gateway made itself are kept (`ttl`: the process's
    IDEMPOTENCY_KEY_TTL): no client repeats them, and a copy of the call older than the
    caller signature's maximum age (CALLER_SIGNATURE_MAX_AGE) is refused anyway."""
    return min(ttl, max(OWN_KEY_SECONDS, 2 * signature_max_age))


def _utcnow():
    from svckit.events import utcnow  # svckit.events imports this module for its table
    return utcnow()


def args_digest(args, kwargs) -> str:
    """What a call asked for, so one key cannot be reused for another request."""
    raw = kombu_json.dumps({"args": _comparable(list(args)), "kwargs": _comparable(kwargs)},
                           sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()


def _comparable(value):
    """`value` as the digest sees it: an upload passed by claim check (svckit.claimcheck:
    `{"key": "incoming/<random>", "name", "size", "sha256"}`) is the file it holds, not the
    random key the gateway stored it under, which differs for each send of one request (a
    repeat of a keyed upload whose first send was applied would otherwise never match its
    key: a 503 "could not be committed" to every repeat)."""
    from svckit.claimcheck import INCOMING  # (svckit.events imports this module)
    if isinstance(value, dict):
        key = value.get("key")
        if isinstance(key, str) and key.startswith(INCOMING) and "sha256" in value:
            return {k: _comparable(v) for k, v in value.items() if k != "key"}
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_comparable(v) for v in value]
    return value


class AlreadyApplied(ApiError):
    """The key is recorded: `answer` is what the first call answered (None: pending).
    Never reaches a caller: `finish` replaces it by that answer."""

    def __init__(self, answer: str | None):
        self.answer = answer
        super().__init__({"detail": "already applied"}, 409)


class KeyConflict(ApiError):
    """The key was used for another method or other arguments (crosses the wire as the
    ApiError it is: 422)."""
    status = 422

    def plain(self) -> ApiError:
        return ApiError(self.detail, self.status)


def encode_answer(result=None, exc: BaseException | None = None) -> str:
    if exc is None:
        return kombu_json.dumps({"result": result})
    assert isinstance(exc, ApiError)
    return kombu_json.dumps({"error": {"class": type(exc).__name__, "status": exc.status,
                                       "detail": exc.detail}})


def replay(answer: str | None):
    """The result of a recorded answer, or its error raised again."""
    if answer is None:
        raise ApiError({"detail": PENDING_DETAIL}, 409)
    decoded = kombu_json.loads(answer)
    if "error" not in decoded:
        return decoded["result"]
    error = decoded["error"]
    cls = next((c for c in ERROR_CLASSES if c.__name__ == error["class"]), ApiError)
    raise cls(error["detail"], error["status"])


class KeyedCall:
    """What one keyed RPC is: its key, method and argument digest; `resent`: the caller's
    resend or RabbitMQ's redelivery (the first send may still be running somewhere)."""

    def __init__(self, key: str, method: str, digest: str, ttl: float, resent: bool = False):
        self.key, self.method, self.digest, self.ttl = key, method, digest, ttl
        self.resent = resent

    def lookup(self, session: Connection, table: Table) -> AlreadyApplied | None:
        """The recorded answer of this key (raising KeyConflict when it was recorded for
        another call); None when the key is not recorded or has expired."""
        row = session.execute(select(table.c.method, table.c.args_digest, table.c.answer,
                                     table.c.expires).where(table.c.key == self.key)).first()
        if row is None or row.expires <= _utcnow():
            return None
        if row.method != self.method or row.args_digest != self.digest:
            raise KeyConflict({"detail": "This idempotency key was already used for a "
                                         "different request"})
        return AlreadyApplied(row.answer)

    def record(self, session: Connection, table: Table, answer: str | None):
        """Insert the key, or take over an expired record of it (not purged yet), in one
        statement; a record of it that has not expired raises IntegrityError, as the
        insert of a key that exists does."""
        now = _utcnow()
        values = {"key": self.key, "method": self.method, "args_digest": self.digest,
                  "answer": answer, "created": now,
                  "expires": now + timedelta(seconds=self.ttl), "now": now}
        if session.execute(_upsert(table, session.dialect.name), values).rowcount == 0:
            raise IntegrityError("insert into " + table.name, {"key": self.key},
                                 KeyError(f"idempotency key {self.key} is recorded"))


_UPSERTS: dict[tuple[Table, str], Any] = {}
_RECORDED_COLUMNS = ("method", "args_digest", "answer", "created", "expires")


def _upsert(table: Table, dialect: str):
    """KeyedCall.record's statement for `table` on `dialect`, built once (building it cost
    more than running it): parameters are the columns and `now`."""
    stmt = _UPSERTS.get((table, dialect))
    if stmt is None:
        insert = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
        stmt = _UPSERTS[(table, dialect)] = insert.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={k: insert.excluded[k] for k in _RECORDED_COLUMNS},
            where=table.c.expires <= bindparam("now"))
    return stmt


class KeyedUnits:
    """A keyed worker's units of work over the service's `Database` (same interface:
    `write()`, `read()`, `engine`, ...), deferring the last write unit's commit until
    `finish`. One per worker; used by that worker's greenthread only."""

    def __init__(self, db, table: Table, call: KeyedCall):
        self._db = db
        self.table = table
        self.call = call
        self._deferred: tuple[Any, Any] | None = None  # (connection, transaction)
        # whether the deferred unit was opened with `notify` (its commit wakes the relay;
        # a unit without, such as a blob claim, has no events to publish)
        self._deferred_notifies = False
        self._pending = False  # the key was committed as applied, answer pending
        self._wrote = False  # a write unit was opened
        self._done = False  # finished: behave as the plain database
        self._answered: str | None = None  # the answer committed by commit_answer()

    def __getattr__(self, name):
        return getattr(self._db, name)

    # ---------------------------------------------------------------- units of work

    @contextmanager
    def write(self, notify: bool = True):
        if self._done:
            with self._db.write(notify) as conn:
                yield conn
            return
        self._settle(with_key=False)
        self._wrote = True
        with self._db.outage_is_503():
            conn = self._db.write_connection()
            try:
                transaction = conn.begin()
                yield conn
            except BaseException:
                conn.close()  # rolls the transaction back
                raise
        if transaction.is_active:
            self._deferred = (conn, transaction)
            self._deferred_notifies = notify
        else:
            conn.close()

    @contextmanager
    def read(self):
        if not self._done:
            self._settle(with_key=True)
        with self._db.read() as conn:
            yield conn

    def _settle(self, with_key: bool):
        """Commit the deferred unit now (another unit opens): with the key recorded as
        applied, answer pending, if `with_key` and not yet recorded."""
        if self._deferred is None:
            return
        conn, transaction = self._deferred
        self._deferred = None
        try:
            with self._db.outage_is_503():
                if with_key and not self._pending:
                    self.call.record(conn, self.table, None)
                    self._pending = True
                transaction.commit()
        finally:
            conn.close()
        self._committed()

    def commit_answer(self, result):
        """Commit the deferred write unit now with `result` as the key's answer (see
        svckit.idempotency.commit_answer)."""
        if self._done or self._deferred is None:
            return
        conn, transaction = self._deferred
        self._deferred = None
        answer = encode_answer(result)
        try:
            with self._db.outage_is_503():
                self._store(conn, answer)
                transaction.commit()
        finally:
            conn.close()
        self._pending = True  # recorded: finish() stores the final answer over it
        self._answered = answer
        self._committed()

    def _committed(self):
        """After the deferred unit's commit: the relay is woken if that unit asked for it."""
        if self._deferred_notifies and self._db.on_commit is not None:
            self._db.on_commit()

    # ---------------------------------------------------------------- the answer

    def finish(self, result, exc: BaseException | None):
        """Store the answer with the deferred write and commit (before the reply). Returns
        `(result, exc)` to reply with: a duplicate that won meanwhile gives its answer; a
        failed commit becomes a 503."""
        self._done = True
        deferred, self._deferred = self._deferred, None
        if isinstance(exc, AlreadyApplied):
            if deferred is not None:
                deferred[0].close()
            return self._replayed(exc.answer)
        answer = None
        if exc is None:
            answer = encode_answer(result)
        elif isinstance(exc, ApiError):
            answer = encode_answer(exc=exc)
        if deferred is None and exc is not None and not self._pending:
            # nothing of this call was committed: it failed, unless a concurrent duplicate
            # applied it (and this one failed on that, say on a unique name)
            return self._winner_or(result, exc)
        try:
            if deferred is not None:
                conn, transaction = deferred
                try:
                    if answer is not None:
                        self._store(conn, answer)
                    transaction.commit()
                finally:
                    conn.close()
                self._committed()
            elif self._pending and answer is not None and answer != self._answered:
                self._store_alone(answer)
        except Exception as failure:
            try:
                won = self._recorded() if isinstance(failure, IntegrityError) else None
            except KeyConflict as conflict:  # the key was applied to another request
                return None, conflict.plain()
            if won is not None:  # a duplicate committed the key first: its answer is ours
                return self._replayed(won.answer)
            if isinstance(failure, ServiceUnavailable):  # already says what is unavailable
                return None, failure
            if not self._db.is_sqlite and is_outage(failure):
                return None, self._db.outages.unavailable(failure)
            log.exception("could not commit %s under key %s", self.call.method, self.call.key)
            return None, ServiceUnavailable({"detail": f"The write could not be committed: "
                                                       f"{type(failure).__name__}"})
        if answer is None and exc is not None and not self._pending:
            # an unexpected failure, its later unit (a cleanup after it: an upload's placed
            # file released) committed without the key: as above, a concurrent duplicate may
            # have applied the call (a redelivery ran beside the first delivery, whose
            # commit made this one fail on a unique upload)
            return self._winner_or(result, exc)
        return result, exc

    def _winner_or(self, result, exc: BaseException):
        """The answer of a concurrent duplicate that applied this failed call's key (a
        resend waits RESENT_WAIT_SECONDS for it), else `(result, exc)`."""
        try:
            won = self._recorded() if self._wrote or self.call.resent else None
            deadline = time.monotonic() + RESENT_WAIT_SECONDS
            while won is None and self.call.resent and time.monotonic() < deadline:
                time.sleep(0.05)  # a resend that failed may have met the first send's
                won = self._recorded()  # work
        except KeyConflict as conflict:
            return None, conflict.plain()
        return self._replayed(won.answer) if won is not None else (result, exc)

    def _store_alone(self, answer: str):
        with self._db.write(notify=False) as conn:
            self._store(conn, answer)

    def _store(self, conn: Connection, answer: str):
        if self._pending:
            conn.execute(update(self.table).where(self.table.c.key == self.call.key)
                         .values(answer=answer))
        else:
            self.call.record(conn, self.table, answer)

    def _recorded(self) -> AlreadyApplied | None:
        """The key's recorded answer (a pending one waited for: see await_answer);
        KeyConflict when it was recorded for another request."""
        def read():
            with self._db.read() as conn:
                return self.call.lookup(conn, self.table)
        try:
            return await_answer(read)
        except KeyConflict:
            raise
        except ApiError:
            return None

    @staticmethod
    def _replayed(answer: str | None):
        try:
            return replay(answer), None
        except ApiError as exc:
            return None, exc


def recorded_answer(db, table: Table, call: KeyedCall) -> AlreadyApplied | None:
    """The recorded answer of `call`'s key, read before its method runs; a pending key's
    answer is waited for (up to PENDING_WAIT_SECONDS: the call that holds it is still
    running, or died pending)."""
    def read():
        with db.read() as conn:
            return call.lookup(conn, table)
    return await_answer(read)


def await_answer(read: Callable[[], AlreadyApplied | None]) -> AlreadyApplied | None:
    """`read()` again while it finds the key pending (answer None), up to
    PENDING_WAIT_SECONDS; the last finding."""
    found = read()
    deadline = time.monotonic() + PENDING_WAIT_SECONDS
    while found is not None and found.answer is None and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        found = read()
    return found


def commit_answer(db, result) -> None:
    """Commit the write of this worker's keyed call now, with `result` as the key's answer
    (what the entrypoint will answer): for an entrypoint with work to do after its write
    whose answer does not depend on that work. On a worker without a key (`db` the plain
    Database) the write is committed already: nothing to do."""
    if isinstance(db, KeyedUnits):
        db.commit_answer(result)


def purge_expired(db, table: Table, batch: int = 1000) -> int:
    """Delete expired keys, a batch per transaction; returns how many."""
    total = 0
    while True:
        with db.write(notify=False) as conn:
            keys = list(conn.execute(select(table.c.key).where(
                table.c.expires <= _utcnow()).limit(batch)).scalars())
            if keys:
                conn.execute(delete(table).where(table.c.key.in_(keys)))
        total += len(keys)
        if len(keys) < batch:
            return total


def shadow_method(service, method_name: str, answer: Callable[[], Any]):
    """Make this worker's service instance answer `answer()` instead of running the method
    (nameko looks the method up on the instance after the workers' setup)."""
    setattr(service, method_name, lambda *args, **kwargs: answer())


# ---------------------------------------------------------------- the worker's lifecycle
# (svckit.service's Store and svckit.signed_rpc's SignedRpc call these)

REDELIVERED = "idempotency_redelivered"  # worker context data: RabbitMQ delivered it again
_UNITS = "_idempotency_units"  # the worker context's KeyedUnits


def units_for(worker_ctx, caller, db, table: Table, ttl: float, own_ttl: float):
    """What `self.db` is in this worker: KeyedUnits when its call carries a key, else `db`.
    Its key is kept `ttl` seconds, `own_ttl` for keys the gateway made itself."""
    units = getattr(worker_ctx, _UNITS, None)
    if units is not None:
        return units
    key = caller.idempotency_key
    if not key or len(key) > MAX_KEY_CHARS:
        return db
    resent = bool(caller.idempotency_retry or worker_ctx.data.get(REDELIVERED))
    call = KeyedCall(key, f"{worker_ctx.service_name}.{worker_ctx.entrypoint.method_name}",
                     args_digest(worker_ctx.args, worker_ctx.kwargs),
                     own_ttl if key.startswith(OWN_KEY_PREFIX) else ttl, resent)
    units = KeyedUnits(db, table, call)
    setattr(worker_ctx, _UNITS, units)
    if resent:
        _answer_recorded(worker_ctx, units)
    return units


def _answer_recorded(worker_ctx, units: KeyedUnits):
    """A call sent again whose key is recorded answers the recorded answer, unrun. A
    lookup that fails (the database is down: a 503) is the call's answer too: raised here,
    in the worker's setup, it would kill the whole container."""
    found: Exception | None
    try:
        found = recorded_answer(units._db, units.table, units.call)
    except KeyConflict as conflict:
        found = conflict.plain()
    except Exception as failure:
        if not isinstance(failure, ApiError):
            log.exception("could not look up the key of %s", units.call.method)
        found = failure
    if found is not None:
        error = found

        def answer():
            raise error
        shadow_method(worker_ctx.service, worker_ctx.entrypoint.method_name, answer)


def finish_worker(worker_ctx, result, exc_info):
    """Before the reply: commit the keyed worker's deferred write with its answer. Returns
    `(result, exc_info)` to reply with."""
    units = getattr(worker_ctx, _UNITS, None)
    if units is None:
        return result, exc_info
    result, exc = units.finish(result, exc_info[1] if exc_info else None)
    if exc is None:
        return result, None
    if exc_info and exc is exc_info[1]:
        return result, exc_info
    return result, (type(exc), exc, exc.__traceback__)
