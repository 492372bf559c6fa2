"""The audit service's trail is not a projection of its own log (that log stays empty):
a replay keeps every recorded event, and `GET /api/events/` answers the same after it."""
from sqlalchemy import select

from services.audit import models
from services.audit.service import Service, record_events
from svckit.replay import replay as replay_service
from tests.audit.test_audit import event
from tests.helpers import STAFF, worker_factory


def test_replay_keeps_the_recorded_trail(make_db, db_url, monkeypatch):
    db = make_db(models.metadata)
    record_events(db, [event(1), event(2, "custom_state.updated"),
                       event(3, "token.revoked", "users"), event(1)], b"key")
    svc = worker_factory(Service, db=db, caller=STAFF)

    def visible() -> dict:
        return {"all": svc.list_events(params={})["results"],
                "users": svc.list_events(params={"service": "users"})["results"]}

    before = visible()
    assert [e["id"] for e in before["all"]] == ["status:1", "status:2", "users:3"]
    monkeypatch.setenv("AUDIT_DATABASE_URL", db_url)
    assert replay_service("audit") == 0  # `python -m svckit.replay audit`
    assert visible() == before
    with db.read() as s:
        assert len(s.execute(select(models.audit_events)).all()) == 3
