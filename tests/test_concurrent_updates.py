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
from sqlalchemy import select

from svckit.context import SYSTEM
from tests.conftest import postgres_reachable
from tests.helpers import ROUNDS, STAFF, worker_factory

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


def test_serial_numbers(make_db):
    """Reservations for one part, its first one among them (no ledger row to lock yet):
    every serial handed out once, in the order of the stream's events."""
    from services.system import models
    from services.system.service import Service
    db = make_db(models.metadata)
    workers = [worker_factory(Service, db=db, caller=STAFF) for _ in range(THREADS)]
    serials: list[str] = []

    def reserve(t, n):
        serials.append(workers[t].generate_serial_number(
            data={"part": 7, "quantity": 1})["serial_number"])

    assert hammer(reserve) == []
    total = THREADS * UPDATES
    assert sorted(serials, key=int) == [str(i) for i in range(1, total + 1)]
    reserved = events_of(db, models.store, "serial_numbers", 7)
    assert [e["version"] for e in reserved] == list(range(1, total + 1))
    assert [e["payload"]["serials"] for e in reserved] == [[str(i)] for i in range(1, total + 1)]


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
    from services.users import models, roles, users
    from services.users.service import Service
    db = make_db(models.metadata)
    with db.write() as s:
        root = users.new_user(s, SYSTEM, rounds=ROUNDS, username="root", password="Sturdy-pass-77",
                              is_superuser=True)
        caller = roles.caller_for(s, root)
        pk = users.new_user(s, SYSTEM, rounds=ROUNDS, username="carol", password=None,
                            first_name="start")["id"]
    svc = lambda: worker_factory(Service, db=db, caller=caller)  # noqa: E731
    workers = [svc() for _ in range(THREADS)]

    assert hammer(lambda t, n: workers[t].update_user(
        pk=pk, data={"first_name": toggled(t, n)}, partial=True)) == []
    final = svc().get_user(pk=pk)["first_name"]
    assert_real_changes_in_order(db, models.store, "user", pk, "first_name", "start", final)


def test_concurrent_deletes_delete_once(make_db, tmp_path):
    """Deletes decide on the locked row too: of many deletes of one custom state or one
    attachment at once, one deletes it (one event, its file goes) and the rest answer 404.
    In round n every thread deletes the n-th state and the n-th attachment."""
    from services.attachments import models as attachment_models
    from services.attachments.service import Service as Attachments
    from services.status import models as status_models
    from services.status.service import Service as Status
    from svckit.blobstore import LocalBlobStore
    from svckit.errors import NotFound
    from tests.attachments.test_service import Users, checked_in
    status_db = make_db(status_models.metadata)
    attachment_db = make_db(attachment_models.metadata)
    blobs = LocalBlobStore(tmp_path / "media")
    status = [worker_factory(Status, db=status_db, caller=STAFF) for _ in range(THREADS)]
    files = [worker_factory(Attachments, db=attachment_db, caller=STAFF, users=Users(),
                            blobs=blobs) for _ in range(THREADS)]
    model = status[0].get_content_type_by_model(model="stockitem")["pk"]
    states = [status[0].create_custom_state(data={
        "key": 100 + n, "name": f"Doomed {n}", "label": "Doomed", "logical_key": 10,
        "model": model, "reference_status": "StockStatus"})["pk"] for n in range(UPDATES)]
    attachments = [files[0].create_attachment(
        data={"model_type": "part", "model_id": 1},
        upload=checked_in(blobs, b"doomed", f"doomed-{n}.txt"))["pk"] for n in range(UPDATES)]
    deleted = []

    def delete(t, n):
        for kind, call in (("state", lambda: status[t].delete_custom_state(pk=states[n])),
                           ("attachment", lambda: files[t].delete_attachment(
                               pk=attachments[n]))):
            try:
                call()
                deleted.append((kind, n))
            except NotFound:
                pass

    assert hammer(delete) == []
    assert sorted(deleted) == sorted((kind, n) for kind in ("state", "attachment")
                                     for n in range(UPDATES))
    for n in range(UPDATES):
        assert [e["type"] for e in events_of(status_db, status_models.store, "custom_state",
                                             states[n])] == ["custom_state.created",
                                                             "custom_state.deleted"]
        assert [e["type"] for e in events_of(attachment_db, attachment_models.store,
                                             "attachment", attachments[n])] == [
            "attachment.uploaded", "attachment.deleted"]
    assert [key for key, _ in blobs.list("attachments/")] == []


