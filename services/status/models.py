"""The status service's tables (projections of its event log) and their projector."""
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    delete,
    insert,
    update,
)

from svckit.events import EventStore, Projector
from svckit.importing import import_receipt_table

from .events import CUSTOM_STATE_CREATED, CUSTOM_STATE_DELETED, CUSTOM_STATE_UPDATED, catalog

metadata = MetaData()

custom_states = Table(
    "custom_state", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("key", Integer, nullable=False),
    Column("name", String(250), nullable=False),
    Column("label", String(250), nullable=False),
    Column("color", String(10), nullable=False),
    Column("logical_key", Integer, nullable=False),
    Column("model", Integer, nullable=False),
    Column("reference_status", String(250), nullable=False),
    UniqueConstraint("model", "reference_status", "key", "logical_key",
                     name="uq_custom_state"),
)
receipts = import_receipt_table(metadata)

projector = Projector([receipts, custom_states])
store = EventStore("status", metadata, projector, catalog)


@projector.on(CUSTOM_STATE_CREATED)
def _created(s, e):
    payload = dict(e["payload"])
    import_key = payload.pop("import_key", None)
    s.execute(insert(custom_states).values(id=int(e["stream_id"]), **payload))
    if import_key:
        s.execute(insert(receipts).values(import_key=import_key, pk=int(e["stream_id"])))


@projector.on(CUSTOM_STATE_UPDATED)
def _updated(s, e):
    s.execute(update(custom_states).where(custom_states.c.id == int(e["stream_id"]))
              .values(**e["payload"]))


@projector.on(CUSTOM_STATE_DELETED)
def _deleted(s, e):
    s.execute(delete(custom_states).where(custom_states.c.id == int(e["stream_id"])))
