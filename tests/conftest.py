"""Shared fixtures. eventlet's monkey patching must come before anything else is imported
(nameko's containers and the broker tests need it)."""
import svckit  # noqa: F401  (quiets eventlet's deprecation warning)

# isort: split
import eventlet  # noqa: E402

eventlet.monkey_patch()

import os  # noqa: E402
import uuid  # noqa: E402

import pytest  # noqa: E402

os.environ.setdefault("PASSWORD_ITERATIONS", "1000")  # real PBKDF2, fewer rounds for speed

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def postgres_reachable() -> bool:
    try:
        import psycopg2
        psycopg2.connect(PG_ADMIN_URL, connect_timeout=2).close()
        return True
    except Exception:
        return False


_BACKENDS = ["sqlite"] + (["postgresql"] if postgres_reachable() else [])

# fixtures that need RabbitMQ: nameko's (its pytest plugin) and the e2e stack's
BROKER_FIXTURES = {"rabbit_config", "rabbit_manager", "amqp_uri", "vhost_pipeline",
                   "container_factory", "runner_factory", "vhost", "stack"}
E2E_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "e2e")
CLUSTER_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cluster")


def management_client(uri: str):
    """nameko's client of the RabbitMQ management API, retrying a request whose kept-alive
    connection the server closed meanwhile (it drops idle ones: the vhost deleted at the
    end of a long run otherwise fails with RemoteDisconnected)."""
    from nameko.testing import rabbit
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry
    client = rabbit.Client(uri)
    retry = Retry(total=3, connect=3, read=3, status=0, allowed_methods=None, backoff_factor=0.1)
    client._session.mount("http://", HTTPAdapter(max_retries=retry))
    return client


@pytest.fixture(scope="session")
def rabbit_manager(request):
    """Replaces nameko's fixture of that name (see management_client)."""
    return management_client(request.config.getoption("RABBIT_API_URI"))


def pytest_collection_modifyitems(config, items):
    """Mark each test with its kind (pyproject's markers) where the kind is plain to see:
    under tests/e2e/ `e2e` and `broker`; under tests/cluster/ `cluster`; using a broker
    fixture `broker`; the PostgreSQL case of `db_url` `postgres`. `make test-unit`
    deselects `broker`, `e2e` and `cluster`."""
    for item in items:
        if str(item.path).startswith(E2E_DIR + os.sep):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.broker)
        elif str(item.path).startswith(CLUSTER_DIR + os.sep):
            item.add_marker(pytest.mark.cluster)
        elif BROKER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.broker)
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("db_url") == "postgresql":
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(params=_BACKENDS)
def db_url(request, tmp_path):
    """A fresh, empty database URL: SQLite always, PostgreSQL too when it is reachable."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    import psycopg2
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(PG_ADMIN_URL)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://")
    yield f"{base}/{name}"
    admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.close()


@pytest.fixture
def make_db(db_url):
    """Build a service's Database on the test URL, with its tables created."""
    from svckit.db import Database
    made = []

    def make(metadata):
        db = Database(db_url, metadata)
        db.create_all()
        made.append(db)
        return db

    yield make
    for db in made:
        db.dispose()
