"""svckit.logs: every record is one JSON line with the process's and the request's fields
(or a human line with them in brackets); a traceback is a field of its record; fields bound
in one greenthread stay there; bad settings stop a process at start."""
import io
import json
import logging
import os
import subprocess
import sys
import time

import eventlet
import pytest
from pydantic import ValidationError

from svckit import logs
from svckit.layout import ROOT
from svckit.settings import ServiceSettings
from svckit.tracing_setup import exporter_name, provider_from


@pytest.fixture
def output():
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    switches = {name: getattr(logging, name)
                for name in ("_srcfile", "logThreads", "logMultiprocessing")}
    stream = io.StringIO()
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, value in switches.items():
        setattr(logging, name, value)
    logging.captureWarnings(False)
    logs.set_process("")


def test_a_json_line_per_record_with_request_fields_and_traceback(output):
    logs.configure("status", "json", "INFO", stream=output)
    log = logging.getLogger("svckit.requests")
    token = logs.bind(request_id="r-1", caller="admin", method="status_class")
    try:
        log.info("multi\nline", extra={"outcome": "ok", "duration_ms": 1.5})
        try:
            raise KeyError("boom")
        except KeyError:
            log.exception("failed")
        log.debug("not written at INFO")
    finally:
        logs.unbind(token)
    log.warning("after the request")
    lines = output.getvalue().splitlines()
    assert len(lines) == 3
    first, second, third = (json.loads(line) for line in lines)
    assert first["message"] == "multi\nline" and first["level"] == "INFO"
    assert (first["service"], first["request_id"], first["caller"], first["method"],
            first["outcome"], first["duration_ms"]) == (
        "status", "r-1", "admin", "status_class", "ok", 1.5)
    assert isinstance(first["process"], int) and first["time"].endswith("Z")
    assert "traceback" not in first
    assert second["level"] == "ERROR" and "KeyError: 'boom'" in second["traceback"]
    assert "request_id" not in third  # unbound after the request


def test_text_lines_keep_the_human_format_with_fields_in_brackets(output):
    logs.configure("gateway", "text", "INFO", stream=output)
    token = logs.bind(request_id="r-2")
    try:
        logging.getLogger("gateway.requests").info("GET / 200", extra={"status": 200})
    finally:
        logs.unbind(token)
    line = output.getvalue().strip()
    assert " gateway INFO gateway.requests: GET / 200 [request_id=r-2 status=200]" in line


def test_bound_fields_belong_to_their_greenthread():
    seen = []

    def worker(n):
        token = logs.bind(request_id=str(n))
        eventlet.sleep(0.001 * (5 - n))
        seen.append((str(n), logs.bound()["request_id"]))
        logs.unbind(token)

    threads = [eventlet.spawn(worker, n) for n in range(5)]
    for thread in threads:
        thread.wait()
    assert [a for a, b in seen if a != b] == [] and len(seen) == 5
    assert logs.bound() == {}


def test_nameko_s_own_record_of_a_failed_worker_is_dropped():
    keep = logs.WorkerErrorsLoggedOnce()
    record = logging.LogRecord("nameko.containers", logging.WARNING, "", 0,
                               "(expected) error handling worker %s: %s", ("w", "e"), None)
    assert not keep.filter(record)
    other = logging.LogRecord("nameko.containers", logging.WARNING, "", 0,
                              "killing %s managed thread(s)", (1,), None)
    assert keep.filter(other)


