"""The importer's scrape-time gauges read from its real database: sessions by status and the
rows waiting (what KEDA scales the importer on besides its RPC queue): rows of files being
imported not read yet, and accepted rows not yet created; none while the database is down."""
from datetime import datetime

from sqlalchemy import insert, update

from services.importer.metrics import SessionsByStatus
from services.importer.models import metadata, rows, sessions
from services.importer.sessions import COMPLETE, IMPORTING, MAPPING, PROCESSING
from svckit.db import Database


def session(pk: int, status: int, file_rows: int, row_count: int) -> dict:
    return {"id": pk, "timestamp": datetime(2026, 1, 1), "data_file": f"import/{pk}.csv",
            "file_format": "csv", "model_type": "projectcode", "status": status,
            "field_defaults": {}, "field_overrides": {}, "field_filters": {},
            "available_fields": {}, "headers": [], "columns": [], "file_rows": file_rows,
            "row_count": row_count, "completed_row_count": 0, "next_index": row_count}


def row(pk: int, session_id: int, accepted: bool, complete: bool = False) -> dict:
    return {"id": pk, "session_id": session_id, "row_index": pk, "row_data": {}, "data": {},
            "valid": True, "complete": complete, "accepted": accepted}


def gauges(db) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in SessionsByStatus(db).collect() for s in family.samples}


def waiting(found: dict, stage: str) -> float:
    return found[("inventree_importer_rows_waiting", (("stage", stage),))]


def test_rows_waiting_to_be_parsed_and_created(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'importer.sqlite3'}", metadata)
    db.create_all()
    try:
        assert waiting(gauges(db), "parse") == 0 and waiting(gauges(db), "create") == 0
        with db.write(notify=False) as s:
            s.execute(insert(sessions), [
                session(1, IMPORTING, file_rows=5000, row_count=1000),  # 4000 to read
                session(2, IMPORTING, file_rows=300, row_count=0),  # 300 to read
                session(3, PROCESSING, file_rows=50, row_count=50),  # read: accepting rows
                session(4, COMPLETE, file_rows=10, row_count=10),
                session(5, MAPPING, file_rows=70, row_count=0),  # not importing yet
            ])
            s.execute(insert(rows), [row(10, 3, accepted=True), row(11, 3, accepted=True),
                                     row(12, 3, accepted=False),
                                     row(13, 4, accepted=False, complete=True)])
        found = gauges(db)
        assert waiting(found, "parse") == 4300
        assert waiting(found, "create") == 2
        assert found[("inventree_importer_sessions", (("status", "importing"),))] == 2
        with db.write(notify=False) as s:  # one row created: the projection unmarks it
            s.execute(update(rows).where(rows.c.id == 10).values(accepted=False, complete=True))
            s.execute(update(sessions).where(sessions.c.id == 2).values(
                row_count=300, status=PROCESSING))
        found = gauges(db)
        assert waiting(found, "create") == 1 and waiting(found, "parse") == 4000
    finally:
        db.dispose()


def test_nothing_while_the_database_is_unreadable(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'missing' / 'importer.sqlite3'}", metadata)
    try:
        assert list(SessionsByStatus(db).collect()) == []
    finally:
        db.dispose()
