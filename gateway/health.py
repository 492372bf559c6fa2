"""`GET /healthz` and `GET /readyz` on the gateway's public port: no token, outside /api/,
nothing revealed but which dependency is missing.

/healthz: the worker answers (no dependency is asked).

/readyz says whether this gateway can serve, not whether the whole system is well: a load
balancer (HAProxy, a Kubernetes Service) takes a gateway out on a 503, and every gateway
shares the same services, so one service's outage answered as a 503 would take every
gateway out and turn that outage into a whole-API outage. So it answers 503
`{"status": "not ready", "reasons": {"broker": ...}}` only when this gateway cannot serve
anything: its event bus is not connected to the broker within READYZ_TIMEOUT, or its RPC
calls cannot reach the broker. Otherwise 200 with each service's answer to its `readiness`
RPC (asked in parallel, within READYZ_TIMEOUT): `"ready"`, or why not (its broker consumer,
its database's `SELECT 1`, svckit.readiness, no answer in time); `"status"` is `"ready"`
when every service is, `"degraded"` when any is not.

A worker keeps its answer for REUSE_SECONDS, so a flood of /readyz (it needs no token)
does not become a flood of calls to every service.
"""
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

from gateway import http
from svckit.context import Caller
from svckit.errors import ApiError
from svckit.layout import service_names
from svckit.rpc_client import BrokerUnavailable, RemoteFailure

REUSE_SECONDS = 1.0
READY = "ready"  # a service's entry in the answer when it answered that it is ready
BUS_DOWN = "the gateway is not connected to the message broker"


class BrokerProblem(Exception):
    """The gateway's own RPC calls cannot reach the broker: it cannot serve anything."""


def readiness_answer(broker_problem: str | None, services: dict[str, str]) -> tuple[int, dict]:
    """/readyz's status and body: 503 for the gateway's own broker problem only; else 200,
    "degraded" when any service is not ready (`services`: each one's "ready" or why not)."""
    if broker_problem:
        return 503, {"status": "not ready", "reasons": {"broker": broker_problem}}
    degraded = any(state != READY for state in services.values())
    return 200, {"status": "degraded" if degraded else "ready", "services": services}


class Healthz:
    auth = "none"
    csrf_exempt = True

    def on_get(self, req, resp):
        http.send(resp, {"status": "alive"})

    on_head = on_get


class Readyz:
    auth = "none"
    csrf_exempt = True

    def __init__(self, api):
        self.api = api
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        self._lock = threading.Lock()
        self._checking = threading.Lock()
        self._last: tuple[float, tuple[int, dict]] | None = None  # (monotonic time, answer)

    def pool(self) -> ThreadPoolExecutor:
        """One small pool per worker process (gunicorn forks after import)."""
        import os
        with self._lock:
            if self._pool is None or self._pool_pid != os.getpid():
                self._pool = ThreadPoolExecutor(len(service_names()) or 1,
                                                thread_name_prefix="readyz")
                self._pool_pid = os.getpid()
            return self._pool

    def service_state(self, service: str, timeout: float, request_id: str) -> str:
        """READY, or why `service` is not; raises BrokerProblem when the call cannot reach
        the broker (the gateway's problem, not the service's)."""
        try:
            problems = self.api.rpc.call(service, "readiness", Caller(request_id=request_id),
                                         timeout=timeout, strict_deadline=True)
        except BrokerUnavailable as exc:
            raise BrokerProblem(str(exc.detail.get("detail") or exc.detail)) from exc
        except ApiError as exc:
            return str(exc.detail.get("detail") or exc.detail)
        except RemoteFailure as exc:
            return f"the {service} service failed: {exc.exc_type}"
        if problems:
            return "; ".join(f"{part}: {why}" for part, why in sorted(problems.items()))
        return READY

    def check(self, request_id: str) -> tuple[int, dict]:
        """The gateway's event bus, then (when connected) every service in parallel, all
        within READYZ_TIMEOUT: readiness_answer()'s status and body."""
        timeout = self.api.settings.READYZ_TIMEOUT
        started = time.monotonic()
        self.api.bus.start()
        if not self.api.bus.wait_connected(timeout):
            return readiness_answer(BUS_DOWN, {})
        left = max(timeout - (time.monotonic() - started), 0.1)
        futures = {name: self.pool().submit(self.service_state, name, left, request_id)
                   for name in service_names()}
        wait(futures.values(), timeout=left + 1)
        services = {}
        for name, future in futures.items():
            if not future.done():
                services[name] = f"the {name} service did not answer within {timeout:g} s"
                continue
            try:
                services[name] = future.result()
            except BrokerProblem as exc:
                return readiness_answer(str(exc), {})
        return readiness_answer(None, services)

    def recent_answer(self, request_id: str) -> tuple[int, dict]:
        """check(), or the answer found less than REUSE_SECONDS ago; one check at a time
        per worker, the others waiting for it."""
        with self._checking:
            last = self._last
            if last is None or time.monotonic() - last[0] >= REUSE_SECONDS:
                last = self._last = (time.monotonic(), self.check(request_id))
            return last[1]

    def on_get(self, req, resp):
        status, doc = self.recent_answer(req.context.request_id)
        http.send(resp, doc, status)

    on_head = on_get


def register(app, api):
    app.add_route("/healthz", Healthz())
    app.add_route("/readyz", Readyz(api))
