"""Small helpers shared by tests."""
import socket
import threading
from contextlib import contextmanager
from pathlib import Path

from nameko.testing.services import worker_factory as nameko_worker_factory

from svckit.context import Caller
from svckit.settings import ServiceSettings

STAFF = Caller(user_id=1, username="admin", is_staff=True, is_superuser=True)
USER = Caller(user_id=2, username="plain")
ANON = Caller()
SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"
ROUNDS = 1000  # PBKDF2 rounds of test passwords (real hashing, fewer rounds for speed)


def worker_factory(service_cls, **dependencies):
    """nameko's worker_factory, whose `settings` are the service's settings class built from
    the environment now (as `svckit.run` builds them at start) unless given."""
    if "settings" not in dependencies:
        dependencies["settings"] = service_cls.settings.settings_class()
    return nameko_worker_factory(service_cls, **dependencies)


@contextmanager
def sqlite_database(path: Path, metadata):
    """A Database on a new SQLite file at `path` with `metadata`'s tables, disposed at the
    end: for tests about SQLite alone (or a service beside the one the test is about)."""
    from svckit.db import Database
    db = Database(f"sqlite:///{path}", metadata)
    db.create_all()
    try:
        yield db
    finally:
        db.dispose()


def service_packages() -> set[str]:
    """The services under services/: those with a `service.py`, or a `service/` package
    assembling the service from entrypoint groups (system)."""
    return {p.name for p in SERVICES_DIR.iterdir()
            if (p / "service.py").exists() or (p / "service" / "__init__.py").exists()}


def service_settings(amqp_uri: str, data_dir, **fields) -> ServiceSettings:
    """Settings of a test service on `amqp_uri` with its own data directory (so its own
    generated caller signing key), and further fields such as its `<NAME>_DATABASE_URL`
    (declared here when ServiceSettings has no such field)."""
    from pydantic import create_model
    extra = {name: (str | None, None) for name in fields
             if name not in ServiceSettings.model_fields}
    cls = create_model("TestServiceSettings", __base__=ServiceSettings, **extra)  # type: ignore[call-overload]
    return cls(AMQP_URI=amqp_uri, INVENTREE_DATA_DIR=str(data_dir), **fields)


def projected_rows(db, models) -> dict:
    """Every row of every table a service projects from its log, table by table, in
    primary key order (what a replay must give back)."""
    from sqlalchemy import select
    with db.read() as s:
        return {t.name: [dict(r) for r in s.execute(
            select(t).order_by(*t.primary_key.columns)).mappings()]
            for t in models.projector.tables}


def replay(db, models) -> int:
    """Empty a service's projected tables and rebuild them from its event log."""
    with db.write() as s:
        for table in models.projector.tables:
            s.execute(table.delete())
        return models.store.replay(s)


def schema_differences(url: str, metadata) -> list:
    """What Alembic's autogenerate would still change (types included) for the database at
    `url` to match `metadata`: nothing when migrations and models agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from svckit.schema_history import migration_engine
    engine = migration_engine(url)
    try:
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(
                conn, opts={"compare_type": True}), metadata)
    finally:
        engine.dispose()


class Acceptor:
    """A listening socket on a loopback port whose connections a thread hands to `handle`.

    `close()` wakes the thread and waits for it before closing the socket: under eventlet a
    green thread still waiting on a closed descriptor collides ("Second simultaneous read")
    with whatever next gets that descriptor's number, such as a later test's connection."""

    def __init__(self, handle, port: int = 0):
        self.handle = handle
        self.sock = socket.create_server(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if not self.running:
                conn.close()
                return
            self.handle(conn)

    def close(self):
        if self.running:
            self.running = False
            socket.create_connection(("127.0.0.1", self.port)).close()
            self.thread.join(5)
        self.sock.close()
