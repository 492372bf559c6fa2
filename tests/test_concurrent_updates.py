"""Load, lock, decide, record: concurrent updates of one object on PostgreSQL are serialised.

Many threads (green, as in a service process) update the same custom state, project code,
attachment and user through the services' entrypoints on one PostgreSQL database. Each
update's effect depends on the state it read, so an update decided on a stale read shows:

- metadata PATCHes merge one new key each into what they read: a stale read loses keys;
- the others set a field to "A" or "B", and an update that changes nothing records no
  event: a stale read records a "change" to the value the field already had (or skips one).

At the end every update is applied, in the order of the stream's events, without an error.
SQLite serialises whole write transactions, so this is a PostgreSQL test.
"""
import threading

import pytest
from nameko.testing.services import worker_factory
from sqlalchemy import select

from svckit.context import SYSTEM
from tests.conftest import postgres_reachable
from tests.helpers import STAFF

THREADS, UPDATES = 8, 20

pytestmark = [
    pytest.mark.skipif(not postgres_reachable(), reason="PostgreSQL is not reachable"),
    pytest.mark.parametrize("db_url", ["postgresql"], indirect=True),
]


def hammer(update):
    """Run update(thread, n) UPDATES times in each of THREADS threads at once; the errors."""
    errors, start = [], threading.Barrier(THREADS)

    def work(thread):
        start.wait()
        for n in range(UPDATES):
            try:
                update(thread, n)
            except Exception as exc:  # noqa: BLE001  (every error is a failure)
                errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def events_of(db, store, stream_type, pk) -> list[dict]:
    with db.read() as s:
        return [dict(r) for r in s.execute(select(store.events).where(
            store.events.c.stream_type == stream_type, store.events.c.stream_id == str(pk))
            .order_by(store.events.c.version)).mappings()]


def assert_metadata_merged_in_order(db, store, stream_type, pk, final: dict):
    """Every PATCH's key is there, and each event added exactly one key to the last."""
    expected = {f"t{t}-{n}": n for t in range(THREADS) for n in range(UPDATES)}
    assert final == expected
    seen: dict = {}
    for event in events_of(db, store, stream_type, pk)[1:]:
        value = event["payload"]["metadata"]
        assert len(value) == len(seen) + 1 and value.items() >= seen.items(), \
            f"version {event['version']} was decided on a stale read"
        seen = value
    assert seen == expected


def assert_real_changes_in_order(db, store, stream_type, pk, field: str, start, final):
    """Each recorded update changed `field` from the value the previous one left."""
    value, changes = start, 0
    for event in events_of(db, store, stream_type, pk)[1:]:
        if field in event["payload"]:
            assert event["payload"][field] != value, \
                f"version {event['version']} was decided on a stale read"
            value, changes = event["payload"][field], changes + 1
    assert changes > 0
    assert value == final


def toggled(thread, n) -> str:
    return "AB"[(thread + n) % 2]


def test_custom_state(make_db):
    from services.status import models
    from services.status.service import Service
    db = make_db(models.metadata)
    svc = lambda: worker_factory(Service, db=db, caller=STAFF)  # noqa: E731
    model = svc().get_content_type_by_model(model="stockitem")["pk"]
    pk = svc().create_custom_state(data={
        "key": 11, "name": "OK - advanced", "label": "start", "logical_key": 10,
        "model": model, "reference_status": "StockStatus"})["pk"]
    workers = [svc() for _ in range(THREADS)]

    assert hammer(lambda t, n: workers[t].update_custom_state(
        pk=pk, data={"label": toggled(t, n)}, partial=True)) == []
    final = svc().get_custom_state(pk=pk)["label"]
    assert_real_changes_in_order(db, models.store, "custom_state", pk, "label", "start", final)


def test_project_code(make_db):
    from services.system import models
    from services.system.service import Service
    from tests.system.test_project_codes import Users
    db = make_db(models.metadata)
    svc = lambda: worker_factory(Service, db=db, caller=STAFF, users=Users())  # noqa: E731
    pk = svc().create_project_code(data={"code": "PRJ-RACE"})["pk"]
    workers = [svc() for _ in range(THREADS)]

    assert hammer(lambda t, n: workers[t].set_project_code_metadata(
        pk=pk, body={"metadata": {f"t{t}-{n}": n}}, partial=True)) == []
    final = svc().project_code_metadata(pk=pk)["metadata"]
    assert_metadata_merged_in_order(db, models.store, "project_code", pk, final)


def test_attachment(make_db, tmp_path):
    from services.attachments import models
    from services.attachments.service import Service
    from svckit.blobstore import LocalBlobStore
    from tests.attachments.test_service import Users
    db = make_db(models.metadata)
    blobs = LocalBlobStore(tmp_path / "media")
    svc = lambda: worker_factory(Service, db=db, caller=STAFF, users=Users(),  # noqa: E731
                                 blobs=blobs)
    pk = svc().create_attachment(data={"model_type": "part", "model_id": 1,
                                       "link": "https://example.com/race"})["pk"]
    workers = [svc() for _ in range(THREADS)]

    assert hammer(lambda t, n: workers[t].set_attachment_metadata(
        pk=pk, body={"metadata": {f"t{t}-{n}": n}}, partial=True)) == []
    final = svc().attachment_metadata(pk=pk)["metadata"]
    assert_metadata_merged_in_order(db, models.store, "attachment", pk, final)


def test_user(make_db):
    from services.users import accounts, models
    from services.users.service import Service
    db = make_db(models.metadata)
    with db.write() as s:
        root = accounts.create_user(s, SYSTEM, username="root", password="Sturdy-pass-77",
                                    is_superuser=True)
        caller = accounts.caller_for(s, root)
        pk = accounts.create_user(s, SYSTEM, username="carol", password=None,
                                  first_name="start")["id"]
    svc = lambda: worker_factory(Service, db=db, caller=caller)  # noqa: E731
    workers = [svc() for _ in range(THREADS)]

    assert hammer(lambda t, n: workers[t].update_user(
        pk=pk, data={"first_name": toggled(t, n)}, partial=True)) == []
    final = svc().get_user(pk=pk)["first_name"]
    assert_real_changes_in_order(db, models.store, "user", pk, "first_name", "start", final)
