"""EventStore.load_for_update / load_all_for_update: lock the stream, then read (SQLite and
PostgreSQL); the concurrency they buy is shown in tests/test_concurrent_updates.py."""
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update

from svckit.errors import NotFound
from svckit.eventcatalog import EventCatalog, EventPayload
from svckit.events import EventStore, Projector
from svckit.listing import get_by_id

metadata = MetaData()
things = Table("thing", metadata, Column("id", Integer, primary_key=True),
               Column("name", String(50)))
projector = Projector([things])
class Named(EventPayload):
    name: str


store = EventStore("locksvc", metadata, projector,
                   EventCatalog("locksvc", {"thing.created": Named, "thing.renamed": Named}))


@projector.on("thing.created")
def _created(s, e):
    s.execute(insert(things).values(id=int(e["stream_id"]), name=e["payload"]["name"]))


@projector.on("thing.renamed")
def _renamed(s, e):
    s.execute(update(things).where(things.c.id == int(e["stream_id"]))
              .values(name=e["payload"]["name"]))


def get(s, pk):
    return get_by_id(s, things, pk)


@pytest.fixture
def db(make_db):
    db = make_db(metadata)
    with db.write() as s:
        for pk, name in ((1, "one"), (2, "two")):
            store.record(s, "thing", pk, "thing.created", {"name": name}, version=1)
    return db


def test_returns_the_row_and_its_stream_version(db):
    with db.write() as s:
        row, version = store.load_for_update(s, "thing", 1, get)
        assert (row["name"], version) == ("one", 1)
        store.record(s, "thing", 1, "thing.renamed", {"name": "uno"}, version=version + 1)
        store.record_changes(s, "thing", 1, "thing.renamed", {"name": "uno"}, {"name": "uno"},
                             version=99)  # nothing changed: no event
        assert store.load_for_update(s, "thing", 1, get) == ({"id": 1, "name": "uno"}, 2)


def test_a_missing_object_is_still_a_404(db):
    with pytest.raises(NotFound):
        with db.write() as s:
            store.load_for_update(s, "thing", 3, get)


def test_load_all_skips_the_missing_and_repeated(db):
    def rows(s, ids):
        return s.execute(select(things.c.id).where(things.c.id.in_(ids))
                         .order_by(things.c.id)).scalars().all()

    with db.write() as s:
        assert store.load_all_for_update(s, "thing", [2, 3, 1, 2], rows) == [1, 2]
        assert store.load_all_for_update(s, "thing", [], rows) == []
