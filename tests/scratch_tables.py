"""A service's tables in a test's fresh, empty database, made the quick way (`make_db` in
tests/conftest.py): on SQLite a copy of a database file made once per run and metadata, on
PostgreSQL the DDL `metadata.create_all` emits, compiled once per run and metadata and sent
in one round trip. Both make exactly what `metadata.create_all(engine, checkfirst=False)`
makes on an empty database (tests/test_conftest.py compares them); that took a round trip
and a compilation per table and index, per test."""
import shutil
from pathlib import Path

from sqlalchemy import MetaData, create_mock_engine

from svckit.db import Database


def postgresql_ddl(metadata: MetaData) -> str:
    """The statements `metadata.create_all(checkfirst=False)` runs on PostgreSQL, as one
    script (unqualified names: they land in the connection's search path)."""
    statements: list[str] = []

    def collect(sql, *_args, **_kwargs):
        statements.append(str(sql.compile(dialect=engine.dialect)).strip())

    engine = create_mock_engine("postgresql+psycopg2://", collect)
    metadata.create_all(engine, checkfirst=False)
    return ";\n".join(statements) + ";"


class ScratchTables:
    """Per run: the compiled scripts and template files, made on first use per metadata."""

    def __init__(self, directory: Path):
        self.directory = directory
        # keyed by the MetaData object itself (hashed by identity; kept alive, so a
        # test's own short-lived metadata never shares an id with a later one)
        self._scripts: dict[MetaData, str] = {}
        self._templates: dict[MetaData, Path] = {}

    def create(self, db: Database) -> None:
        """Create `db.metadata`'s tables in `db`'s database, which must be empty."""
        if db.is_sqlite:
            self._copy_template(db)
        else:
            self._run_script(db)

    def _run_script(self, db: Database) -> None:
        key = db.metadata
        if key not in self._scripts:
            self._scripts[key] = postgresql_ddl(db.metadata)
        raw = db.engine.raw_connection()  # DBAPI: the script's text is sent as it is
        try:
            cur = raw.cursor()
            cur.execute(self._scripts[key])
            cur.close()
            raw.commit()
        finally:
            raw.close()

    def _copy_template(self, db: Database) -> None:
        target = Path(db.engine.url.database or "")
        if not target.name or target.exists():
            raise ValueError(f"not a new SQLite file: {db.url}")
        key = db.metadata
        if key not in self._templates:
            template = self.directory / f"template-{len(self._templates)}.sqlite3"
            maker = Database(f"sqlite:///{template}", db.metadata)
            db.metadata.create_all(maker.engine, checkfirst=False)
            maker.dispose()  # the last connection closed: the WAL is checkpointed and removed
            self._templates[key] = template
        shutil.copyfile(self._templates[key], target)
