"""A PostgreSQL server of its own: Debian's binaries, its own data directory and loopback
port, trust authentication for the `postgres` user over TCP and no Unix socket, so it can be
stopped, killed and started again without touching the machine's own PostgreSQL.

As root the server runs as the `postgres` user (initdb and postgres refuse root), so the
data directory's parents must be open to that user.
"""
import os
import pwd
import signal
import subprocess
import time
from pathlib import Path

import psycopg2

from svckit import children

STOP_SECONDS = 30.0


def postgres_bin() -> Path:
    """The newest of Debian's PostgreSQL versions installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                   key=lambda p: int(p.parent.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    return found[-1].parent


class Postgres:
    """`start` (creating the data directory the first time), `stop` (fast shutdown: open
    transactions are rolled back), `kill` (SIGKILL of every server process)."""

    def __init__(self, directory: Path, port: int):
        self.directory = directory
        self.data = directory / "data"
        self.port = port
        self.bin = postgres_bin()
        self.proc: subprocess.Popen | None = None

    def url(self, database: str) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def _as_owner(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def _init(self):
        self.data.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            for path in (self.directory, self.data):
                owner = pwd.getpwnam("postgres")
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self.data.chmod(0o700)
        subprocess.run(self._as_owner([str(self.bin / "initdb"), "-D", str(self.data),
                                       "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                                       "--locale=C.UTF-8", "--no-sync"]),
                       check=True, capture_output=True, timeout=300)

    def start(self, wait: float = 60.0):
        if not (self.data / "PG_VERSION").exists():
            self._init()
        log = open(self.directory / "server.log", "ab")
        try:
            self.proc = children.spawn(self._as_owner([
                str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                "-c", "max_connections=300"]), dict(os.environ), log)
        finally:
            log.close()
        self.wait_ready(time.monotonic() + wait)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, deadline: float):
        while True:
            if not self.running:
                raise RuntimeError(f"PostgreSQL exited (see {self.directory / 'server.log'})")
            try:
                psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres",
                                 dbname="postgres", connect_timeout=2).close()
                return
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError("PostgreSQL did not start "
                                       f"(see {self.directory / 'server.log'})") from None
                time.sleep(0.2)

    def create_databases(self, names: list[str]):
        """Create each database that does not exist yet."""
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres",
                                dbname="postgres")
        try:
            conn.autocommit = True
            cur = conn.cursor()
            cur.execute("SELECT datname FROM pg_database")
            existing = {row[0] for row in cur.fetchall()}
            for name in names:
                if name not in existing:
                    cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()

    def stop(self):
        if self.proc is not None:
            children.stop([self.proc], sig=signal.SIGINT, timeout=STOP_SECONDS)

    def kill(self):
        if self.proc is not None:
            children.kill(self.proc)

