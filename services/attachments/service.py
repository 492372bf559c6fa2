"""The attachments service: files and links attached to InvenTree objects (SEMANTICS §3),
their metadata, and the images uploaded from notes editors (§14).

Files never travel over RPC. The gateway streams an upload into the blob store under
`incoming/` and passes its key, name, size and digest (`upload`); the service validates,
places the blob at `attachments/<model_type>/<model_id>/<name>` and records the event. A
rejected request leaves no file: the gateway removes its incoming blob on any error, and
the sweeper removes whatever a crash left behind (services.attachments.placement).
"""
import logging
from datetime import date

from nameko.timer import timer
from sqlalchemy import select, true

from svckit import config
from svckit.bulk import bulk_condition, matching_ids
from svckit.context import Caller
from svckit.errors import ApiError, NotFound, PermissionDenied, ValidationFailed
from svckit.fields import options_document
from svckit.listing import run_list
from svckit.metadata import merged_metadata
from svckit.service import Blobs, CallerProvider, ServiceBase, Store, rpc
from svckit.signed_rpc import RpcProxy

from . import attachments as rules, notes
from .files import check_new_filename, content_type, is_svg, sanitise_filename, sanitise_svg
from .models import attachments, notes_images, store
from .placement import INCOMING, Placement

log = logging.getLogger(__name__)

UPDATE_ATTEMPTS = 5  # an update whose file changed under it starts over, this many times


class _ChangedMeanwhile(Exception):
    """What an update placed was derived from a row that changed before it was locked."""


def _upload_key(upload) -> str:
    key = (upload or {}).get("key", "")
    if not (isinstance(key, str) and key.startswith(INCOMING) and "/" not in key[len(INCOMING):]):
        raise ValidationFailed({"attachment": ["Invalid upload reference"]})
    return key


