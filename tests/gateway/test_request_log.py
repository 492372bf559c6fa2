"""The gateway's line per request (gateway/request_log.py), in process against a fake RPC
client: a 2xx or 4xx is one INFO record without a traceback, a service that is down one
WARNING, an exception of the gateway's own one ERROR record with its traceback, a service's
failure one ERROR record naming it (the service logged the traceback)."""
import logging

import pytest

from svckit.errors import NotFound, ServiceUnavailable
from svckit.rpc_client import RemoteFailure
from tests.gateway.fakerpc import FakeRpc, make_app, request


def lines(caplog, request_id) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "gateway.requests"
            and getattr(r, "request_id", None) == request_id]


@pytest.mark.parametrize("answer, status, level, outcome", [
    ({"results": []}, 200, "INFO", "ok"),
    (NotFound(), 404, "INFO", "client_error"),
    (ServiceUnavailable(), 503, "WARNING", "unavailable"),
])
def test_answers_are_one_line_without_traceback(tmp_path, caplog, answer, status, level,
                                                outcome):
    caplog.set_level(logging.INFO)
    app = make_app(FakeRpc({"list_project_codes": answer}), tmp_path)
    result = request(app, "GET", "/api/project-code/", headers={"X-Request-ID": "rid-1"})
    assert result.status == status
    [record] = lines(caplog, "rid-1")
    assert (record.levelname, record.status, record.outcome, record.route, record.caller) == (
        level, status, outcome, "/api/project-code/", "root")
    assert record.exc_info is None and record.duration_ms >= 0


def test_an_exception_of_the_gateway_is_one_error_record_with_its_traceback(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    app = make_app(FakeRpc({"list_project_codes": RuntimeError("gateway bug")}), tmp_path)
    result = request(app, "GET", "/api/project-code/", headers={"X-Request-ID": "rid-2"})
    assert result.status == 500
    [record] = lines(caplog, "rid-2")
    assert (record.levelname, record.outcome, record.error) == (
        "ERROR", "server_error", "RuntimeError")
    assert record.exc_info[1].args == ("gateway bug",)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [record]  # no second record of the same failure


def test_a_service_failure_is_one_error_record_naming_it(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    failure = RemoteFailure("system", "list_project_codes", "KeyError", "'x'")
    app = make_app(FakeRpc({"list_project_codes": failure}), tmp_path)
    assert request(app, "GET", "/api/project-code/",
                   headers={"X-Request-ID": "rid-3"}).status == 500
    [record] = lines(caplog, "rid-3")
    assert (record.levelname, record.error, record.exc_info) == (
        "ERROR", "system.list_project_codes: KeyError", None)


def test_an_unmatched_path_is_logged_by_the_method_alone(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    app = make_app(FakeRpc(), tmp_path)
    assert request(app, "GET", "/api/no/such/place/?q=<x>",
                   headers={"X-Request-ID": "rid-4"}).status == 404
    [record] = lines(caplog, "rid-4")
    assert (record.route, record.status, record.levelname) == ("unmatched", 404, "INFO")