@pytest.mark.parametrize("field, value", [
    ("LOG_FORMAT", "xml"), ("OTEL_TRACES_EXPORTER", "jaeger"),
    ("OTEL_TRACES_SAMPLER", "sometimes"), ("OTEL_TRACES_SAMPLER_ARG", "2"),
    ("OTEL_TRACES_SAMPLER_ARG", "half"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")])
def test_bad_settings_stop_the_process_at_start_with_the_setting_named(field, value):
    with pytest.raises(ValidationError, match=field):
        ServiceSettings(**{field: value})


def test_tracing_is_off_unless_an_exporter_or_endpoint_is_given():
    assert exporter_name(ServiceSettings()) == "none"
    assert provider_from(ServiceSettings(), "status") is None
    assert exporter_name(ServiceSettings(OTEL_EXPORTER_OTLP_ENDPOINT="http://c:4318")) == "otlp"
    assert exporter_name(ServiceSettings(OTEL_TRACES_EXPORTER="OTLP")) == "otlp"
    assert exporter_name(ServiceSettings(OTEL_TRACES_EXPORTER="otlp",
                                         OTEL_SDK_DISABLED="true")) == "none"
    provider = provider_from(ServiceSettings(
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://127.0.0.1:9/v1/traces",
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test,team=ops%20core",
        OTEL_TRACES_SAMPLER="traceidratio", OTEL_TRACES_SAMPLER_ARG="0.25"), "status")
    try:
        attributes = provider.resource.attributes
        assert attributes["service.name"] == "inventree-status"
        assert attributes["team"] == "ops core"
        assert "0.25" in provider.sampler.get_description()
    finally:
        provider.shutdown()


@pytest.mark.parametrize("extra, bound", [
    ({"outcome": "ok", "duration_ms": 1.25, "status": 200}, {"request_id": "r", "caller": ""}),
    ({"route": "/api/x/{id}/", "error": "Ünïcode \"quoted\"\nline"}, {}),
    ({"bytes": True, "duration_ms": float("nan"), "status": 10 ** 20}, {"method": None}),
    ({"trace_id": "t" * 32}, {"span_id": "s" * 16}),
    ({}, {"request_id": "r", "trace_id": None}),
])
def test_a_line_written_directly_is_the_line_logging_writes(output, extra, bound):
    """svckit.logs.write skips the LogRecord: its line is the formatter's, byte for byte
    (but the time), for every kind of value and with or without a trace."""
    logs.configure("status", "json", "INFO", stream=output,
                   trace_ids=lambda: ("a" * 32, "b" * 16))
    log = logging.getLogger("svckit.requests")
    token = logs.bind(**bound)
    try:
        logs.write(log, logging.INFO, "done in 1.0 ms", extra)
        log.info("done in 1.0 ms", extra=extra)
        logs.write(log, logging.DEBUG, "not at INFO", extra)
    finally:
        logs.unbind(token)
    direct, logged = output.getvalue().splitlines()
    assert direct.split(", ", 1)[1] == logged.split(", ", 1)[1]
    assert json.loads(direct)["time"].endswith("Z")


def test_write_goes_through_logging_where_a_handler_or_the_text_format_waits(output, caplog):
    caplog.set_level(logging.INFO)  # the capture handler is on the root too: no shortcut
    log = logging.getLogger("svckit.requests")
    logs.write(log, logging.INFO, "captured", {"outcome": "ok"})
    [record] = [r for r in caplog.records if r.getMessage() == "captured"]
    assert record.outcome == "ok" and record.levelname == "INFO"
    logs.configure("gateway", "text", "INFO", stream=output)
    logs.write(log, logging.WARNING, "as text", {"status": 503})
    assert "WARNING svckit.requests: as text [status=503]" in output.getvalue()


def test_write_survives_a_stream_that_fails(output):
    class Broken(io.StringIO):
        def write(self, text):
            raise OSError("disk full")

    logs.configure("status", "json", "INFO", stream=Broken())
    saved, logging.raiseExceptions = logging.raiseExceptions, False  # handleError: silent
    try:
        logs.write(logging.getLogger("svckit.requests"), logging.INFO, "lost", {})
    finally:
        logging.raiseExceptions = saved


def test_lines_below_warning_wait_and_go_out_together(output):
    class Counted(io.StringIO):
        writes = 0

        def write(self, text):
            type(self).writes += 1
            return super().write(text)

    stream = Counted()
    logs.configure("status", "json", "INFO", stream=stream, flush_seconds=0.2)
    log = logging.getLogger("svckit.requests")
    for n in range(5):
        logs.write(log, logging.INFO, f"line {n}", {"outcome": "ok"})
    log.info("a record through logging")
    assert stream.getvalue() == "" and Counted.writes == 0  # waiting
    deadline = time.monotonic() + 5
    while not stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()] == [
        "line 0", "line 1", "line 2", "line 3", "line 4", "a record through logging"]
    assert Counted.writes == 1
    log.info("waits")
    log.warning("at once")  # and what waited before it, in order
    assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()][-2:] == [
        "waits", "at once"]
    log.info("at exit")
    logging.getLogger().handlers[0].flush()  # what logging.shutdown does at exit
    assert stream.getvalue().splitlines()[-1].count("at exit") == 1


def test_a_forked_child_does_not_write_its_parent_s_waiting_lines_again(tmp_path):
    script = (
        "import logging, os\n"
        "from svckit import logs\n"
        f"logs.configure('status', 'json', 'INFO', stream=open({str(tmp_path / 'out')!r}, 'a'),"
        " flush_seconds=5)\n"
        "logging.getLogger('x').info('before the fork')\n"
        "pid = os.fork()\n"
        "logging.getLogger('x').info('child' if pid == 0 else 'parent')\n"
        "if pid: os.waitpid(pid, 0)\n")
    subprocess.run([sys.executable, "-c", script], check=True, cwd=ROOT, timeout=60,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    messages = sorted(json.loads(line)["message"]
                      for line in (tmp_path / "out").read_text().splitlines())
    assert messages == ["before the fork", "child", "parent"]  # each once, exit flushed
