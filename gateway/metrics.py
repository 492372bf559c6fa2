"""The gateway's Prometheus metrics (README, "Health and metrics"). gunicorn's workers write
them to PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode, set up by
gateway/gunicorn_conf.py), and the master serves their sum on METRICS_PORT.

Labels are bounded: the route's template (`/api/project-code/{id}/`, `unmatched` when no
route matched), a known method, the status class (`2xx` ...), a service and RPC method
named in code; never a path, a query or a user.
"""
import time
from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram

from svckit.metrics import BUCKETS, Children
from svckit.rpc_client import BrokerUnavailable, RemoteFailure, RpcTimeout, ServiceNotRunning

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# its `_count` is the requests answered by route, method and status class
REQUEST_SECONDS = Histogram("inventree_gateway_request_seconds",
                            "HTTP requests answered, and the time the app took",
                            ["route", "method", "status"], buckets=BUCKETS)
IN_FLIGHT = Gauge("inventree_gateway_requests_in_flight", "HTTP requests being answered",
                  multiprocess_mode="livesum")
RPC_SECONDS = Histogram("inventree_gateway_rpc_seconds", "RPC calls to services, by outcome",
                        ["service", "method"], buckets=BUCKETS)
RPC_FAILURES = Counter("inventree_gateway_rpc_failures_total",
                       "RPC calls that got no answer: reason=timeout, not_running (no queue "
                       "bound), broker (unreachable) or remote_error (the service failed)",
                       ["service", "method", "reason"])
MEDIA_BYTES_SERVED = Counter("inventree_gateway_media_bytes_served_total",
                             "Bytes of stored files answered from /media/ (their Content-Length)")
AUTH_CACHE = Counter("inventree_gateway_auth_cache_total",
                     "Lookups in the per-worker credential caches", ["cache", "result"])


request_seconds, rpc_seconds = Children(REQUEST_SECONDS), Children(RPC_SECONDS)
rpc_failures, auth_cache = Children(RPC_FAILURES), Children(AUTH_CACHE)


def route_of(req) -> str:
    return req.uri_template or "unmatched"


def method_of(req) -> str:
    return req.method if req.method in METHODS else "other"


class MetricsMiddleware:
    """Counts and times every request by route template, method and status class (one
    histogram: its `_count` is the count). The labels and the histogram child of a
    (route template, method, status code) are found once (`_observers`: bounded, as its
    key's parts are), then one dictionary lookup a request."""

    def __init__(self):
        self._observers: dict[tuple, Callable[[float], None]] = {}
        self._in_flight = IN_FLIGHT._value.inc  # noqa: SLF001 (Gauge.inc, without its checks)

    def process_request(self, req, resp):
        req.context.metrics_started = time.perf_counter()
        self._in_flight(1)

    def process_response(self, req, resp, resource, req_succeeded):
        started = req.context.get("metrics_started")
        if started is None:
            return
        self._in_flight(-1)
        method = req.method if req.method in METHODS else "other"
        key = (req.uri_template, method, resp.status_code)
        observe = self._observers.get(key)
        if observe is None:
            observe = self._observers[key] = request_seconds.observer(
                route_of(req), method, f"{key[2] // 100}xx")
        observe(time.perf_counter() - started)


class MeasuredRpc:
    """An RPC client (svckit.rpc_client.ThreadLocalRpc) whose calls are timed, and whose
    calls that got no answer are counted by reason."""

    def __init__(self, rpc):
        self.rpc = rpc

    def __getattr__(self, name):
        return getattr(self.rpc, name)

    def call(self, service, method, caller=None, path="", timeout=None, **kwargs):
        started = time.perf_counter()
        try:
            return self.rpc.call(service, method, caller, path, timeout, **kwargs)
        except RpcTimeout:
            rpc_failures(service, method, "timeout").inc()
            raise
        except ServiceNotRunning:
            rpc_failures(service, method, "not_running").inc()
            raise
        except BrokerUnavailable:
            rpc_failures(service, method, "broker").inc()
            raise
        except RemoteFailure:
            rpc_failures(service, method, "remote_error").inc()
            raise
        finally:
            rpc_seconds.observer(service, method)(time.perf_counter() - started)


def count_cache_lookup(cache: str, hit: bool) -> None:
    auth_cache.adder(cache, "hit" if hit else "miss")(1)
