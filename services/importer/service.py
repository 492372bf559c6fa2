"""The importer service: InvenTree's data import sessions (SEMANTICS §13) for models owned by
other services, which it reaches only through the import-target protocol.

A session's data file arrives by claim check (the gateway streams it into the blob store
under `incoming/`) and is kept at `import/<name>`. Creating a session scans the whole file
(streaming, in a child process with a memory and time budget: services.importer.scanner)
so that every problem is a 400 before anything is stored; parsing the rows
after `accept_fields` and creating accepted rows run in the background
(services.importer.processing), resumable after a crash.
"""
import logging
import mimetypes
import os
import re
import socket
import time
import uuid
from datetime import timedelta

import eventlet
from nameko.timer import timer
from sqlalchemy import select

from svckit import config
from svckit.background import Nudge, background
from svckit.bulk import bulk_condition, matching_ids
from svckit.context import Caller
from svckit.errors import NotFound, PermissionDenied, ValidationFailed
from svckit.events import utcnow
from svckit.fields import INT32_MAX
from svckit.listing import get_by_id, run_list
from svckit.service import Blobs, CallerProvider, ServiceBase, Store, rpc

from . import datafile, scanner, sessions as rules
from .models import column_maps, rows, sessions, store
from .processing import LocalCopy, Processor, check_complete
from .targets import Targets

log = logging.getLogger(__name__)

INCOMING = "incoming/"
IMPORT_PREFIX = "import/"
SESSION_BULK_FILTERS = {"model_type": sessions.c.model_type, "status": sessions.c.status,
                        "user": sessions.c.user_id}
ROW_BULK_FILTERS = {"session": rows.c.session_id, "valid": rows.c.valid,
                    "complete": rows.c.complete}


def _safe_name(name: str) -> str:
    base = re.split(r"[\\/]", str(name or ""))[-1].strip()
    stem, dot, ext = base.rpartition(".")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem if dot else base).strip("._") or "data"
    return f"{stem[:80]}.{ext.lower()}" if dot else stem[:80]