class Service(ServiceBase):
    name = "attachments"
    db = Store(store, publish_before_reply=True)  # gateway read models hear of it first
    caller: Caller = CallerProvider()
    users = RpcProxy("users")
    blobs = Blobs()
    svg_max = config.setting("SVG_SANITISE_MAX_BYTES", 10 * 1024 * 1024, int)
    notes_max = config.setting("NOTES_IMAGE_MAX_BYTES", 5 * 1024 * 1024, int)

    @property
    def placement(self) -> Placement:
        return Placement(self.db, self.blobs)

    # ------------------------------------------------------------ reading

    def _render(self, session, rows: list) -> list:
        tags = rules.tags_of(session, [r["id"] for r in rows])
        pks = sorted({r["upload_user"] for r in rows if r["upload_user"] is not None})
        users = self.users.user_details(pks) if pks else {}
        return [rules.render(r, tags.get(r["id"], []), users) for r in rows]

    @rpc
    def list_attachments(self, params: dict) -> dict:
        self._login()
        with self.db.read() as s:
            answer = run_list(s, rules.filtered(params, self.caller), params, search=rules.SEARCH,
                              ordering=rules.ORDERING, default_order=[attachments.c.id])
            answer["results"] = self._render(s, answer["results"])
        return answer

    @rpc
    def get_attachment(self, pk: int) -> dict:
        self._login()
        with self.db.read() as s:
            return self._render(s, [self._visible_row(s, pk)])[0]

    def _visible_row(self, session, pk: int) -> dict:
        """The attachment `pk`, or 404 when it is missing or the caller may not see it."""
        return rules.require_view(self.caller, rules.get(session, pk))

    @rpc
    def attachment_options(self, detail: bool = False) -> dict:
        self._login()
        return options_document(f"Attachment {'Detail' if detail else 'List'}", "",
                                rules.FIELDS, ["PUT"] if detail else ["POST"])

    @rpc
    def media_file(self, key: str) -> dict:
        """The blob behind a `/media/<key>` path: `{key, size, sha256, content_type,
        filename}`."""
        self._login()
        with self.db.read() as s:
            row = s.execute(select(attachments.c.file_size, attachments.c.sha256,
                                   attachments.c.model_type)
                            .where(attachments.c.file_key == key)).first()
            image = row is None and s.execute(select(notes_images.c.id).where(
                notes_images.c.file_key == key)).first()
        if row is None and not image:
            raise NotFound()
        if row is not None and not rules.may(self.caller, row.model_type, "view"):
            raise NotFound()  # as if it did not exist, as the API's detail answers
        size, digest = (row.file_size, row.sha256) if row else (self.blobs.size(key), None)
        if size is None:
            raise NotFound()
        name = key.rsplit("/", 1)[-1]
        return {"key": key, "size": size, "sha256": digest, "content_type": content_type(name),
                "filename": name}

    # ------------------------------------------------------------ files

    def _place_upload(self, directory: str, upload: dict, name: str):
        """Put the incoming blob at its final key (SVGs sanitised first); returns
        (key, size, sha256)."""
        source = _upload_key(upload)
        if not int(upload.get("size") or 0):
            raise ValidationFailed({"attachment": ["The submitted file is empty."]})
        if is_svg(name):
            key, info = self.placement.place(directory, name,
                                             data=self._sanitised(source, "attachment"))
            return key, info.size, info.sha256
        key, _ = self.placement.place(directory, name, source=source)
        return key, int(upload["size"]), str(upload.get("sha256") or "")

    def _sanitised(self, key: str, field: str) -> bytes:
        """The blob `key` as a sanitised SVG; a 400 on `field` when it is not one (or too
        large to sanitise)."""
        try:
            return sanitise_svg(self.blobs.read_all(key, self.svg_max))
        except ValueError as exc:
            raise ValidationFailed({field: [
                str(exc) if "SVG" in str(exc) else
                f"SVG files over {self.svg_max} bytes cannot be sanitised"]})

    def _committed(self, placed_key: str | None, write, garbage=()):
        """Run `write(session)` in one transaction that settles `placed_key` and dooms
        the blobs in `garbage` (a list `write` may fill: it runs first, under the object's
        lock); on failure the placed blob goes. After the commit, they are deleted."""
        try:
            with self.db.write() as s:
                if placed_key:
                    Placement.settle(s, placed_key)
                result = write(s)
                for key in garbage:
                    Placement.doom(s, key)
        except BaseException:
            if placed_key:
                self.placement.abandon(placed_key)
            raise
        if garbage:
            self.placement.collect(garbage)
        return result

    def _file_name(self, upload: dict, data: dict) -> str:
        wanted = data.get("filename")
        try:
            if isinstance(wanted, str) and wanted.strip():
                return check_new_filename(wanted.strip())
            return sanitise_filename(str(upload.get("name") or "filename"))
        except ValueError as exc:
            raise ValidationFailed({"filename" if wanted else "attachment": [str(exc)]})

    # ------------------------------------------------------------ commands

    @rpc
    def create_attachment(self, data: dict, upload: dict | None = None) -> dict:
        """POST: a file (`upload`) or a `link`. Idempotent by the upload key."""
        self._login()
        if upload:
            with self.db.read() as s:
                done = s.execute(select(attachments.c.id).where(
                    attachments.c.upload_id == _upload_key(upload))).scalar()
            if done is not None:
                return self.get_attachment(done)
        if isinstance(data.get("attachment"), str) and data["attachment"].strip():
            raise ValidationFailed({"attachment": [
                "The submitted data was not a file. Check the encoding type on the form."]})
        cleaned = rules.clean(data)
        rules.require_change(self.caller, cleaned["model_type"])
        rules.require_one_source(bool(upload), cleaned["link"])
        payload = {**cleaned, "upload_date": date.today().isoformat(),
                   "upload_user": self.caller.user_id, "metadata": {}}
        key = None
        if upload:
            directory = f"attachments/{cleaned['model_type']}/{cleaned['model_id']}"
            key, size, digest = self._place_upload(directory, upload,
                                                   self._file_name(upload, data))
            payload.update(file_key=key, file_size=size, sha256=digest, link=None,
                           upload_id=upload["key"])

        def write(s):
            pk = store.next_stream_id(s, "attachment")
            store.record(s, "attachment", pk,
                         "attachment.uploaded" if key else "attachment.linked", payload,
                         self.caller)
            # rendered from the projection just written; the uploader is the caller
            return rules.render(rules.get(s, pk), rules.tags_of(s, [pk]).get(pk, []),
                                {str(self.caller.user_id): self.caller.brief})

        answer = self._committed(key, write)
        if upload:
            self.blobs.delete(upload["key"])
        return answer

    @rpc
    def update_attachment(self, pk: int, data: dict, partial: bool = False,
                          upload: dict | None = None) -> dict:
        """PUT/PATCH. Read-only and unchanged keys are ignored (the official client sends
        the whole object back); a new `filename` renames the file, a new upload replaces
        it, `attachment: null` removes it (a link must then be given).

        Files are placed before the transaction opens, so the decision is checked again
        under the attachment's lock (permissions, file or link, the file replaced); a
        rename whose file was replaced meanwhile, or an upload whose attachment moved to
        another object, starts over (a few times, then 409)."""
        self._login()
        for _ in range(UPDATE_ATTEMPTS):
            try:
                return self._update_attachment(pk, data, partial, upload)
            except _ChangedMeanwhile:
                continue
        raise ApiError({"detail": "The attachment kept changing while it was being updated; "
                                  "please try again"}, 409)

    def _update_attachment(self, pk, data, partial, upload) -> dict:
        with self.db.read() as s:
            current = self._visible_row(s, pk)
            shown = self._render(s, [current])[0]
        rules.require_change(self.caller, current["model_type"])
        data = {k: v for k, v in data.items()
                if k not in ("attachment", "filename") or v != shown[k]}
        changes = rules.clean_update(data, partial)
        target = {**current, **changes}
        rules.require_change(self.caller, target["model_type"])

        old_key, sent = current["file_key"], data.get("attachment")
        if upload is None and isinstance(sent, str) and sent.strip():
            raise ValidationFailed({"attachment": [
                "The submitted data was not a file. Check the encoding type on the form."]})
        clearing = upload is None and "attachment" in data
        rules.require_one_source(bool(upload) or (bool(old_key) and not clearing),
                                 target["link"])

        placed, renamed = None, False
        if upload:
            directory = f"attachments/{target['model_type']}/{target['model_id']}"
            placed, size, digest = self._place_upload(directory, upload,
                                                      self._file_name(upload, data))
            changes.update(file_key=placed, file_size=size, sha256=digest,
                           upload_id=upload["key"])
        elif clearing:
            changes.update(file_key=None, file_size=0, sha256=None)
        elif data.get("filename") is not None:
            if not old_key:
                raise ValidationFailed({"filename": ["Only an uploaded file can be renamed"]})
            try:
                name = check_new_filename(str(data["filename"]))
            except ValueError as exc:
                raise ValidationFailed({"filename": [str(exc)]})
            if name != old_key.rsplit("/", 1)[-1]:
                directory = old_key.rsplit("/", 1)[0]
                if is_svg(name):  # a file that becomes an SVG by its name is sanitised too
                    placed, info = self.placement.place(
                        directory, name, data=self._sanitised(old_key, "filename"))
                    changes.update(file_size=info.size, sha256=info.sha256)
                else:
                    placed, _ = self.placement.place(directory, name, source=old_key)
                renamed = True
        garbage: list[str] = []  # the file this update replaces, known under the lock

        def write(s):
            now, _ = store.load_for_update(s, "attachment", pk, rules.get)
            if (renamed and now["file_key"] != old_key) or (placed and any(
                    now[k] != current[k] for k in ("model_type", "model_id"))):
                raise _ChangedMeanwhile()  # the copy or its directory came from a stale row
            rules.require_view(self.caller, now)
            target = {**now, **changes}
            rules.require_change(self.caller, now["model_type"], target["model_type"])
            rules.require_one_source(bool(upload) or (bool(now["file_key"]) and not clearing),
                                     target["link"])
            if now["file_key"] and (placed or clearing):
                garbage.append(now["file_key"])
            now["tags"] = rules.tags_of(s, [pk]).get(pk, [])
            if renamed:
                store.record(s, "attachment", pk, "attachment.renamed",
                             {"file_key": placed, "previous_key": old_key}, self.caller)
            store.record_changes(s, "attachment", pk, "attachment.updated", now, changes,
                                 self.caller)

        self._committed(placed, write, garbage)
        if upload:
            self.blobs.delete(upload["key"])
        return self.get_attachment(pk)

    @rpc
    def delete_attachment(self, pk: int) -> None:
        self._login()

        def check(rows):
            if not rows:
                raise NotFound()
            rules.require_view(self.caller, rows[0])
            rules.require_delete(self.caller, rows[0]["model_type"])

        self._delete_rows([pk], rules.matching_rows(true()), check)

    def _delete_rows(self, ids: list, loader, check) -> int:
        """Delete the attachments `ids` that `loader` still finds once their streams are
        locked; `check(rows)` decides on those rows under the locks. Their files go after
        the commit."""
        def write(s):
            rows = store.load_all_for_update(s, "attachment", ids, loader)
            check(rows)
            for row in rows:
                if row["file_key"]:
                    Placement.doom(s, row["file_key"])
                store.record(s, "attachment", row["id"], "attachment.deleted",
                             {"file_key": row["file_key"], "model_type": row["model_type"],
                              "model_id": row["model_id"]}, self.caller)
            return rows

        rows = self._committed(None, write)
        garbage = [r["file_key"] for r in rows if r["file_key"]]
        if garbage:
            self.placement.collect(garbage)
        return len(rows)

    @rpc
    def bulk_delete_attachments(self, body) -> int:
        """Deletes among the attachments the caller may see; all of them or none (400, as
        InvenTree) when the caller may not delete some of them."""
        self._login()
        condition = rules.visible(self.caller, bulk_condition(body, attachments.c.id,
                                                              rules.BULK_FILTERS))
        with self.db.read() as s:
            ids = matching_ids(s, attachments, condition)

        def check(rows):
            if not all(rules.may(self.caller, m, "delete")
                       for m in {r["model_type"] for r in rows}):
                raise ValidationFailed({"non_field_errors": [rules.BULK_DELETE_DENIED]})

        return self._delete_rows(ids, rules.matching_rows(condition), check)

    # ------------------------------------------------------------ metadata

    @rpc
    def attachment_metadata(self, pk: int) -> dict:
        self._login()
        with self.db.read() as s:
            return {"metadata": self._visible_row(s, pk)["metadata"]}

    @rpc
    def set_attachment_metadata(self, pk: int, body: dict, partial: bool) -> dict:
        """Writes need Django's `common.change_attachment`, which no role grants: superusers
        only (SEMANTICS §1.2, §1.12)."""
        self._login()
        if not self.caller.is_superuser:
            raise PermissionDenied()
        with self.db.write() as s:
            current, version = store.load_for_update(s, "attachment", pk, rules.get)
            value = merged_metadata(current["metadata"], body, partial)
            store.record_changes(s, "attachment", pk, "attachment.updated", current,
                                 {"metadata": value}, self.caller, version + 1)
        return {"metadata": value}

    # ------------------------------------------------------------ notes images

    @rpc
    def list_notes_images(self, params: dict) -> dict:
        self._login()
        with self.db.read() as s:
            return run_list(s, select(notes_images), params, search=notes.SEARCH,
                            ordering=notes.ORDERING, default_order=[notes_images.c.id],
                            render=notes.render)

    @rpc
    def create_notes_image(self, data: dict, upload: dict | None = None) -> dict:
        self._login()
        cleaned = notes.clean(data, upload, self.notes_max)
        source = _upload_key(upload)
        notes.check_image(self.blobs, source)
        try:
            name = sanitise_filename(str(upload.get("name") or "image"))
        except ValueError as exc:
            raise ValidationFailed({"image": [str(exc)]})
        key, _ = self.placement.place("notes", name, source=source)
        payload = {**cleaned, "file_key": key, "user_id": self.caller.user_id,
                   "upload_id": source}

        def write(s):
            pk = store.next_stream_id(s, "notes_image")
            store.record(s, "notes_image", pk, "notes_image.uploaded", payload, self.caller)
            return pk

        pk = self._committed(key, write)
        self.blobs.delete(source)
        with self.db.read() as s:
            row = s.execute(select(notes_images).where(notes_images.c.id == pk)).mappings().one()
        return notes.render(row)

    @rpc
    def delete_notes_image(self, pk: int) -> None:
        """`DELETE /api/notes-image-upload/{id}/` (staff or the uploader); the file goes too."""
        self._login()
        with self.db.read() as s:
            row = notes.get(s, pk)
        if not notes.may_delete(self.caller, row):
            raise PermissionDenied()

        def write(s):
            _, version = store.load_for_update(s, "notes_image", pk, notes.get)
            store.record(s, "notes_image", pk, "notes_image.deleted",
                         {"file_key": row["file_key"]}, self.caller, version + 1)

        self._committed(None, write, [row["file_key"]])

    # ------------------------------------------------------------ housekeeping

    @timer(interval=config.setting("BLOB_SWEEP_SECONDS", 300, int))
    def sweep_blobs(self):
        try:
            swept = self.placement.sweep()
        except Exception:
            log.exception("blob sweep failed; the next one retries")
            return
        if any(swept.values()):
            log.info("swept orphaned blobs: %s", swept)

    @rpc
    def sweep(self) -> dict:
        """Sweep orphaned blobs now (staff): what the timer does every few minutes."""
        self._staff()
        return self.placement.sweep()
