"""One log line per HTTP request (svckit.logs), written when the answer is ready:
`request_id`, `caller`, `method`, `route` (the template), `status`, `duration_ms`,
`outcome`; the request's id and caller are also on every other record logged meanwhile.

A 2xx-4xx answer is one INFO line (an expected 4xx has no traceback); a 502-504 (a service,
the broker or a database unavailable) one WARNING line; any other 5xx one ERROR record, with the
traceback of an exception the gateway raised itself (`req.context.error`, set by the app's
error handler), or the failing service's error name when a service raised (that service
logged the traceback).
"""
import logging
import time

from gateway.metrics import route_of
from svckit import logs

log = logging.getLogger("gateway.requests")
QUIET_ROUTES = frozenset({"/healthz", "/readyz"})  # probes: DEBUG when they answer 2xx
UNAVAILABLE = frozenset({502, 503, 504})  # a service, the broker or a database is down


class RequestLogMiddleware:
    """Placed after the middleware that gives the request its id (gateway.app's
    AuthMiddleware), so the id is bound for the whole request."""

    def process_request(self, req, resp):
        req.context.log_started = time.perf_counter()
        req.context.log_token = logs.bind(request_id=req.context.get("request_id", ""))

    def process_resource(self, req, resp, resource, params):
        logs.bind(caller=self._caller(req))  # authenticated by now (AuthMiddleware)

    @staticmethod
    def _caller(req) -> str:
        caller = req.context.get("caller")
        return caller.actor if caller is not None and caller.authenticated else ""

    def process_response(self, req, resp, resource, req_succeeded):
        started = req.context.get("log_started")
        if started is None:
            return
        token = req.context.pop("log_token", None)
        try:
            self._write(req, resp, time.perf_counter() - started)
        finally:
            if token is not None:
                logs.unbind(token)

    def _write(self, req, resp, seconds: float):
        status = resp.status_code
        route = route_of(req)
        duration_ms = round(seconds * 1000, 3)
        fields = {"request_id": req.context.get("request_id", ""), "caller": self._caller(req),
                  "method": req.method, "route": route, "status": status,
                  "duration_ms": duration_ms}
        if status < 500:
            level = logging.DEBUG if route in QUIET_ROUTES and status < 300 else logging.INFO
            if log.isEnabledFor(level):
                fields["outcome"] = "ok" if status < 400 else "client_error"
                logs.write(log, level, f"{req.method} {route} {status} in {duration_ms:.1f} ms",
                           fields)
            return
        error = req.context.get("error")
        remote = req.context.get("remote_error")
        if error is None and not remote:  # an answer chosen, not an exception
            unavailable = status in UNAVAILABLE
            log.log(logging.WARNING if unavailable else logging.ERROR,
                    "%s %s %s in %.1f ms", req.method, route, status, duration_ms,
                    extra={**fields, "outcome": "unavailable" if unavailable
                           else "server_error"})
            return
        log.error("%s %s %s in %.1f ms: %s", req.method, route, status, duration_ms,
                  remote or f"{type(error).__name__}: {str(error)[:300]}",
                  exc_info=(type(error), error, error.__traceback__) if error else None,
                  extra={**fields, "outcome": "server_error",
                         "error": remote or type(error).__name__})
