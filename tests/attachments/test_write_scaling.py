"""A create's work does not grow with the attachments already there: the write itself and
the event relay's pass that follows it (on SQLite, whose planner has no statistics to steer
it: the relay's query for unpublished events once walked every event ever published).

Work is counted in SQLite virtual-machine instructions (a progress handler), which depend on
the data and the query plans only, never on the machine's load."""
import pytest
from sqlalchemy import event, update

from services.attachments import models
from services.attachments.service import Service
from svckit import chainlog
from svckit.db import Database
from svckit.events import utcnow
from svckit.relay import Relay
from tests.attachments.test_service import Users
from tests.helpers import STAFF, sqlite_database, worker_factory

STEP = 10  # instructions per progress callback


class InstructionCounter:
    """SQLite VM instructions run on `db`'s connections during `measure` (the handler is
    installed only then: it slows everything it watches)."""

    def __init__(self, db: Database):
        self.count, self.counting = 0, False
        self.connections: list = []
        db.engine.dispose()  # every connection from now on is known here
        event.listen(db.engine, "connect", self._connected)

    def _connected(self, dbapi_conn, _record):
        self.connections.append(dbapi_conn)
        if self.counting:
            dbapi_conn.set_progress_handler(self._tick, STEP)

    def _tick(self) -> int:
        self.count += STEP
        return 0  # go on

    def measure(self, work) -> int:
        self.count, self.counting = 0, True
        for conn in self.connections:
            conn.set_progress_handler(self._tick, STEP)
        try:
            work()
        finally:
            self.counting = False
            for conn in self.connections:
                conn.set_progress_handler(None, 0)
        return self.count


def seed_history(db: Database, count: int, first_model_id: int):
    """`count` link attachments whose events are linked into the chain and published (what
    a service's log holds after a while), written as one batch."""
    payloads = [{"model_type": "part", "model_id": first_model_id + n, "comment": "old",
                 "link": f"https://example.com/{first_model_id + n}", "tags": [],
                 "upload_date": "2026-01-01", "upload_user": STAFF.user_id, "metadata": {}}
                for n in range(count)]
    with db.write(notify=False) as s:
        pks = models.store.next_stream_ids(s, "attachment", count)
        models.store.record_new_streams(s, "attachment", pks, "attachment.linked", payloads,
                                        STAFF)
        chainlog.chain_pending(models.store, s)
        s.execute(update(models.store.events).values(published=utcnow()))


@pytest.fixture
def sqlite_db(tmp_path):
    with sqlite_database(tmp_path / "attachments.sqlite3", models.metadata) as db:
        yield db


def test_a_link_create_and_the_relay_pass_after_it_cost_the_same_with_10x_the_history(
        sqlite_db, tmp_path):
    db = sqlite_db
    counter = InstructionCounter(db)
    relay = Relay("attachments", db, models.store, "amqp://unused")  # pending() reads only
    service = worker_factory(Service, db=db, caller=STAFF, users=Users(),
                             blobs=None)

    def create_and_pass(n: int):
        def work():
            service.create_attachment(data={"model_type": "part", "model_id": 1,
                                            "link": f"https://example.com/new-{n}"})
            batch = relay.pending()
            assert [e["type"] for e in batch] == ["attachment.linked"]
            with db.write(notify=False) as s:  # as the relay does once the broker confirmed
                s.execute(update(models.store.events).where(
                    models.store.events.c.id == batch[0]["id"]).values(published=utcnow()))
        return work

    seed_history(db, 300, 1000)
    create_and_pass(0)()  # first use of the id counter, caches warm
    small = counter.measure(create_and_pass(1))
    seed_history(db, 2700, 5000)
    large = counter.measure(create_and_pass(2))

    assert small > 0
    print(f"VM instructions: {small} with 300 attachments, {large} with 3,000")
    # the same statements and plans: equal up to the depth of the B-trees
    assert large <= small * 1.1, (small, large)
