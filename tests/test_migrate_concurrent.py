"""Replicas that start together each run `svckit.migrate` on the same database: they take
turns on the migration lock, and all of them succeed."""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text

from services.users import models
from svckit.layout import ROOT
from svckit.migration_lock import PG_LOCK_KEYS, migration_lock
from svckit.schema_history import VERSION_TABLE, SchemaHistory, migration_engine
from tests.helpers import schema_differences

REPLICAS = 2
HEAD = SchemaHistory("users").script.get_current_head()  # the newest revision


def lock_waiters(conn) -> int:
    """Processes waiting for the database's migration lock."""
    if conn.dialect.name == "postgresql":
        waiting = conn.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND classid = :space AND objid = :key AND objsubid = 2"), PG_LOCK_KEYS).scalar()
        conn.rollback()
        return waiting
    inode = os.stat(f"{conn.engine.url.database}.migrate-lock").st_ino
    blocked = re.compile(rf"^\d+: +-> FLOCK .*:{inode} ", re.M)  # /proc/locks: waiters, "->"
    return len(blocked.findall(Path("/proc/locks").read_text()))


def test_replicas_migrating_at_once_wait_for_each_other_and_all_succeed(db_url, tmp_path):
    env = {**os.environ, "USERS_DATABASE_URL": db_url, "INVENTREE_DATA_DIR": str(tmp_path)}
    engine = migration_engine(db_url)
    try:
        with engine.connect() as conn:
            with migration_lock(conn):  # as if another replica were migrating
                replicas = [subprocess.Popen(
                    [sys.executable, "-m", "svckit.migrate", "users"], cwd=ROOT, env=env,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    for _ in range(REPLICAS)]
                deadline = time.monotonic() + 120
                while lock_waiters(conn) < REPLICAS and time.monotonic() < deadline:
                    assert all(r.poll() is None for r in replicas), "a replica did not wait"
                    time.sleep(0.05)
                assert lock_waiters(conn) == REPLICAS
            results = [r.communicate(timeout=120) for r in replicas]
            assert [r.returncode for r in replicas] == [0] * REPLICAS, results
            assert all(out.startswith(f"migrated users to {HEAD}") for out, _ in results), results
            versions = conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").all()
            assert versions == [(HEAD,)]
    finally:
        engine.dispose()
    assert schema_differences(db_url, models.metadata) == []
