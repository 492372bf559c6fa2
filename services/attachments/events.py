"""Every event type the attachments service records. Streams `attachment` and `notes_image`;
the payload fields of each type are named beside it, and modelled below (svckit.eventcatalog)."""
from datetime import date
from typing import Any

from svckit.eventcatalog import EventCatalog, EventPayload

# model_type, model_id, comment, link (None), tags, upload_date, upload_user, metadata,
# file_key, file_size, sha256, upload_id (the incoming key it was claimed from)
ATTACHMENT_UPLOADED = "attachment.uploaded"
# model_type, model_id, comment, link, tags, upload_date, upload_user, metadata
ATTACHMENT_LINKED = "attachment.linked"
# the fields that changed (any of the above but upload_date and upload_user)
ATTACHMENT_UPDATED = "attachment.updated"
# file_key (the new one), previous_key
ATTACHMENT_RENAMED = "attachment.renamed"
# file_key (None for a link), model_type, model_id
ATTACHMENT_DELETED = "attachment.deleted"

# model_type, model_id, file_key, user_id, upload_id
NOTES_IMAGE_UPLOADED = "notes_image.uploaded"
# file_key
NOTES_IMAGE_DELETED = "notes_image.deleted"


# ------------------------------------------------------------------ payload models

class AttachmentLinked(EventPayload):
    """A link attached to a model instance."""

    model_type: str
    model_id: int
    comment: str
    link: str | None
    tags: list[str]
    upload_date: date
    upload_user: int | None
    metadata: dict[str, Any]


class AttachmentUploaded(AttachmentLinked):
    """A file attached to a model instance (placed in the blob store under `file_key`)."""

    file_key: str
    file_size: int
    sha256: str
    upload_id: str


class AttachmentUpdated(EventPayload):
    """The fields of an attachment that changed."""

    model_type: str | None = None
    model_id: int | None = None
    comment: str | None = None
    link: str | None = None
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None
    file_key: str | None = None
    file_size: int | None = None
    sha256: str | None = None
    upload_id: str | None = None


class AttachmentRenamed(EventPayload):
    """An attachment's file moved to a new key."""

    file_key: str
    previous_key: str


class AttachmentDeleted(EventPayload):
    """An attachment deleted (its file, if any, goes too)."""

    file_key: str | None
    model_type: str
    model_id: int


class NotesImageUploaded(EventPayload):
    """An image uploaded for a notes field."""

    model_type: str | None = None
    model_id: int | None = None
    file_key: str
    user_id: int | None
    upload_id: str


class NotesImageDeleted(EventPayload):
    """A notes image deleted."""

    file_key: str


catalog = EventCatalog("attachments", {
    ATTACHMENT_UPLOADED: AttachmentUploaded,
    ATTACHMENT_LINKED: AttachmentLinked,
    ATTACHMENT_UPDATED: AttachmentUpdated,
    ATTACHMENT_RENAMED: AttachmentRenamed,
    ATTACHMENT_DELETED: AttachmentDeleted,
    NOTES_IMAGE_UPLOADED: NotesImageUploaded,
    NOTES_IMAGE_DELETED: NotesImageDeleted,
})
