"""`GET /healthz` and `GET /readyz` on the gateway's public port: no token, outside /api/,
nothing revealed but which dependency is missing.

/healthz: the worker answers (no dependency is asked). /readyz: the event bus is connected
to the broker, and every service the gateway routes to answered its `readiness` RPC (its
broker consumer, its database's `SELECT 1`, svckit.readiness) with nothing wrong, all
within READYZ_TIMEOUT seconds (the services are asked in parallel). 200
`{"status": "ready"}`, else 503 `{"status": "not ready", "reasons": {...}}`. A worker
keeps its answer for REUSE_SECONDS, so a flood of /readyz (it needs no token) does not
become a flood of calls to every service.
"""
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

from gateway import http
from svckit.context import Caller
from svckit.errors import ApiError
from svckit.layout import service_names
from svckit.opsserver import readiness_answer
from svckit.rpc_client import RemoteFailure

REUSE_SECONDS = 1.0


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
        self._last: tuple[float, dict[str, str]] | None = None  # (monotonic time, problems)

    def pool(self) -> ThreadPoolExecutor:
        """One small pool per worker process (gunicorn forks after import)."""
        import os
        with self._lock:
            if self._pool is None or self._pool_pid != os.getpid():
                self._pool = ThreadPoolExecutor(len(service_names()) or 1,
                                                thread_name_prefix="readyz")
                self._pool_pid = os.getpid()
            return self._pool

    def service_problem(self, service: str, timeout: float, request_id: str) -> str | None:
        try:
            problems = self.api.rpc.call(service, "readiness", Caller(request_id=request_id),
                                         timeout=timeout)
        except ApiError as exc:
            return str(exc.detail.get("detail") or exc.detail)
        except RemoteFailure as exc:
            return f"the {service} service failed: {exc.exc_type}"
        if problems:
            return "; ".join(f"{part}: {why}" for part, why in sorted(problems.items()))
        return None

    def problems(self, request_id: str) -> dict[str, str]:
        timeout = self.api.settings.READYZ_TIMEOUT
        started = time.monotonic()
        found = {}
        self.api.bus.start()
        if not self.api.bus.wait_connected(timeout):
            found["broker"] = "the gateway is not connected to the message broker"
        left = max(timeout - (time.monotonic() - started), 0.1)
        futures = {name: self.pool().submit(self.service_problem, name, left, request_id)
                   for name in service_names()}
        wait(futures.values(), timeout=left + 1)
        for name, future in futures.items():
            if not future.done():
                found[name] = f"the {name} service did not answer within {timeout:g} s"
            elif problem := future.result():
                found[name] = problem
        return found

    def recent_problems(self, request_id: str) -> dict[str, str]:
        """problems(), or the answer found less than REUSE_SECONDS ago; one check at a time
        per worker, the others waiting for it."""
        with self._checking:
            last = self._last
            if last is None or time.monotonic() - last[0] >= REUSE_SECONDS:
                last = self._last = (time.monotonic(), self.problems(request_id))
            return last[1]

    def on_get(self, req, resp):
        status, doc = readiness_answer(self.recent_problems(req.context.request_id))
        http.send(resp, doc, int(status.split()[0]))

    on_head = on_get


def register(app, api):
    app.add_route("/healthz", Healthz())
    app.add_route("/readyz", Readyz(api))
