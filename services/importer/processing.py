"""The background side of an import, resumable after a crash at any point.

Parsing (status 20): the file is read from `next_index` on by a child process
(services.importer.scanner, within the scan's memory budget), in batches; each batch is
validated by the target service and then written as one `import_row.validated` event that
also moves `next_index`, so a restart continues after the last committed batch. The last
batch also moves the session to status 30.

Creating: rows accepted through the API are sent to the target's `import_create` in
batches of IMPORT_CREATE_BATCH_ROWS (smaller than the reading batches: a batch is one
transaction in the target, which holds the lock on the target's id counter of the model,
`EventStore.next_stream_ids`, until it commits, so a user's own create of that model waits
for it: with 1,000 rows that wait outlasted the gateway's RPC deadline on a loaded machine),
each row with the key `importer:<session>:<row>`; the target answers the pk it
recorded for a key it has seen, so a batch retried after a crash creates nothing twice.
The answers are one `import_row.completed` event per batch; when every row is complete the
session moves to status 40.

Recomputing: when a session's defaults or overrides change after its rows were read, every
row that is not complete gets its `data` computed again from its cells and validated again,
in batches (`import_row.recomputed`), before any more rows are created.

One process works on a session at a time (a lease in `import_job_lease`, renewed by every
batch's transaction, which fails if another process took it over). Correctness does not
rest on the lease: a batch is recorded only if `next_index` is still where it began, and
creation is idempotent by key; the lease only keeps processes from doing work twice. A
process that died holds its lease until it expires (IMPORT_LEASE_SECONDS).
"""
import logging
import time
from contextlib import closing

from sqlalchemy import delete, insert, select, update

from svckit.blobstore import BlobStore
from svckit.context import Caller
from svckit.events import utcnow

