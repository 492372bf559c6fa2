"""The gateway's /healthz and /readyz in-process (gateway/health.py) against a fake RPC
client: who is asked, each service's state, a 503 only when the gateway itself cannot reach
the broker (one service's outage is a 200 "degraded", never every gateway taken out), no
token needed, and a worker's answer reused for a moment.
(tests/e2e/test_health_metrics_http.py asks real services.)"""
import time

from gateway import health
from svckit.errors import ServiceUnavailable
from svckit.layout import service_names
from svckit.rpc_client import BrokerUnavailable, RemoteFailure
from tests.gateway.fakerpc import FakeBus, FakeRpc, make_app, request


class ServicesRpc(FakeRpc):
    """`readiness` answered per service: `not_ready` maps a service to its problems, or to
    an exception it raises; every other service is ready."""

    def __init__(self, not_ready: dict | None = None):
        super().__init__()
        self.not_ready = not_ready or {}

    def call(self, service, method, caller=None, path="", **kwargs):
        if method != "readiness":
            return super().call(service, method, caller, path, **kwargs)
        self.calls.append((service, method, kwargs))
        answer = self.not_ready.get(service, {})
        if isinstance(answer, Exception):
            raise answer
        return answer


class ConnectedBus(FakeBus):
    healthy = True


def app_with(rpc, tmp_path, bus=None):
    app = make_app(rpc, tmp_path)
    app.api.bus = bus or ConnectedBus()
    return app


def test_healthz_asks_nothing(tmp_path):
    rpc = ServicesRpc()
    answer = request(app_with(rpc, tmp_path, FakeBus()), "GET", "/healthz", auth=False)
    assert answer.status == 200 and answer.json == {"status": "alive"}
    assert rpc.calls == []


def test_readyz_asks_every_service(tmp_path, monkeypatch):
    monkeypatch.setattr(health, "REUSE_SECONDS", 0)
    rpc = ServicesRpc()
    answer = request(app_with(rpc, tmp_path), "GET", "/readyz", auth=False)
    assert answer.status == 200
    assert answer.json == {"status": "ready",
                           "services": dict.fromkeys(service_names(), "ready")}
    assert sorted(service for service, method, _ in rpc.calls) == service_names()
    assert {method for _, method, _ in rpc.calls} == {"readiness"}
    # within READYZ_TIMEOUT, never moved (svckit.rpc_client: a queued call waits once more)
    assert all(kwargs.get("strict_deadline") is True for _, _, kwargs in rpc.calls)


def test_a_service_outage_is_degraded_not_unready(tmp_path, monkeypatch):
    """Services that do not answer, or answer what is wrong, are listed with why; the
    gateway still answers 200, as it can serve every other service."""
    monkeypatch.setattr(health, "REUSE_SECONDS", 0)
    rpc = ServicesRpc({
        "audit": ServiceUnavailable({"detail": "The audit service did not answer within 2 s"}),
        "users": {"database": "the database is unreachable: OperationalError"},
        "system": RemoteFailure("system", "readiness", "KeyError", "boom")})
    answer = request(app_with(rpc, tmp_path), "GET", "/readyz",
                     headers={"Authorization": "Token whatever"})
    assert answer.status == 200
    expected = dict.fromkeys(service_names(), "ready")
    expected.update({"audit": "The audit service did not answer within 2 s",
                     "users": "database: the database is unreachable: OperationalError",
                     "system": "the system service failed: KeyError"})
    assert answer.json == {"status": "degraded", "services": expected}


def test_every_service_down_is_still_degraded(tmp_path, monkeypatch):
    """Even with no service answering the gateway is connected and would answer each request
    (with a 503 of that service): readiness is this gateway's, not the system's."""
    monkeypatch.setattr(health, "REUSE_SECONDS", 0)
    rpc = ServicesRpc({name: ServiceUnavailable({"detail": f"{name} is not running"})
                       for name in service_names()})
    answer = request(app_with(rpc, tmp_path), "GET", "/readyz", auth=False)
    assert answer.status == 200
    assert answer.json == {"status": "degraded", "services": {
        name: f"{name} is not running" for name in service_names()}}


def test_readyz_is_503_when_the_event_bus_is_not_connected(tmp_path, monkeypatch):
    monkeypatch.setattr(health, "REUSE_SECONDS", 0)
    rpc = ServicesRpc()
    answer = request(app_with(rpc, tmp_path, FakeBus()), "GET", "/readyz", auth=False)
    assert answer.status == 503
    assert answer.json == {"status": "not ready", "reasons": {
        "broker": "the gateway is not connected to the message broker"}}
    assert rpc.calls == []  # no service is asked while the gateway cannot serve anyway


def test_readyz_is_503_when_rpc_cannot_reach_the_broker(tmp_path, monkeypatch):
    monkeypatch.setattr(health, "REUSE_SECONDS", 0)
    rpc = ServicesRpc({"status": BrokerUnavailable(
        {"detail": "Message broker unavailable: [Errno 111] Connection refused"})})
    answer = request(app_with(rpc, tmp_path), "GET", "/readyz", auth=False)
    assert answer.status == 503
    assert answer.json == {"status": "not ready", "reasons": {
        "broker": "Message broker unavailable: [Errno 111] Connection refused"}}


def test_a_worker_reuses_its_answer_for_a_moment(tmp_path, monkeypatch):
    monkeypatch.setattr(health, "REUSE_SECONDS", 60)
    rpc = ServicesRpc()
    app = app_with(rpc, tmp_path)
    for _ in range(5):
        assert request(app, "GET", "/readyz", auth=False).status == 200
    assert len(rpc.calls) == len(service_names())
    monkeypatch.setattr(health, "REUSE_SECONDS", 0)
    time.sleep(0.01)
    assert request(app, "GET", "/readyz", auth=False).status == 200
    assert len(rpc.calls) == 2 * len(service_names())
