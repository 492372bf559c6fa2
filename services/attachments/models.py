"""The attachments service's tables: projections of its event log (attachments, their tags,
notes images) and the blob claims that keep storage and rows in step."""
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    insert,
    update,
)

from svckit.events import EventStore, Projector, column_values

from .events import (
    ATTACHMENT_DELETED,
    ATTACHMENT_LINKED,
    ATTACHMENT_RENAMED,
    ATTACHMENT_UPDATED,
    ATTACHMENT_UPLOADED,
    NOTES_IMAGE_DELETED,
    NOTES_IMAGE_UPLOADED,
    catalog,
)

metadata = MetaData()

attachments = Table(
    "attachment", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("model_type", String(100), nullable=False),
    Column("model_id", BigInteger, nullable=False),
    Column("file_key", String(500), nullable=True, unique=True),  # blob key, None for links
    Column("file_size", BigInteger, nullable=False, default=0),
    Column("sha256", String(64), nullable=True),
    Column("link", String(200), nullable=True),
    Column("comment", String(250), nullable=False, default=""),
    Column("upload_date", Date, nullable=False),
    Column("upload_user", Integer, nullable=True),
    Column("upload_id", String(100), nullable=True, unique=True),  # the claim-check key
    Column("metadata", JSON, nullable=True),
)
Index("ix_attachment_target", attachments.c.model_type, attachments.c.model_id)

attachment_tags = Table(
    "attachment_tag", metadata,
    Column("attachment_id", Integer, primary_key=True, autoincrement=False),
    Column("tag", String(100), primary_key=True),
)
Index("ix_attachment_tag", attachment_tags.c.tag)

notes_images = Table(
    "notes_image", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("file_key", String(500), nullable=False, unique=True),
    Column("user_id", Integer, nullable=True),
    Column("date", DateTime, nullable=False),
    Column("model_type", String(100), nullable=True),
    Column("model_id", BigInteger, nullable=True),
    Column("upload_id", String(100), nullable=True, unique=True),
)

# Not projected (operational state, like the relay lease): a claim reserves a blob key
# while a file is being placed there, and marks a key whose blob must go once no row
# refers to it. Whoever deletes the claim row (the commit of the upload, or the sweeper)
# decides the blob's fate, so the two can never both act on one key.
blob_claims = Table(
    "blob_claim", metadata,
    Column("key", String(500), primary_key=True),
    Column("due", DateTime, nullable=False),  # when the sweeper may delete an unused blob
)

projector = Projector([attachment_tags, attachments, notes_images])
store = EventStore("attachments", metadata, projector, catalog)


def _id(e) -> int:
    return int(e["stream_id"])


# built once: building a statement costs more than running it on a create's path
_insert_attachment = insert(attachments)
_insert_tag = insert(attachment_tags)
_delete_tags = delete(attachment_tags).where(
    attachment_tags.c.attachment_id == bindparam("pk"))


def _set_tags(s, pk: int, tags):
    s.execute(_delete_tags, {"pk": pk})
    rows = [{"attachment_id": pk, "tag": tag} for tag in dict.fromkeys(tags or ())]
    if rows:
        s.execute(_insert_tag, rows)


@projector.on(ATTACHMENT_UPLOADED, ATTACHMENT_LINKED)
def _created(s, e):
    _created_many(s, [e])


@projector.on_many(ATTACHMENT_UPLOADED, ATTACHMENT_LINKED)
def _created_many(s, events):
    """New attachments (one executemany per set of fields for a batch, such as a seed of
    many): their ids are fresh (never reused), so they have no tags to replace."""
    rows: dict[tuple, list] = {}
    tags = []
    for e in events:
        values = column_values(attachments, e["payload"])
        tags += [{"attachment_id": _id(e), "tag": tag}
                 for tag in dict.fromkeys(values.pop("tags", None) or ())]
        row = {"id": _id(e), **values}
        rows.setdefault(tuple(row), []).append(row)
    for same_fields in rows.values():
        s.execute(_insert_attachment, same_fields)
    if tags:
        s.execute(_insert_tag, tags)


@projector.on(ATTACHMENT_UPDATED, ATTACHMENT_RENAMED)
def _updated(s, e):
    values = column_values(attachments, e["payload"])
    values.pop("previous_key", None)
    if "tags" in values:
        _set_tags(s, _id(e), values.pop("tags"))
    if values:
        s.execute(update(attachments).where(attachments.c.id == _id(e)).values(**values))


@projector.on(ATTACHMENT_DELETED)
def _deleted(s, e):
    s.execute(_delete_tags, {"pk": _id(e)})
    s.execute(delete(attachments).where(attachments.c.id == _id(e)))


@projector.on(NOTES_IMAGE_UPLOADED)
def _image_uploaded(s, e):
    values = column_values(notes_images, e["payload"])
    values.setdefault("date", e["created"])
    s.execute(insert(notes_images).values(id=_id(e), **values))


@projector.on(NOTES_IMAGE_DELETED)
def _image_deleted(s, e):
    s.execute(delete(notes_images).where(notes_images.c.id == _id(e)))