def test_magic_link_signs_in_once(make_db):
    """A login link used by many requests at once starts one session (round n: every
    thread uses the n-th link)."""
    from services.users import models, users
    from services.users.service import Service
    from svckit.errors import PermissionDenied
    db = make_db(models.metadata)
    with db.write() as s:
        users.new_user(s, SYSTEM, rounds=ROUNDS, username="carol", password=None,
                       email="carol@example.com")
    workers = [worker_factory(Service, db=db, caller=SYSTEM) for _ in range(THREADS)]
    keys = [workers[0].issue_magic_link(email="carol@example.com")["key"]
            for _ in range(UPDATES)]
    signed_in = []

    def use(t, n):
        try:
            workers[t].login_with_magic_link(key=keys[n])
            signed_in.append(n)
        except PermissionDenied:
            pass

    assert hammer(use) == []
    assert sorted(signed_in) == list(range(UPDATES))
    with db.read() as s:
        assert len(s.execute(select(models.sessions)).all()) == UPDATES


def test_concurrent_file_replacements_leave_one_file(make_db, tmp_path):
    """PATCHes that replace an attachment's file place it before their transaction; one that
    lost the race starts over, so each replacement dooms the file it really replaced and
    only the last file is left (a stale read used to leave the others behind for good)."""
    from services.attachments import models
    from services.attachments.service import Service
    from svckit.blobstore import LocalBlobStore
    from tests.attachments.test_service import Users, checked_in
    db = make_db(models.metadata)
    blobs = LocalBlobStore(tmp_path / "media")
    workers = [worker_factory(Service, db=db, caller=STAFF, users=Users(), blobs=blobs)
               for _ in range(THREADS)]
    pk = workers[0].create_attachment(data={"model_type": "part", "model_id": 1},
                                      upload=checked_in(blobs, b"first", "first.txt"))["pk"]

    def replace(t, n):
        if n < 5:
            workers[t].update_attachment(pk=pk, data={}, partial=True, upload=checked_in(
                blobs, f"{t}-{n}".encode(), f"file-{t}-{n}.txt"))

    assert hammer(replace) == []
    final = workers[0].get_attachment(pk=pk)["attachment"]
    assert [key for key, _ in blobs.list("attachments/")] == [final.removeprefix("/media/")]
    keys = [e["payload"]["file_key"] for e in events_of(db, models.store, "attachment", pk)]
    assert len(keys) == 1 + 5 * THREADS and len(set(keys)) == len(keys)


def test_overlapping_bulk_deletes_delete_each_once(make_db):
    """Bulk deletes lock their objects in one order and act on what still matches: threads
    bulk-deleting the same news items (listed in different orders) delete each once, with
    no deadlock and no error."""
    from services.system import models, news
    from services.system.service import Service
    from svckit.errors import ValidationFailed
    from tests.system.test_project_codes import Users
    db = make_db(models.metadata)
    with db.write() as s:
        news.store_new(s, SYSTEM, [{"feed_id": f"item-{n}", "title": f"News {n}"}
                                   for n in range(UPDATES)])
    with db.read() as s:
        pks = sorted(s.execute(select(models.news_entries.c.id)).scalars())
    workers = [worker_factory(Service, db=db, caller=STAFF, users=Users())
               for _ in range(THREADS)]
    deleted = []

    def bulk_delete(t, n):
        if n:
            return
        items = pks[::-1] if t % 2 else pks
        try:
            deleted.append(workers[t].bulk_delete_news_items(body={"items": items}))
        except ValidationFailed:  # all gone before this one looked
            pass

    assert hammer(bulk_delete) == []
    assert sum(deleted) == UPDATES
    for pk in pks:
        assert [e["type"] for e in events_of(db, models.store, "news_entry", pk)] == [
            "news_entry.created", "news_entry.deleted"]


def test_identical_errors_at_once_begin_one_report(make_db):
    """Identical errors logged by many processes at the same moment are serialised on
    their fingerprint: one report counting every one of them, one notification, no error."""
    from services.system import models
    from services.system.service import Service
    from tests.system.test_reports import Users, error_event
    db = make_db(models.metadata)
    workers = [worker_factory(Service, db=db, caller=STAFF, users=Users())
               for _ in range(THREADS)]

    assert hammer(lambda t, n: workers[t].on_error_logged(
        error_event(t * UPDATES + n, line=7))) == []
    reports = workers[0].list_error_reports(params={})["results"]
    assert len(reports) == 1
    assert f"(occurred {THREADS * UPDATES} times since " in reports[0]["info"]
    assert len(workers[0].list_notifications(params={})["results"]) == 1
