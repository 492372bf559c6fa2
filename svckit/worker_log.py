"""One log line per entrypoint worker of a service (svckit.logs): `request_id`, `caller`,
`method`, `duration_ms`, `outcome`, and the fields bound for every record the worker logs
meanwhile.

- a worker that returned: INFO, outcome `ok` (DEBUG for the health calls the gateway's
  /readyz makes every few seconds);
- an expected error (an ApiError: 4xx, or a 503 such as a database outage): one line at INFO
  (WARNING for a 5xx), outcome `client_error` or `unavailable`, its `status` and `error`,
  no traceback;
- an unexpected exception: one ERROR record, outcome `server_error`, with the traceback
  (nameko's own record of it is dropped, see svckit.logs.WorkerErrorsLoggedOnce).

The request id is the one the gateway gave the request (in the signed caller context); a
worker of an event handler takes the event's.
"""
import json
import logging
import time

from nameko.extensions import DependencyProvider

from svckit import logs
from svckit.errors import ApiError
from svckit.signed_rpc import trusted_caller_json

log = logging.getLogger("svckit.requests")
QUIET = frozenset({"ping", "readiness"})  # polled by health checks: DEBUG when they succeed


def request_of(worker_ctx) -> tuple[str, str]:
    """(request id, caller) of a worker: a signed caller context's, else an event's request
    id (the first argument of an event handler) and no caller."""
    raw = trusted_caller_json(worker_ctx)
    if raw:
        try:
            caller = json.loads(raw)
        except ValueError:
            return "", ""
        actor = caller.get("username") or (
            "" if caller.get("user_id") is None else str(caller["user_id"]))
        return str(caller.get("request_id") or ""), actor
    args = worker_ctx.args
    if args and isinstance(args[0], dict):
        return str(args[0].get("request_id") or ""), ""
    return "", ""


class WorkerLog(DependencyProvider):
    """Binds each worker's request to its log records and writes its one summary line.
    Injects nothing."""

    def __init__(self):
        self._started: dict = {}

    def worker_setup(self, worker_ctx):
        request_id, caller = request_of(worker_ctx)
        token = logs.bind(request_id=request_id, caller=caller,
                          method=worker_ctx.entrypoint.method_name)
        self._started[worker_ctx] = (time.perf_counter(), token)

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        started = self._started.get(worker_ctx)
        if started is None:
            return
        duration_ms = round((time.perf_counter() - started[0]) * 1000, 3)
        method = worker_ctx.entrypoint.method_name
        if exc_info is None:
            level = logging.DEBUG if method in QUIET else logging.INFO
            if log.isEnabledFor(level):
                logs.write(log, level, f"{method} ok in {duration_ms:.1f} ms",
                           {"outcome": "ok", "duration_ms": duration_ms})
            return
        exc = exc_info[1]
        if isinstance(exc, ApiError):
            unavailable = exc.status >= 500
            log.log(logging.WARNING if unavailable else logging.INFO,
                    "%s answered %s in %.1f ms: %s", method, exc.status, duration_ms,
                    str(exc.detail)[:300],
                    extra={"outcome": "unavailable" if unavailable else "client_error",
                           "status": exc.status, "error": type(exc).__name__,
                           "duration_ms": duration_ms})
            return
        log.error("%s failed in %.1f ms: %s: %s", method, duration_ms, type(exc).__name__,
                  str(exc)[:300], exc_info=exc_info,
                  extra={"outcome": "server_error", "status": 500,
                         "error": type(exc).__name__, "duration_ms": duration_ms})

    def worker_teardown(self, worker_ctx):
        started = self._started.pop(worker_ctx, None)
        if started is not None:
            logs.unbind(started[1])
