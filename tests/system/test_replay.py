"""Replaying the system service's log rebuilds every one of its tables exactly."""
import base64

from sqlalchemy import select

from services.system import models, news, webhooks
from services.system.service import Service
from svckit.context import SYSTEM
from tests.helpers import ANON, STAFF, worker_factory
from tests.ratesserver import RatesServer


class Users:
    def owners(self, pks):
        return {str(p): {"pk": p, "owner_id": p, "name": "x", "label": "user"} for p in pks}

    def staff_user_ids(self):
        return [1]


def snapshot(db) -> dict:
    with db.read() as s:
        return {t.name: [dict(r) for r in s.execute(select(t).order_by(*t.primary_key.columns))
                         .mappings()] for t in models.projector.tables}


def test_replay_rebuilds_every_table(make_db, monkeypatch):
    db = make_db(models.metadata)
    svc = worker_factory(Service, db=db, caller=STAFF, users=Users())
    svc.create_project_code(data={"code": "P1", "responsible": 1})
    svc.set_project_code_metadata(pk=1, body={"metadata": {"a": 1}}, partial=True)
    svc.create_custom_unit(data={"name": "smoot", "definition": "1.7018 * meter"})
    svc.update_custom_unit(pk=1, data={"symbol": "smt"}, partial=True)
    svc.generate_serial_number(data={"part": 3, "quantity": 2})
    svc.on_error_logged({"id": "gateway:1", "payload": {"kind": "E", "info": "i", "data": "d",
                                                       "path": "/api/x/"}})
    svc.read_all_notifications()
    with db.write() as s:
        hook = webhooks.create_endpoint(s, SYSTEM, "hook")
        news.store_new(s, SYSTEM, news.parse_feed(
            b'<rss><channel><item><guid>g</guid><title>t</title></item></channel></rss>'))
    worker_factory(Service, db=db, caller=ANON).receive_webhook(
        endpoint=hook["endpoint_id"], body_b64=base64.b64encode(b'{"x": 1}').decode(),
        headers={"Token": hook["token"]}, host="h")
    rates = RatesServer()
    monkeypatch.setenv("CURRENCY_API_URL", rates.url)  # read by a process starting now
    try:
        worker_factory(Service, db=db, caller=STAFF, users=Users()).refresh_exchange_rates()
    finally:
        rates.close()
    before = snapshot(db)
    assert all(before[t] for t in before if t != "import_receipt"), \
        [t for t in before if not before[t]]
    with db.write() as s:
        for table in models.projector.tables:
            s.execute(table.delete())
        models.store.replay(s)
    assert snapshot(db) == before
