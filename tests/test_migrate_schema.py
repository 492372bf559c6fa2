"""Every service's migrations build exactly the schema its models describe, on SQLite and
PostgreSQL, so models and migrations cannot drift apart."""
import importlib
import shutil

import pytest
from sqlalchemy import Index, inspect

from svckit.migrate import migrate, service_names
from svckit.schema_history import SchemaHistory, migration_engine
from tests.helpers import schema_differences


@pytest.mark.parametrize("service", service_names())
def test_migrations_build_the_models_schema(db_url, service):
    models = importlib.import_module(f"services.{service}.models")
    head = SchemaHistory(service).script.get_current_head()
    assert migrate(service, db_url) == (db_url, head)
    assert schema_differences(db_url, models.metadata) == []
    assert migrate(service, db_url)[1] == head  # again: nothing to do


def test_every_history_is_one_line_of_numbered_revisions_from_0001():
    """One file per revision, numbered on from 0001, each after the one before (no two
    files with one number, no two heads)."""
    for service in service_names():
        history = SchemaHistory(service)
        files = sorted(p.name.split("_")[0] for p in history.directory.glob("*.py"))
        assert files == [f"{n:04d}" for n in range(1, len(files) + 1)], service
        newest_first = [(r.revision, r.down_revision) for r in history.script.walk_revisions()]
        assert newest_first == [(f"{n:04d}", f"{n - 1:04d}" if n > 1 else None)
                                for n in range(len(files), 0, -1)], service


def test_a_changed_model_is_a_difference(db_url):
    """The comparison above can fail: a column the migrations lack is reported."""
    from sqlalchemy import Column, Integer, MetaData, Table
    migrate("status", db_url)
    models = importlib.import_module("services.status.models")
    changed = MetaData()
    for table in models.metadata.sorted_tables:
        table.to_metadata(changed)
    Table("custom_state", changed, Column("extra", Integer), extend_existing=True)
    engine = migration_engine(db_url)
    try:
        assert "extra" not in [c["name"] for c in inspect(engine).get_columns("custom_state")]
    finally:
        engine.dispose()
    assert [d[0] for d in schema_differences(db_url, changed)] == ["add_column"]


def test_a_new_revision_is_written_from_what_the_models_add(tmp_path, monkeypatch, capsys):
    """`python -m svckit.migrate --revision status -m ...` (in a copy of the history) writes
    the next revision, which then brings a database to the changed models."""
    from svckit.layout import ROOT
    from svckit.migrate import main
    models = importlib.import_module("services.status.models")
    copy = tmp_path / "services" / "status" / "migrations"
    shutil.copytree(ROOT / "services" / "status" / "migrations", copy)
    monkeypatch.setattr("svckit.schema_history.ROOT", tmp_path)
    index = Index("ix_custom_state_label", models.custom_states.c.label)
    try:
        main(["--revision", "status", "-m", "Index custom state labels"])
        written = copy / "0004_index_custom_state_labels.py"
        assert str(written) in capsys.readouterr().out
        assert "create_index('ix_custom_state_label', ['label'], unique=False)" in (
            written.read_text())
        url = f"sqlite:///{tmp_path / 'status.sqlite3'}"
        assert migrate("status", url) == (url, "0004")
        assert schema_differences(url, models.metadata) == []
    finally:
        models.custom_states.indexes.remove(index)