from . import datafile, scanner
from .events import (
    ROWS_COMPLETED,
    ROWS_RECOMPUTED,
    ROWS_VALIDATED,
    SESSION_FAILED,
    SESSION_PROCESSED,
)
from .localcopy import LocalCopy
from .metrics import count_rows
from .models import column_maps, job_leases, recomputes, rows, sessions, store
from .rows import extract, serializer_data
from .sessions import IMPORTING, MAPPING, PROCESSING, check_complete
from .settings import ImporterSettings

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Another process took over the session (this one stalled past its lease)."""


def import_key(session_id: int, row_id: int) -> str:
    return f"importer:{session_id}:{row_id}"


class Processor:
    def __init__(self, db, blobs: BlobStore, targets, owner: str, settings: ImporterSettings,
                 stopping=lambda: False):
        self.db = db
        self.blobs = blobs
        self.targets = targets
        self.owner = owner
        self.settings = settings
        self.stopping = stopping
        self.batch_size = settings.IMPORT_BATCH_ROWS
        self.create_batch_size = settings.IMPORT_CREATE_BATCH_ROWS
        self.lease = settings.lease()

    # ------------------------------------------------------------ scheduling

    def pending(self) -> list[int]:
        """Sessions with work: being parsed, with rows to recompute, or with accepted rows
        not yet created."""
        with self.db.read() as s:
            parsing = s.execute(select(sessions.c.id).where(
                sessions.c.status == IMPORTING)).scalars().all()
            stale = s.execute(select(recomputes.c.session_id)).scalars().all()
            creating = s.execute(select(rows.c.session_id).where(rows.c.accepted.is_(True))
                                 .distinct()).scalars().all()
        return sorted(set(parsing) | set(stale) | set(creating))

    def run(self) -> bool:
        """Work on every pending session this process can lease; True if there may be more."""
        worked = False
        for session_id in self.pending():
            if self.stopping():
                return False
            if not self._take_lease(session_id):
                continue
            try:
                worked |= self.process(session_id)
            except LeaseLost:
                log.warning("import session %s: lease lost, leaving it to its new owner",
                            session_id)
            finally:
                self._release_lease(session_id)
        return worked and not self.stopping()

    def process(self, session_id: int) -> bool:
        """Parse and/or create for one session; True if it did anything."""
        with self.db.read() as s:
            status = s.execute(select(sessions.c.status).where(
                sessions.c.id == session_id)).scalar()
        if status is None:
            return False
        did = False
        if status == IMPORTING:
            did = self.parse(session_id)
            with self.db.read() as s:
                status = s.execute(select(sessions.c.status).where(
                    sessions.c.id == session_id)).scalar()
            if status == IMPORTING:  # stopped half way: recompute once every row is read
                return did
        did = self.recompute(session_id) or did
        return self.create(session_id) or did

    # ------------------------------------------------------------ leases

    def _take_lease(self, session_id: int) -> bool:
        now = utcnow()
        with self.db.write(notify=False) as s:
            lease = s.execute(select(job_leases).where(
                job_leases.c.session_id == session_id)).mappings().first()
            until = now + self.lease
            if lease is None:
                s.execute(insert(job_leases).values(session_id=session_id, owner=self.owner,
                                                    until=until))
                return True
            if lease["owner"] != self.owner and lease["until"] > now:
                return False
            s.execute(update(job_leases).where(job_leases.c.session_id == session_id)
                      .values(owner=self.owner, until=until))
            return True

    def _hold_lease(self, s, session_id: int):
        """Inside a batch's transaction: still ours? Then extend it."""
        renewed = s.execute(update(job_leases).where(
            job_leases.c.session_id == session_id, job_leases.c.owner == self.owner)
            .values(until=utcnow() + self.lease)).rowcount
        if not renewed:
            raise LeaseLost()

    def _release_lease(self, session_id: int):
        with self.db.write(notify=False) as s:
            s.execute(delete(job_leases).where(job_leases.c.session_id == session_id,
                                               job_leases.c.owner == self.owner))

    # ------------------------------------------------------------ parsing

    def parse(self, session_id: int) -> bool:
        with self.db.read() as s:
            session = dict(s.execute(select(sessions).where(
                sessions.c.id == session_id)).mappings().one())
            mapping = _mapping(s, session_id)
        service = self.targets.service_for(session["model_type"])
        rename = dict(zip(session["headers"], session["columns"]))
        batch: list[tuple[int, dict]] = []
        start = session["next_index"]
        with LocalCopy(self.blobs, session["data_file"], self.settings.data_dir()) as path, \
                closing(scanner.rows(path, session["file_format"], session["headers"], start,
                                     self.settings.limits(), self.settings.budget())) as found:
            try:
                for index, cells in found:
                    batch.append((index, {rename.get(k, k): v for k, v in cells.items()}))
                    if len(batch) >= self.batch_size:
                        start = self._store(session, mapping, service, batch, start, index + 1)
                        batch = []
                        if self.stopping():
                            return True
            except datafile.DataFileError as exc:  # changed since scanned, or over budget
                self._fail(session_id, str(exc))
                return True
        self._store(session, mapping, service, batch, start, None)
        return True

    def _store(self, session: dict, mapping: dict, service: str, batch, start: int,
               next_index: int | None) -> int:
        """Validate a batch in the target and record it; `next_index` None: the last one.
        Returns where the next batch starts."""
        fields = session["available_fields"]
        data = [extract(cells, mapping, fields, session["field_defaults"] or {},
                        session["field_overrides"] or {}) for _, cells in batch]
        errors = {}
        if batch:
            answer = self.targets.call(service, "import_validate",
                                       model_type=session["model_type"],
                                       rows=[{"row": index, "data": serializer_data(session, d)}
                                             for (index, _), d in zip(batch, data)])
            errors = {item["row"]: item["errors"] for item in answer}
        end = next_index if next_index is not None else (batch[-1][0] + 1 if batch else start)
        with self.db.write() as s:
            current, _ = store.load_for_update(s, "import_session", session["id"], _progress)
            self._hold_lease(s, session["id"])
            if current is None or current.status != IMPORTING or current.next_index != start:
                raise LeaseLost()  # someone else moved it on (or the fields were re-accepted)
            ids = store.next_stream_ids(s, "import_row", len(batch)) if batch else []
            payload_rows = [{"id": pk, "row_index": index, "row_data": cells, "data": d,
                             "errors": errors.get(index) or None,
                             "valid": not errors.get(index)}
                            for pk, (index, cells), d in zip(ids, batch, data)]
            store.record(s, "import_session", session["id"], ROWS_VALIDATED,
                         {"rows": payload_rows, "next_index": end})
            if next_index is None:
                store.record(s, "import_session", session["id"], SESSION_PROCESSED,
                             {"status": PROCESSING})
        invalid = sum(1 for index, _ in batch if errors.get(index))
        count_rows("parsed", len(batch))
        count_rows("valid", len(batch) - invalid)
        count_rows("invalid", invalid)
        return end

    def _fail(self, session_id: int, message: str):
        with self.db.write() as s:
            store.lock_stream(s, "import_session", session_id)
            self._hold_lease(s, session_id)
            store.record(s, "import_session", session_id, SESSION_FAILED,
                         {"status": MAPPING, "error": message[:1000]})

    # ------------------------------------------------------------ recomputing

    def recompute(self, session_id: int, until: float | None = None) -> bool:
        """Compute and validate again the `data` of every row that is not complete, from its
        cells and the session's current defaults and overrides (stopping at monotonic time
        `until`, if given); True if it did anything."""
        did = False
        while not self.stopping() and (until is None or time.monotonic() < until):
            with self.db.read() as s:
                marker = s.execute(select(recomputes).where(
                    recomputes.c.session_id == session_id)).mappings().first()
                if marker is None:
                    return did
                marker = dict(marker)
                session = dict(s.execute(select(sessions).where(
                    sessions.c.id == session_id)).mappings().one())
                mapping = _mapping(s, session_id)
                batch = s.execute(select(rows.c.id, rows.c.row_data).where(
                    rows.c.session_id == session_id, rows.c.id >= marker["next_row"],
                    rows.c.complete.is_(False)).order_by(rows.c.id)
                    .limit(self.batch_size)).all()
            did = True
            data = [extract(r.row_data, mapping, session["available_fields"],
                            session["field_defaults"] or {}, session["field_overrides"] or {})
                    for r in batch]
            errors = {}
            if batch:
                answer = self.targets.call(
                    self.targets.service_for(session["model_type"]), "import_validate",
                    model_type=session["model_type"],
                    rows=[{"row": r.id, "data": serializer_data(session, d)}
                          for r, d in zip(batch, data)])
                errors = {item["row"]: item["errors"] for item in answer}
            with self.db.write() as s:
                current, _ = store.load_for_update(s, "import_session", session_id, _marker)
                self._hold_lease(s, session_id)
                if current is None or dict(current) != marker:
                    continue  # changed again meanwhile (or re-read): start from its state
                store.record(s, "import_session", session_id, ROWS_RECOMPUTED, {
                    "rows": [{"id": r.id, "data": d, "errors": errors.get(r.id) or None,
                              "valid": not errors.get(r.id)} for r, d in zip(batch, data)],
                    "next_row": batch[-1].id + 1 if len(batch) == self.batch_size else None})
        return did

    def recompute_for(self, session_id: int, seconds: float) -> bool:
        """recompute() for up to `seconds`, if no other process holds the session."""
        if not self._take_lease(session_id):
            return False
        try:
            return self.recompute(session_id, until=time.monotonic() + seconds)
        except LeaseLost:
            return False
        finally:
            self._release_lease(session_id)

    def recompute_now(self, session_id: int, seconds: float) -> None:
        """`recompute_for` right after a change, logging a failure: the background worker
        does the rest (and all of it when busy with the session, or when this attempt
        fails: the change itself is committed)."""
        try:
            self.recompute_for(session_id, seconds)
        except Exception:
            log.warning("import session %s: rows left to recompute in the background",
                        session_id, exc_info=True)

    def _stale(self, session_id: int) -> bool:
        with self.db.read() as s:
            return s.execute(select(recomputes.c.session_id).where(
                recomputes.c.session_id == session_id)).first() is not None

    # ------------------------------------------------------------ creating

    def create(self, session_id: int) -> bool:
        """Create accepted rows in the target, batch by batch; rows waiting to be
        recomputed are recomputed first."""
        did = False
        while not self.stopping() and not self._stale(session_id):
            with self.db.read() as s:
                session = dict(s.execute(select(sessions).where(
                    sessions.c.id == session_id)).mappings().one())
                pending = s.execute(select(rows.c.id, rows.c.data).where(
                    rows.c.session_id == session_id, rows.c.accepted.is_(True))
                    .order_by(rows.c.id).limit(self.create_batch_size)).all()
            if not pending:
                return did
            did = True
            caller = Caller(**(session["accepted_by"] or {}))
            answer = self.targets.call(
                self.targets.service_for(session["model_type"]), "import_create",
                caller=caller, model_type=session["model_type"],
                rows=[{"row": pk, "data": serializer_data(session, data),
                       "key": import_key(session_id, pk)} for pk, data in pending])
            done = [{"id": a["row"], "pk": a["pk"]} for a in answer if not a["errors"]]
            failed = [{"id": a["row"], "errors": a["errors"]} for a in answer if a["errors"]]
            with self.db.write() as s:
                store.lock_stream(s, "import_session", session_id)
                self._hold_lease(s, session_id)
                store.record(s, "import_session", session_id, ROWS_COMPLETED,
                             {"rows": done, "failed": failed}, caller)
                check_complete(s, session_id, caller)
            count_rows("created", len(done))
            count_rows("failed", len(failed))
        return did


def _progress(s, session_id: int):
    """(next_index, status) of a session being read, or None once it is deleted."""
    return s.execute(select(sessions.c.next_index, sessions.c.status).where(
        sessions.c.id == session_id)).first()


def _marker(s, session_id: int):
    """The session's recompute marker, or None when there is nothing to recompute."""
    return s.execute(select(recomputes).where(
        recomputes.c.session_id == session_id)).mappings().first()


def _mapping(s, session_id: int) -> dict:
    """field -> mapped column ("" when none) of every column mapping of the session."""
    return {m.field: m.column for m in s.execute(select(column_maps).where(
        column_maps.c.session_id == session_id).order_by(column_maps.c.id))}
