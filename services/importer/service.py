"""The importer service: InvenTree's data import sessions (SEMANTICS §13) for models owned by
other services, which it reaches only through the import-target protocol.

A session's data file arrives by claim check (svckit.claimcheck: the gateway streams it
into the blob store under `incoming/`) and is kept at `import/<name>`. Creating a session
scans the whole file (streaming, in a child process with a memory and time budget:
services.importer.scanner) so that every problem is a 400 before anything is stored;
parsing the rows after `accept_fields` and creating accepted rows run in the background
(services.importer.processing), resumable after a crash.
"""
import os
import socket
import uuid

from svckit import idempotency
from svckit.background import Nudge, background, timer
from svckit.container_settings import Settings
from svckit.context import Caller
from svckit.service import Blobs, CallerProvider, ServiceBase, Store, rpc

from . import columnmappings, rows, sessions
from .metrics import ImporterMetrics
from .models import store
from .processing import Processor
from .settings import ImporterSettings
from .targets import Targets


class Service(ServiceBase):
    name = "importer"
    db = Store(store)
    caller: Caller = CallerProvider()
    blobs = Blobs()
    targets = Targets()
    wake = Nudge()
    metrics = ImporterMetrics()  # services.importer.metrics, on the operations port
    settings: ImporterSettings = Settings(ImporterSettings)
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    # ------------------------------------------------------------ models

    @rpc
    def importable_models(self) -> list:
        self.caller.require_login()
        return self.targets.importable()

    # ------------------------------------------------------------ sessions

    @rpc
    def list_sessions(self, params: dict) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return sessions.list_sessions(s, self.caller, params)

    @rpc
    def get_session(self, pk: int) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return sessions.get(s, self.caller, pk)

    @rpc
    def session_options(self, detail: bool = False) -> dict:
        return self._options("Data Import Session", sessions.FIELDS, detail)

    @rpc
    def create_session(self, data: dict, upload: dict | None = None) -> dict:
        """POST: scan the data file, map its columns to the target's fields (status 10)."""
        self.caller.require_login()
        # its own unit of work: the file is placed, scanned and the target service asked
        # for its fields before the transaction that records the session
        return sessions.create(self.db, self.blobs, self.targets, self.caller, data, upload,
                               self.settings)

    @rpc
    def update_session(self, pk: int, data: dict, partial: bool = False,
                       upload: dict | None = None) -> dict:
        """PUT/PATCH. Changed defaults or overrides of a session whose rows were read
        recompute every row that is not complete: here for up to
        IMPORT_ACCEPT_WAIT_SECONDS, then in the background."""
        self.caller.require_superuser()
        with self.db.write() as s:
            session, stale = sessions.update(s, self.caller, pk, data, partial, upload)
        if stale:  # after the commit: recomputing asks the target service to validate
            # (committed with its answer: a process killed while recomputing leaves it)
            idempotency.commit_answer(self.db, session)
            self._processor().recompute_now(pk, self.settings.IMPORT_ACCEPT_WAIT_SECONDS)
            self.wake()
        return session

    @rpc
    def delete_session(self, pk: int) -> None:
        self.caller.require_superuser()
        sessions.delete(self.db, self.blobs, self.caller, pk)  # files go after the commit

    @rpc
    def bulk_delete_sessions(self, body) -> int:
        self.caller.require_login()
        return sessions.bulk_delete(self.db, self.blobs, self.caller, body)

    @rpc
    def media_file(self, key: str) -> dict:
        """The data file behind `/media/import/<name>`, for the session's owner and staff."""
        self.caller.require_login()
        with self.db.read() as s:
            return sessions.media_file(s, self.caller, self.blobs, key)

    # ------------------------------------------------------------ the flow

    @rpc
    def accept_fields(self, pk: int) -> dict:
        self.caller.require_login()
        with self.db.write() as s:
            session = sessions.accept_fields(s, self.caller, pk)
        self.wake()  # after the commit: the background worker reads the file
        return session

    @rpc
    def accept_rows(self, pk: int, body) -> dict:
        """Accept valid rows for creation in the target service; answers once they are
        created, or after IMPORT_ACCEPT_WAIT_SECONDS while they are still being created."""
        self.caller.require_superuser()
        with self.db.write() as s:
            pks = rows.accept(s, self.caller, pk, body)
        answer = {"rows": pks}
        # committed with its answer before the wait: a process killed while it waits
        # leaves the key answered, so a resend or a repeat gets this answer
        idempotency.commit_answer(self.db, answer)
        self.wake()  # after the commit: the background worker creates them
        rows.await_created(self.db, pks, self.settings.IMPORT_ACCEPT_WAIT_SECONDS)
        return answer

    # ------------------------------------------------------------ column mappings

    @rpc
    def list_column_mappings(self, params: dict) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return columnmappings.list_mappings(s, self.caller, params)

    @rpc
    def get_column_mapping(self, pk: int) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return columnmappings.get_mapping(s, self.caller, pk)

    @rpc
    def column_mapping_options(self, detail: bool = False) -> dict:
        return self._options("Data Import Column Map", columnmappings.FIELDS, detail)

    @rpc
    def update_column_mapping(self, pk: int, data: dict, partial: bool = False) -> dict:
        """PUT/PATCH: only `column` is writable."""
        self.caller.require_superuser()
        with self.db.write() as s:
            return columnmappings.update(s, self.caller, pk, data, partial)

    # ------------------------------------------------------------ rows

    @rpc
    def list_rows(self, params: dict) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return rows.list_rows(s, self.caller, params)

    @rpc
    def get_row(self, pk: int) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return rows.get_row(s, self.caller, pk)

    @rpc
    def row_options(self, detail: bool = False) -> dict:
        return self._options("Data Import Row", rows.FIELDS, detail)

    @rpc
    def update_row(self, pk: int, data: dict, partial: bool = False) -> dict:
        """PUT/PATCH `data`: re-validated by the target unless the row is complete."""
        self.caller.require_superuser()
        # its own units of work: the target service is asked between reading and writing
        return rows.update(self.db, self.targets, self.caller, pk, data, partial)

    @rpc
    def delete_row(self, pk: int) -> None:
        self.caller.require_superuser()
        with self.db.write() as s:
            rows.delete(s, self.caller, pk)

    @rpc
    def bulk_delete_rows(self, body) -> int:
        self.caller.require_superuser()
        with self.db.write() as s:
            return rows.bulk_delete(s, self.caller, body)

    # ------------------------------------------------------------ background

    def _processor(self) -> Processor:
        return Processor(self.db, self.blobs, self.targets, self.owner, self.settings,
                         self.wake.stopping)

    @background(interval="IMPORT_POLL_SECONDS")
    def work(self) -> bool:
        return self._processor().run()

    @timer(interval="IMPORT_SWEEP_SECONDS")
    def sweep_sessions(self):
        self.sweep()

    def sweep(self) -> dict:
        """Delete old sessions, orphaned data files and abandoned uploads (sessions.sweep)."""
        return sessions.sweep(self.db, self.blobs, self.caller, self.settings)
