"""A database made by the release before migrations (`create_all`, no `alembic_version`) is
recognised, stamped with revision 0001 and upgraded by `python -m svckit.migrate`: its rows
are served as before and its schema is then the models' (users revisions 0002 to the newest
included)."""
import os
import subprocess
import sys

import pytest
from alembic import op
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, String, insert, select
from sqlalchemy.exc import IntegrityError

from services.users import models, roles, users
from services.users.service import Service
from svckit.context import SYSTEM
from svckit.db import Database
from svckit.layout import ROOT
from svckit.migrate import migrate
from svckit.schema_history import VERSION_TABLE, SchemaHistory, migration_engine
from tests.helpers import ROUNDS, schema_differences, worker_factory

PASSWORD = "Sturdy-pass-77"
HEAD = SchemaHistory("users").script.get_current_head()  # the newest revision


def previous_release_metadata() -> MetaData:
    """The users models as the release before revision 0002 had them (neither 0002's index
    nor the tables of 0003 and 0004; the event log is the models' own, as the code that writes
    the old database here records it, so 0005 and 0006 find their columns there and 0006 only
    chains its events, and 0007 finds its index)."""
    before = MetaData()
    for table in models.metadata.sorted_tables:
        if table.name not in ("known_login_address", "idempotency_record", "request_ledger"):
            table.to_metadata(before)
    owner = before.tables["owner"]
    owner.indexes = {i for i in owner.indexes if i.name != "ix_owner_target"}
    return before


def run_module(env: dict, *args: str) -> str:
    """`python -m <args>` from the repository root with `env` added; its output."""
    done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def version_rows(db) -> list:
    with db.read() as s:
        return s.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").all()


def test_a_previous_release_database_is_stamped_upgraded_and_served_the_same(db_url, tmp_path):
    old = Database(db_url, previous_release_metadata())
    old.create_all()  # what the previous release's `svckit.migrate` did
    with old.write() as s:
        root_user = users.new_user(s, SYSTEM, rounds=ROUNDS, username="root", password=PASSWORD,
                                         is_superuser=True)
        root = worker_factory(Service, db=old, caller=roles.caller_for(s, root_user))
    editors = root.create_group(data={"name": "editors", "roles": {"part": ["view"]}})
    root.create_group(data={"name": "gone"})
    root.delete_group(pk=2)
    carol = root.create_user(data={"username": "carol", "first_name": "Carol", "last_name": "C",
                                   "email": "carol@example.com", "groups": [editors["pk"]]})
    root.update_user(pk=carol["pk"], data={"username": "caroline"}, partial=True)

    def served(service) -> dict:
        return {"users": service.list_users(params={}), "groups": service.list_groups(params={}),
                "owners": service.list_owners(params={}),
                "owner": [service.get_owner(pk=o["pk"])
                          for o in service.list_owners(params={})["results"]]}

    before = served(root)
    old.dispose()
    assert [o["name"] for o in before["owners"]["results"]] == ["root", "editors", "caroline"]
    assert schema_differences(db_url, models.metadata) != []  # revision 0002 is missing

    out = run_module({"USERS_DATABASE_URL": db_url, "INVENTREE_DATA_DIR": str(tmp_path)},
                     "svckit.migrate", "users")
    assert out.startswith(f"migrated users to {HEAD}")

    db = Database(db_url, models.metadata)
    try:
        assert version_rows(db) == [(HEAD,)]
        assert schema_differences(db_url, models.metadata) == []
        with db.read() as s:
            root = worker_factory(Service, db=db, caller=roles.caller_for(
                s, users.get_user(s, root_user["id"])))
        assert served(root) == before
        dave = root.create_user(data={"username": "dave", "first_name": "D", "last_name": "D",
                                      "email": ""})
        root.update_user(pk=dave["pk"], data={"username": "david"}, partial=True)
        root.delete_user(pk=carol["pk"])
        assert [o["name"] for o in root.list_owners(params={})["results"]] == [
            "root", "editors", "david"]
        with pytest.raises(IntegrityError), db.write() as s:  # the new unique index
            s.execute(insert(models.owners).values(id=99, owner_type="user",
                                                   owner_id=dave["pk"], name="again"))
        with db.read() as s:
            assert s.execute(select(models.owners.c.id).where(
                models.owners.c.id == 99)).first() is None
    finally:
        db.dispose()


def test_a_database_of_this_release_is_only_upgraded_not_stamped(db_url):
    """A database already at revision 0001 (made by its migrations) goes on to the newest."""
    history = SchemaHistory("users")
    db = Database(db_url, models.metadata)
    try:
        assert history.upgrade(db.engine, "0001") == "0001"
        assert version_rows(db) == [("0001",)]
        assert migrate("users", db_url) == (db_url, HEAD)
        assert version_rows(db) == [(HEAD,)]
        assert schema_differences(db_url, models.metadata) == []
    finally:
        db.dispose()


def test_a_sqlite_table_rebuild_keeps_the_rows_that_refer_to_it(tmp_path):
    """A batch migration rebuilds an SQLite table by dropping it: with foreign keys enforced
    the drop would delete every api_token of every user (ON DELETE CASCADE)."""
    url = f"sqlite:///{tmp_path / 'users.sqlite3'}"
    migrate("users", url)
    db = Database(url, models.metadata)
    try:
        with db.write() as s:
            user = users.new_user(s, SYSTEM, rounds=ROUNDS, username="carol", password=PASSWORD)
            root = worker_factory(Service, db=db, caller=roles.caller_for(s, user))
        root.token(name="script", meta={})
    finally:
        db.dispose()
    engine = migration_engine(url)
    try:
        with engine.connect() as conn, conn.begin():
            with Operations.context(MigrationContext.configure(conn)):
                with op.batch_alter_table("auth_user", recreate="always") as batch:
                    batch.alter_column("email", existing_type=String(254), nullable=True)
            assert conn.execute(select(models.tokens.c.name)).scalars().all() == ["script"]
    finally:
        engine.dispose()


def test_operator_commands_on_a_new_installation_leave_a_migrated_database(tmp_path):
    """`services.users.cli` migrates before it writes, so the `svckit.migrate` after it finds
    a database at the newest revision (not tables without a revision, which it would take
    for the release before 0002's)."""
    env = {"INVENTREE_DATA_DIR": str(tmp_path), "INVENTREE_ADMIN_PASSWORD": PASSWORD}
    assert "created" in run_module(env, "services.users.cli", "ensure-admin")
    assert run_module(env, "svckit.migrate", "users").startswith(f"migrated users to {HEAD}")
