"""Fixtures of svckit's tests."""
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from svckit.cluster.postgres import Postgres, postgres_bin


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def private_postgres():
    """A PostgreSQL server of the test module's own (Debian's binaries, a temporary data
    directory, a free port), which its tests may stop and start; started again after each
    test that left it stopped is up to the test (`Postgres.start`)."""
    try:
        postgres_bin()
    except RuntimeError:
        pytest.skip("PostgreSQL binaries are not installed")
    directory = Path(tempfile.mkdtemp(prefix="svckit-pg-"))
    directory.chmod(0o755)  # the server runs as the postgres user when the tests run as root
    server = Postgres(directory, free_port())
    server.start()
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)
