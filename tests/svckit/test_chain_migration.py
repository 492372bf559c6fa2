"""Events written before the hash chain existed are chained by the revision that adds it, in
the order of their ids, so an upgraded database verifies intact, and new events continue the
chain. For a service (status) and for the audit service (whose own tables change too)."""
import json
from datetime import datetime

import pytest
from sqlalchemy import text

from services.audit import models as audit_models
from services.status import models as status_models
from svckit import chainlog
from svckit.db import Database
from svckit.hashchain import GENESIS
from svckit.schema_history import SchemaHistory, migration_engine
from tests.helpers import schema_differences

OLD_EVENT = ("INSERT INTO event_log (stream_type, stream_id, version, type, payload, actor, "
             "request_id, created, published) VALUES ('custom_state', :id, 1, "
             "'custom_state.created', :payload, 'admin', 'r', :created, :created)")


def state(n: int) -> str:
    return json.dumps({"key": 100 + n, "name": f"s{n}", "label": f"S{n}", "color": "success",
                       "logical_key": 10, "model": 7, "reference_status": "StockStatus"})


@pytest.mark.parametrize("service, models", [("status", status_models),
                                             ("audit", audit_models)])
def test_an_upgraded_log_is_chained_and_verifies(db_url, service, models):
    engine = migration_engine(db_url)
    history = SchemaHistory(service)
    previous = "0002"  # before the trace context (0003) and the chain (0004)
    assert history.upgrade(engine, previous) == previous
    with engine.begin() as conn:
        for n in range(1, 5):
            conn.execute(text(OLD_EVENT), {"id": str(n), "payload": state(n),
                                           "created": datetime(2026, 11, 1, 10, n)})
    assert history.upgrade(engine, "0004") == "0004"  # the chain
    history.upgrade(engine)  # and whatever came after it
    engine.dispose()
    db = Database(db_url, models.metadata)
    try:
        assert schema_differences(db_url, models.metadata) == []
        store = models.store
        with db.read() as s:
            rows = s.execute(text("SELECT id, chain_seq, prev_hash, schema_version "
                                  "FROM event_log ORDER BY id")).all()
            answer = chainlog.verify(store, s)
        assert [r.chain_seq for r in rows] == [1, 2, 3, 4]
        assert rows[0].prev_hash == GENESIS and {r.schema_version for r in rows} == {1}
        assert answer["status"] == "intact" and answer["count"] == 4
        if service == "status":  # new events continue the chain
            with db.write() as s:
                store.record(s, "custom_state", 9, "custom_state.created",
                             json.loads(state(9)), version=1)
            with db.write() as s:  # as the relay does before it publishes
                assert chainlog.chain_pending(store, s) == 1
            with db.read() as s:
                answer = chainlog.verify(store, s)
            assert answer["status"] == "intact" and answer["count"] == 5
    finally:
        db.dispose()
