"""The attachments service: files and links attached to InvenTree objects (SEMANTICS §3),
their metadata, and the images uploaded from notes editors (§14).

Files never travel over RPC (svckit.claimcheck): the gateway streams an upload into the blob
store under `incoming/` and passes its key, name, size and digest (`upload`). Commands that
place or remove files (services.attachments.placement) open their own units of work, since
a file is placed before the transaction that records it and removed after it; the sweeper
removes whatever a crash left behind.
"""
import logging

from svckit.background import timer
from svckit.container_settings import Settings
from svckit.context import Caller
from svckit.service import Blobs, CallerProvider, ServiceBase, Store, rpc
from svckit.signed_rpc import RpcProxy

from . import attachments, media, notes
from .metrics import AttachmentMetrics
from .models import store
from .placement import Placement
from .settings import AttachmentsSettings

log = logging.getLogger(__name__)


class Service(ServiceBase):
    name = "attachments"
    db = Store(store, publish_before_reply=True)  # gateway read models hear of it first
    caller: Caller = CallerProvider()
    users = RpcProxy("users")
    blobs = Blobs()
    metrics = AttachmentMetrics()  # services.attachments.metrics, on the operations port
    settings: AttachmentsSettings = Settings(AttachmentsSettings)

    @property
    def placement(self) -> Placement:
        return Placement(self.db, self.blobs, self.settings)

    # ------------------------------------------------------------ attachments

    @rpc
    def list_attachments(self, params: dict) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return attachments.list_attachments(s, self.caller, params,
                                                self.users.user_details)

    @rpc
    def get_attachment(self, pk: int) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return attachments.get_attachment(s, self.caller, pk, self.users.user_details)

    @rpc
    def attachment_options(self, detail: bool = False) -> dict:
        self.caller.require_login()
        return attachments.options(detail)

    @rpc
    def media_file(self, key: str) -> dict:
        """The blob behind a `/media/<key>` path: `{key, size, sha256, content_type,
        filename}`."""
        self.caller.require_login()
        with self.db.read() as s:
            return media.media_file(s, self.caller, self.blobs, key)

    @rpc
    def create_attachment(self, data: dict, upload: dict | None = None) -> dict:
        """POST: a file (`upload`) or a `link`. Idempotent by the upload key."""
        self.caller.require_login()
        return attachments.create(self.placement, self.caller, data, upload,
                                  self.users.user_details)

    @rpc
    def update_attachment(self, pk: int, data: dict, partial: bool = False,
                          upload: dict | None = None) -> dict:
        """PUT/PATCH (see attachments.update)."""
        self.caller.require_login()
        return attachments.update(self.placement, self.caller, pk, data, partial, upload,
                                  self.users.user_details)

    @rpc
    def delete_attachment(self, pk: int) -> None:
        self.caller.require_login()
        attachments.delete(self.placement, self.caller, pk)

    @rpc
    def bulk_delete_attachments(self, body) -> int:
        """Deletes among the attachments the caller may see; all of them or none (400, as
        InvenTree) when the caller may not delete some of them."""
        self.caller.require_login()
        return attachments.bulk_delete(self.placement, self.caller, body)

    # ------------------------------------------------------------ metadata

    @rpc
    def attachment_metadata(self, pk: int) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return attachments.metadata(s, self.caller, pk)

    @rpc
    def set_attachment_metadata(self, pk: int, body: dict, partial: bool) -> dict:
        """Writes need Django's `common.change_attachment`, which no role grants: superusers
        only (SEMANTICS §1.2, §1.12)."""
        self.caller.require_superuser()
        with self.db.write() as s:
            return attachments.set_metadata(s, self.caller, pk, body, partial)

    # ------------------------------------------------------------ notes images

    @rpc
    def list_notes_images(self, params: dict) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return notes.list_images(s, params)

    @rpc
    def create_notes_image(self, data: dict, upload: dict | None = None) -> dict:
        self.caller.require_login()
        return notes.create(self.placement, self.caller, data, upload, self.settings.NOTES_IMAGE_MAX_BYTES)

    @rpc
    def delete_notes_image(self, pk: int) -> None:
        """`DELETE /api/notes-image-upload/{id}/` (staff or the uploader); the file goes too."""
        self.caller.require_login()
        notes.delete(self.placement, self.caller, pk)

    # ------------------------------------------------------------ housekeeping

    @timer(interval="BLOB_SWEEP_SECONDS")
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
        self.caller.require_staff()
        return self.placement.sweep()
