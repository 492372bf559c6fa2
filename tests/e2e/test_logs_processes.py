"""Structured logs of real processes (svckit.logs): the users and status services started
by `svckit.run` and the gateway under gunicorn, each writing to a file of its own; every line
of each is one JSON object. A 404 is one INFO line without a traceback in the gateway and in
the service that answered it; a forced 500 (the status service's table dropped under it) is
one ERROR record with the traceback in that service and one ERROR line in the gateway; the
gateway's request id is on the services' lines."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import requests

from svckit import children
from svckit.layout import ROOT
from svckit.signing import signer_from_env
from tests.e2e.conftest import free_port, own_vhost

ADMIN = ("admin", "admin-pass-123")
ROUTE = "/api/generic/status/{statusmodel}/"


def run_tool(env, *args):
    subprocess.run([sys.executable, *args], env=env, cwd=ROOT, check=True,
                   capture_output=True, text=True)


@pytest.fixture(scope="module")
def processes(tmp_path_factory):
    data = tmp_path_factory.mktemp("logs")
    with own_vhost() as vhost:
        port = free_port()
        env = {**{k: v for k, v in os.environ.items()
                  if not k.startswith(("LOG_", "OTEL_"))},
               "AMQP_URI": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
               "INVENTREE_DATA_DIR": str(data), "LOG_FORMAT": "json", "LOG_LEVEL": "INFO",
               "INVENTREE_ADMIN_USER": ADMIN[0], "INVENTREE_ADMIN_PASSWORD": ADMIN[1],
               "INVENTREE_ADMIN_EMAIL": "admin@example.com", "PASSWORD_ITERATIONS": "1000",
               "GATEWAY_BIND": f"127.0.0.1:{port}", "GATEWAY_WORKERS": "1",
               "GATEWAY_THREADS": "2", "GATEWAY_ACCESS_LOG": "-", "PYTHONPATH": str(ROOT)}
        signer_from_env(env)  # the processes share the key generated into the data dir
        run_tool(env, "-m", "svckit.migrate", "users", "status")
        run_tool(env, "-m", "services.users.cli", "ensure-admin")
        commands = {"users": [sys.executable, "-m", "svckit.run", "users"],
                    "status": [sys.executable, "-m", "svckit.run", "status"],
                    "gateway": [sys.executable, "-m", "gunicorn", "-c",
                                "gateway/gunicorn_conf.py", "gateway.wsgi:app"]}
        files = {name: open(data / f"{name}.log", "w") for name in commands}
        procs = {name: children.spawn(command, env, files[name])
                 for name, command in commands.items()}
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:  # until the gateway, users and status all answer
                for name, proc in procs.items():
                    assert proc.poll() is None, f"{name} exited: " + (
                        data / f"{name}.log").read_text()[-3000:]
                try:
                    if requests.get(f"{url}/api/generic/status/StockStatus/", auth=ADMIN,
                                    timeout=5).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                assert time.monotonic() < deadline, "the processes did not answer"
                time.sleep(0.5)
            yield url, data, procs
        finally:
            children.stop(procs.values(), timeout=15)
            for f in files.values():
                f.close()


def lines_of(data, name) -> list[dict]:
    """Every line the process wrote, each parsed as one JSON object (any other line fails)."""
    records = []
    for number, line in enumerate((data / f"{name}.log").read_text().splitlines(), 1):
        assert line.startswith("{"), f"{name}.log line {number} is not JSON: {line[:300]}"
        records.append(json.loads(line))
    return records


def with_request(records, request_id) -> list[dict]:
    return [r for r in records if r.get("request_id") == request_id]


def eventually_logged(data, name, request_id, logger, seconds=10.0) -> list[dict]:
    deadline = time.monotonic() + seconds
    while True:
        found = [r for r in with_request(lines_of(data, name), request_id)
                 if r["logger"] == logger]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_every_line_of_every_process_is_json_with_the_common_fields(processes):
    _, data, _ = processes
    for name in ("users", "status", "gateway"):
        deadline = time.monotonic() + 10  # INFO lines wait up to LOG_FLUSH_SECONDS
        while not (records := lines_of(data, name)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert records, name
        for record in records:
            assert {"time", "level", "process", "service", "logger", "message"} <= set(record)
            assert record["service"] == name
    deadline = time.monotonic() + 10
    while not (started := [r for r in lines_of(data, "status")
                           if r["message"] == "service status started"]):
        assert time.monotonic() < deadline, "no 'service status started' line"
        time.sleep(0.1)
    assert started[0]["level"] == "INFO"


def test_a_404_is_one_info_line_without_traceback_carrying_the_request_id(processes):
    url, data, _ = processes
    answer = requests.get(f"{url}/api/generic/status/NoSuchClass/", auth=ADMIN, timeout=10,
                          headers={"X-Request-ID": "logs-404"})
    assert answer.status_code == 404
    service = eventually_logged(data, "status", "logs-404", "svckit.requests")
    assert len(service) == 1
    line = service[0]
    assert (line["level"], line["outcome"], line["status"], line["method"], line["caller"]) == (
        "INFO", "client_error", 404, "status_class", "admin")
    assert line["duration_ms"] >= 0 and "traceback" not in line
    assert not [r for r in with_request(lines_of(data, "status"), "logs-404")
                if "traceback" in r or r["level"] != "INFO"]
    gateway = eventually_logged(data, "gateway", "logs-404", "gateway.requests")
    assert len(gateway) == 1
    assert (gateway[0]["level"], gateway[0]["status"], gateway[0]["route"],
            gateway[0]["method"], gateway[0]["outcome"]) == (
        "INFO", 404, ROUTE, "GET", "client_error")
    assert "traceback" not in gateway[0]
    access = eventually_logged(data, "gateway", "logs-404", "gunicorn.access")
    assert len(access) == 1 and access[0]["status"] == 404
    assert access[0]["path"] == "/api/generic/status/NoSuchClass/"


def test_a_forced_500_is_one_error_record_with_its_traceback(processes):
    url, data, _ = processes
    with sqlite3.connect(data / "status.sqlite3") as conn:  # the service's table vanishes
        conn.execute("DROP TABLE custom_state")
    answer = requests.get(f"{url}/api/generic/status/StockStatus/", auth=ADMIN, timeout=10,
                          headers={"X-Request-ID": "logs-500"})
    assert answer.status_code == 500
    service = eventually_logged(data, "status", "logs-500", "svckit.requests")
    assert len(service) == 1
    line = service[0]
    assert (line["level"], line["outcome"], line["method"]) == (
        "ERROR", "server_error", "status_class")
    assert "OperationalError" in line["traceback"] and "custom_state" in line["traceback"]
    assert line["traceback"].startswith("Traceback (most recent call last)")
    with_tracebacks = [r for r in lines_of(data, "status") if "traceback" in r]
    assert with_tracebacks == [line]  # nameko's own record of the failure is not written
    gateway = eventually_logged(data, "gateway", "logs-500", "gateway.requests")
    assert len(gateway) == 1
    assert (gateway[0]["level"], gateway[0]["status"], gateway[0]["outcome"]) == (
        "ERROR", 500, "server_error")
    assert gateway[0]["error"] == "status.status_class: OperationalError"


def test_processes_stop_cleanly_on_sigterm(processes):
    """Last: the stop is logged as JSON too (no stray plain-text line at exit)."""
    _, data, procs = processes
    for proc in procs.values():
        proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        proc.wait(timeout=30)
    for name in ("users", "status", "gateway"):
        lines_of(data, name)
