"""Start-up while the database or the broker is not there: the service process waits and
retries with capped backoff, one log line per attempt, reports not ready meanwhile, and
starts once both answer (svckit.startup, used by `python -m svckit.run`)."""
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from svckit import readiness, startup
from tests.helpers import Acceptor
from tests.svckit.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_delays_double_up_to_the_cap():
    waits = startup.delays(cap=3)
    assert [next(waits) for _ in range(6)] == [0.5, 1, 2, 3, 3, 3]


def test_waits_for_each_dependency_and_reports_not_ready(caplog):
    answers = {"database": ["refused", "refused", "refused", None], "broker": ["down", None]}
    slept = []
    seen_problems = []

    def check(component):
        def run():
            outcome = answers[component].pop(0)
            if outcome:
                raise ConnectionRefusedError(outcome)
        return run

    def sleep(seconds):
        slept.append(seconds)
        seen_problems.append(readiness.problems())

    deps = [startup.Dependency("database", "the db", check("database")),
            startup.Dependency("broker", "the broker", check("broker"))]
    with caplog.at_level("WARNING", logger="svckit.startup"):
        assert startup.wait_for_dependencies("svc", deps, lambda: False, 1, sleep)
    assert slept == [0.5, 1, 1, 0.5]
    assert seen_problems[0] == {"database": "ConnectionRefusedError: refused"}
    assert seen_problems[-1] == {"broker": "ConnectionRefusedError: down"}
    assert not {"database", "broker"} & set(readiness.problems())
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == ("svc: cannot reach the db (attempt 1: ConnectionRefusedError: "
                        "refused); next try in 0.5 s")
    assert len(lines) == 4


def test_gives_up_waiting_when_asked_to_stop():
    stop = {"now": False}

    def failing():
        raise OSError("nothing there")

    def sleep(_seconds):
        stop["now"] = True

    deps = [startup.Dependency("broker", "the broker", failing)]
    assert not startup.wait_for_dependencies("svc", deps, lambda: stop["now"], 10, sleep)
    readiness.ready("broker")


class Forwarder:
    """A TCP port that forwards to another once `open()` is called (until then, nothing
    listens on it: connections are refused)."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = free_port()
        self.server: Acceptor | None = None

    def open(self):
        self.server = Acceptor(self._forward, self.port)

    def _forward(self, client):
        upstream = socket.create_connection(self.target)
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        if self.server is not None:
            self.server.close()


def read_until(path: Path, text: str, proc: subprocess.Popen, seconds=90.0) -> str:
    deadline = time.monotonic() + seconds
    while True:
        log = path.read_text(errors="replace") if path.exists() else ""
        if text in log:
            return log
        assert proc.poll() is None, f"the service exited:\n{log}"
        assert time.monotonic() < deadline, f"{text!r} not logged in time:\n{log}"
        time.sleep(0.1)


@pytest.mark.postgres
def test_a_service_process_waits_for_its_database_and_broker(private_postgres, rabbit_config,
                                                            tmp_path):
    """`python -m svckit.run status` started with its PostgreSQL stopped and no broker on its
    port: it logs its attempts and stays up; once both are there it starts and answers."""
    private_postgres.create_databases(["startup"])
    private_postgres.stop()
    amqp = urlsplit(rabbit_config["AMQP_URI"])
    broker = Forwarder((amqp.hostname or "127.0.0.1", amqp.port or 5672))
    amqp_uri = amqp._replace(netloc=f"{amqp.username}:{amqp.password}@127.0.0.1:{broker.port}")
    env = {**os.environ, "AMQP_URI": amqp_uri.geturl(), "INVENTREE_DATA_DIR": str(tmp_path),
           "STATUS_DATABASE_URL": private_postgres.url("startup"),
           "STARTUP_RETRY_MAX_SECONDS": "1", "PYTHONPATH": str(ROOT)}
    log_path = tmp_path / "status.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "svckit.run", "status"], cwd=ROOT,
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        read_until(log_path, "(attempt 3: ", proc)  # the database, three times
        private_postgres.start()
        subprocess.run([sys.executable, "-m", "svckit.migrate", "status"], cwd=ROOT, env=env,
                       check=True, capture_output=True, timeout=300)
        text = read_until(log_path, "cannot reach the broker", proc)
        assert "service status started" not in text
        broker.open()
        text = read_until(log_path, "service status started", proc)
        attempts = [line for line in text.splitlines() if "cannot reach" in line]
        assert all("next try in" in line for line in attempts)
        waits = [float(line.rsplit("next try in ", 1)[1].split(" ")[0]) for line in attempts]
        assert max(waits) == 1.0  # STARTUP_RETRY_MAX_SECONDS, read by svckit.run at start
        assert any("cannot reach the status database (127.0.0.1:" in line
                   and "OperationalError" in line for line in attempts)
        probe = subprocess.run([sys.executable, "-m", "svckit.probe", "status"], cwd=ROOT,
                               env=env, capture_output=True, timeout=120)
        assert probe.returncode == 0, probe.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        finally:
            proc.kill()
            broker.close()
            if not private_postgres.running:
                private_postgres.start()
    assert proc.returncode == 0, log_path.read_text()