class Service(ServiceBase):
    name = "importer"
    db = Store(store)
    caller: Caller = CallerProvider()
    blobs = Blobs()
    targets = Targets()
    wake = Nudge()
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    accept_wait = config.setting("IMPORT_ACCEPT_WAIT_SECONDS", 5, float)

    def _superuser(self):
        """Writes that InvenTree 264 leaves to Django model permissions: superusers only."""
        self._login()
        if not self.caller.is_superuser:
            raise PermissionDenied()

    # ------------------------------------------------------------ ownership

    def _sees_all(self) -> bool:
        """Staff see every session; other users only their own (InvenTree 264 had no
        ownership check at all)."""
        return self.caller.is_staff or self.caller.is_superuser

    def _mine(self, stmt, session_column):
        """`stmt` narrowed to rows of sessions the caller may see."""
        if self._sees_all():
            return stmt
        if session_column is sessions.c.id:
            return stmt.where(sessions.c.user_id == self.caller.user_id)
        return stmt.where(session_column.in_(
            select(sessions.c.id).where(sessions.c.user_id == self.caller.user_id)))

    def _visible(self, s, session_pk: int) -> dict:
        """The session, or 404 (as if it did not exist) when it is not the caller's."""
        session = rules.get_session(s, session_pk)
        if not self._sees_all() and session["user_id"] != self.caller.user_id:
            raise NotFound()
        return session

    # ------------------------------------------------------------ models

    @rpc
    def importable_models(self) -> list:
        self._login()
        return [{"serializer": m["serializer"], "model_type": m["model_type"],
                 "api_url": m["api_url"]} for m in self.targets.models().values()]

    # ------------------------------------------------------------ sessions

    def _render_sessions(self, s, found: list) -> list:
        maps = rules.mappings_of(s, [r["id"] for r in found])
        return [rules.render_session(r, maps.get(r["id"], [])) for r in found]

    @rpc
    def list_sessions(self, params: dict) -> dict:
        self._login()
        with self.db.read() as s:
            answer = run_list(s, self._mine(rules.session_filters(params), sessions.c.id),
                              params,
                              search=[sessions.c.model_type], ordering=rules.SESSION_ORDERING,
                              default_order=[sessions.c.id])
            answer["results"] = self._render_sessions(s, answer["results"])
        return answer

    @rpc
    def get_session(self, pk: int) -> dict:
        self._login()
        with self.db.read() as s:
            return self._render_sessions(s, [self._visible(s, pk)])[0]

    @rpc
    def session_options(self, detail: bool = False) -> dict:
        return self._options("Data Import Session", rules.SESSION_FIELDS, detail)

    @rpc
    def create_session(self, data: dict, upload: dict | None = None) -> dict:
        """POST: scan the data file, map its columns to the target's fields (status 10)."""
        self._login()
        model_type = str(data.get("model_type") or "").strip().lower()
        service = self.targets.service_for(data.get("model_type"))
        if not upload:
            raise ValidationFailed({"data_file": ["No file was submitted."]})
        try:
            fmt = datafile.file_format(upload.get("name", ""))
        except datafile.DataFileError as exc:
            raise ValidationFailed({"data_file": [str(exc)]})
        extra = rules.clean_json_fields(data, partial=False)
        key = self._place(upload)
        try:
            with LocalCopy(self.blobs, key) as path:
                scan = scanner.scan(path, fmt, datafile.Limits.from_settings(),
                                    scanner.Budget.from_settings())
            fields = self.targets.call(service, "import_fields", model_type=model_type)
            mappings = rules.auto_map(fields, scan.columns, extra["field_overrides"] or {})
            with self.db.write() as s:
                pk = store.next_stream_id(s, "import_session")
                ids = store.next_stream_ids(s, "import_column_map", len(mappings))
                payload = {"data_file": key, "file_format": fmt, "model_type": model_type,
                           "status": rules.MAPPING, "user_id": self.caller.user_id,
                           "user_detail": self.caller.brief, **extra,
                           "available_fields": fields, "headers": scan.headers,
                           "columns": scan.columns, "file_rows": scan.row_count,
                           "column_mappings": [dict(m, id=i) for i, m in zip(ids, mappings)]}
                store.record(s, "import_session", pk, "import_session.created", payload,
                             self.caller)
        except datafile.DataFileError as exc:
            self.blobs.delete(key)
            raise ValidationFailed({"data_file": [str(exc)]})
        except BaseException:
            self.blobs.delete(key)
            raise
        self.blobs.delete(upload["key"])
        return self.get_session(pk)

    def _place(self, upload: dict) -> str:
        """Copy the incoming blob to `import/<name>` (a free name: never overwrites)."""
        source = str(upload.get("key") or "")
        if not source.startswith(INCOMING) or "/" in source[len(INCOMING):]:
            raise ValidationFailed({"data_file": ["Invalid upload reference"]})
        name = _safe_name(upload.get("name", ""))
        stem, dot, ext = name.rpartition(".")
        for attempt in range(20):
            key = IMPORT_PREFIX + (name if attempt == 0 else
                                   f"{stem}_{uuid.uuid4().hex[:7]}{dot}{ext}")
            try:
                if self.blobs.copy(source, key):
                    return key
            except FileNotFoundError:
                raise ValidationFailed({"data_file": ["The uploaded file is gone; send it again"]})
        raise ValidationFailed({"data_file": ["No free file name for the data file"]})

    @rpc
    def update_session(self, pk: int, data: dict, partial: bool = False,
                       upload: dict | None = None) -> dict:
        """PUT/PATCH: the defaults, overrides and filters (mappings are not recomputed, as
        InvenTree; the file and model type stay those of the session). Changed defaults or
        overrides of a session whose rows were read recompute every row that is not
        complete: here for up to IMPORT_ACCEPT_WAIT_SECONDS, then in the background."""
        self._superuser()
        if upload:
            raise ValidationFailed({"data_file": [
                "The data file of a session cannot be replaced; start a new session"]})
        cleaned = rules.clean_json_fields(data, partial)
        with self.db.write() as s:
            current, version = store.load_for_update(s, "import_session", pk,
                                                     rules.get_session)
            changed = store.record_changes(s, "import_session", pk, "import_session.updated",
                                           current, cleaned, self.caller, version + 1)
            stale = (current["status"] >= rules.IMPORTING
                     and {"field_defaults", "field_overrides"} & changed.keys())
            if stale:
                store.record(s, "import_session", pk, "import_row.stale", {}, self.caller)
        if stale:
            self._recompute_now(pk)
        return self.get_session(pk)

    def _recompute_now(self, pk: int):
        """Recompute the session's rows for a few seconds; the background worker does the
        rest (and all of it when busy with the session, or when this attempt fails: the
        change itself is committed)."""
        try:
            self._processor().recompute_for(pk, self.accept_wait)
        except Exception:
            log.warning("import session %s: rows left to recompute in the background", pk,
                        exc_info=True)
        self.wake()

    @rpc
    def delete_session(self, pk: int) -> None:
        self._superuser()
        self._delete_sessions([pk], must_exist=True)

    @rpc
    def bulk_delete_sessions(self, body) -> int:
        """Any authenticated user (InvenTree 264's list view), but only their own sessions
        unless staff; filters on model_type, status and user only."""
        self._login()
        condition = bulk_condition(body, sessions.c.id, SESSION_BULK_FILTERS)
        if not self._sees_all():
            condition = condition & (sessions.c.user_id == self.caller.user_id)
        with self.db.read() as s:
            ids = matching_ids(s, sessions, condition)
        return self._delete_sessions(ids)

    def _delete_sessions(self, ids: list[int], must_exist=False) -> int:
        with self.db.write() as s:
            found = store.load_all_for_update(s, "import_session", ids, lambda s, chosen: s.execute(
                select(sessions.c.id, sessions.c.data_file).where(sessions.c.id.in_(chosen))
                .order_by(sessions.c.id)).all())
            if must_exist and not found:
                raise NotFound()
            for pk, _ in found:
                store.record(s, "import_session", pk, "import_session.deleted", {},
                             self.caller)
        files = [key for _, key in found]
        for key in files:
            self.blobs.delete(key)
        return len(files)

    @rpc
    def media_file(self, key: str) -> dict:
        """The data file behind `/media/import/<name>`, for the session's owner and staff."""
        self._login()
        with self.db.read() as s:
            known = s.execute(self._mine(select(sessions.c.id).where(
                sessions.c.data_file == key), sessions.c.id)).first()
        size = self.blobs.size(key) if known else None
        if size is None:
            raise NotFound()
        name = key.rsplit("/", 1)[-1]
        return {"key": key, "size": size, "sha256": None, "filename": name,
                "content_type": mimetypes.guess_type(name)[0] or "application/octet-stream"}

    # ------------------------------------------------------------ the flow

    @rpc
    def accept_fields(self, pk: int) -> dict:
        """Check that every required field is covered, then parse the file in the
        background (status 20; the session shows 30 once every row is validated). A session
        with created rows is refused: reading its file again would create them twice."""
        self._login()
        with self.db.write() as s:
            session, version = store.load_for_update(s, "import_session", pk, self._visible)
            rules.check_not_imported(session)
            mappings = rules.mappings_of(s, [pk]).get(pk, [])
            missing = rules.unmapped_required(session, mappings)
            if missing:
                raise ValidationFailed({"error": ["Some required fields have not been mapped"],
                                        "fields": missing})
            store.record(s, "import_session", pk, "import_session.fields_accepted",
                         {"status": rules.IMPORTING}, self.caller, version + 1)
        self.wake()
        return self.get_session(pk)

    @rpc
    def accept_rows(self, pk: int, body) -> dict:
        """Accept valid rows for creation in the target service; answers once they are
        created, or after IMPORT_ACCEPT_WAIT_SECONDS while they are still being created."""
        self._superuser()
        pks = _row_pks(body)
        def rows_by_pk(s, _session_pk) -> dict:
            found = {}
            for start in range(0, len(pks), 500):
                chunk = pks[start:start + 500]
                for r in s.execute(select(rows.c.id, rows.c.session_id, rows.c.valid,
                                          rows.c.complete, rows.c.accepted)
                                   .where(rows.c.id.in_(chunk))):
                    found[r.id] = r
            return found

        with self.db.write() as s:
            found, version = store.load_for_update(s, "import_session", pk, rows_by_pk)
            fresh = []
            for row_pk in pks:
                r = found.get(row_pk)
                if r is None:
                    raise ValidationFailed({"rows": [
                        f'Invalid pk "{row_pk}" - object does not exist.']})
                if r.session_id != pk:
                    raise ValidationFailed({"rows": ["Row does not belong to this session"]})
                if not r.valid:
                    raise ValidationFailed({"rows": ["Row contains invalid data"]})
                if r.complete:
                    raise ValidationFailed({"rows": ["Row has already been completed"]})
                if not r.accepted:
                    fresh.append(row_pk)
            if fresh:
                who = self.caller.model_dump(mode="json", exclude={"request_id"})
                store.record(s, "import_session", pk, "import_row.accepted",
                             {"ids": fresh, "accepted_by": who}, self.caller, version + 1)
        self.wake()
        self._await_rows(pks)
        return {"rows": pks}

    def _await_rows(self, pks: list[int]):
        """Until the rows are created (or failed). Accepted rows are created in pk order,
        so once the highest of them is done, all of them are."""
        last = max(pks)
        deadline = time.monotonic() + self.accept_wait
        while time.monotonic() < deadline:
            with self.db.read() as s:
                if not s.execute(select(rows.c.accepted).where(rows.c.id == last)).scalar():
                    return
            eventlet.sleep(0.1)

    # ------------------------------------------------------------ column mappings

    @rpc
    def list_column_mappings(self, params: dict) -> dict:
        self._login()
        with self.db.read() as s:
            return run_list(s, self._mine(rules.mapping_filters(params),
                                          column_maps.c.session_id), params,
                            search=[column_maps.c.field, column_maps.c.column],
                            ordering=rules.MAPPING_ORDERING, default_order=[column_maps.c.id],
                            render=rules.render_mapping)

    @rpc
    def get_column_mapping(self, pk: int) -> dict:
        self._login()
        with self.db.read() as s:
            mapping = get_by_id(s, column_maps, pk)
            self._visible(s, mapping["session_id"])
            return rules.render_mapping(mapping)

    @rpc
    def column_mapping_options(self, detail: bool = False) -> dict:
        return self._options("Data Import Column Map", rules.MAPPING_FIELDS, detail)

    @rpc
    def update_column_mapping(self, pk: int, data: dict, partial: bool = False) -> dict:
        """PUT/PATCH: only `column` is writable."""
        self._superuser()
        if "column" not in data:
            if not partial:
                raise ValidationFailed({"column": ["This field is required."]})
            return self.get_column_mapping(pk)
        with self.db.write() as s:
            sid = get_by_id(s, column_maps, pk)["session_id"]  # a mapping never moves

            def load(s, sid):
                return rules.get_session(s, sid), get_by_id(s, column_maps, pk)

            (session, mapping), version = store.load_for_update(s, "import_session", sid, load)
            others = [m["column"] for m in rules.mappings_of(s, [sid]).get(sid, [])
                      if m["pk"] != pk and m["column"]]
            column = rules.check_mapping_column(session, mapping, data["column"], others)
            if column != mapping["column"]:
                store.record(s, "import_session", sid, "column_mapping.updated",
                             {"id": pk, "column": column}, self.caller, version + 1)
        return rules.render_mapping({**mapping, "column": column})

    # ------------------------------------------------------------ rows

    @rpc
    def list_rows(self, params: dict) -> dict:
        self._login()
        with self.db.read() as s:
            return run_list(s, self._mine(rules.row_filters(params), rows.c.session_id),
                            params, search=[],
                            ordering=rules.ROW_ORDERING, default_order=[rows.c.row_index],
                            render=rules.render_row)

    @rpc
    def get_row(self, pk: int) -> dict:
        self._login()
        with self.db.read() as s:
            row = get_by_id(s, rows, pk)
            self._visible(s, row["session_id"])
            return rules.render_row(row)

    @rpc
    def row_options(self, detail: bool = False) -> dict:
        return self._options("Data Import Row", rules.ROW_FIELDS, detail)

    @rpc
    def update_row(self, pk: int, data: dict, partial: bool = False) -> dict:
        """PUT/PATCH `data`: re-validated by the target unless the row is complete."""
        self._superuser()
        with self.db.read() as s:
            row = get_by_id(s, rows, pk)
            session = rules.get_session(s, row["session_id"])
        if "data" not in data:
            if partial:
                return self.get_row(pk)
            raise ValidationFailed({"data": ["This field is required."]})
        new = data["data"]
        if isinstance(new, str):
            new = rules.json_object({"data": new}, "data")
        if not isinstance(new, dict):
            raise ValidationFailed({"data": ["Value must be a valid dictionary object"]})
        errors, valid = row["errors"], row["valid"]
        if not row["complete"]:
            answer = self.targets.call(self.targets.service_for(session["model_type"]),
                                       "import_validate", model_type=session["model_type"],
                                       rows=[{"row": pk, "data": rules.serializer_data(
                                           session, new)}])
            errors = answer[0]["errors"] or None
            valid = not errors
        with self.db.write() as s:
            now, version = store.load_for_update(s, "import_session", row["session_id"],
                                                 lambda s, _: get_by_id(s, rows, pk))
            if now["complete"] and not row["complete"]:  # completed meanwhile: not validated
                errors, valid = now["errors"], now["valid"]
            store.record(s, "import_session", row["session_id"], "import_row.updated",
                         {"id": pk, "data": new, "errors": errors, "valid": valid},
                         self.caller, version + 1)
            return rules.render_row(get_by_id(s, rows, pk))

    @rpc
    def delete_row(self, pk: int) -> None:
        self._superuser()
        self._delete_rows(rows.c.id == pk, must_exist=True)

    @rpc
    def bulk_delete_rows(self, body) -> int:
        self._superuser()
        return self._delete_rows(bulk_condition(body, rows.c.id, ROW_BULK_FILTERS))

    def _delete_rows(self, condition, must_exist=False) -> int:
        with self.db.write() as s:
            sids = s.execute(select(rows.c.session_id).where(condition).distinct()).scalars()
            found = store.load_all_for_update(s, "import_session", sids, lambda s, chosen: s.execute(
                select(rows.c.id, rows.c.session_id).where(condition, rows.c.session_id.in_(chosen))
                .order_by(rows.c.id)).all())
            if not found:
                if must_exist:
                    raise NotFound()
                raise ValidationFailed({"non_field_errors": "No items found to delete"})
            by_session: dict[int, list[int]] = {}
            for row_pk, sid in found:
                by_session.setdefault(sid, []).append(row_pk)
            for sid, ids in by_session.items():
                store.record(s, "import_session", sid, "import_row.deleted", {"ids": ids},
                             self.caller)
                check_complete(s, sid, self.caller)
        return len(found)

    # ------------------------------------------------------------ background

    def _processor(self) -> Processor:
        return Processor(self.db, self.blobs, self.targets, self.owner, self.wake.stopping)

    @background(interval=config.setting("IMPORT_POLL_SECONDS", 2, float))
    def work(self) -> bool:
        return self._processor().run()

    @timer(interval=config.setting("IMPORT_SWEEP_SECONDS", 3600, int))
    def sweep_sessions(self):
        self.sweep()

    def sweep(self) -> dict:
        """Delete sessions older than IMPORT_SESSION_DAYS (InvenTree's daily task), data
        files no session refers to (left by a crash between placing and recording), and
        uploads the gateway left under `incoming/` (INCOMING_BLOB_SECONDS, as the
        attachments service, which shares the store, does too)."""
        days = config.setting("IMPORT_SESSION_DAYS", 5, int)
        with self.db.read() as s:
            old = s.execute(select(sessions.c.id).where(
                sessions.c.timestamp < utcnow() - timedelta(days=days))).scalars().all()
            used = set(s.execute(select(sessions.c.data_file)).scalars())
        deleted = self._delete_sessions(list(old)) if old else 0
        cutoff = utcnow() - timedelta(hours=1)
        orphans = [k for k, modified in self.blobs.list(IMPORT_PREFIX)
                   if k not in used and modified < cutoff]
        incoming_cutoff = utcnow() - timedelta(
            seconds=config.setting("INCOMING_BLOB_SECONDS", 3600, int))
        stale = [k for k, modified in self.blobs.list(INCOMING) if modified < incoming_cutoff]
        for key in orphans + stale:
            self.blobs.delete(key)
        return {"sessions": deleted, "files": len(orphans), "incoming": len(stale)}


def _row_pks(body) -> list[int]:
    raw = body.get("rows") if isinstance(body, dict) else None
    if raw is None:
        raise ValidationFailed({"rows": ["This field is required."]})
    if not isinstance(raw, list):
        raise ValidationFailed({"rows": [
            f'Expected a list of items but got type "{type(raw).__name__}".']})
    if not raw:
        raise ValidationFailed({"rows": ["No rows provided"]})
    pks = []
    for item in raw:
        text = str(item).strip()
        if isinstance(item, (bool, float)) or not text.isascii() or not text.isdigit():
            raise ValidationFailed({"rows": [
                f"Incorrect type. Expected pk value, received {type(item).__name__}."]})
        if len(text) > 10 or int(text) > INT32_MAX:  # beyond the id column: no such row
            raise ValidationFailed({"rows": [f'Invalid pk "{text[:40]}" - object does not exist.']})
        pks.append(int(text))
    return list(dict.fromkeys(pks))
