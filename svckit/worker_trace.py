"""A span per entrypoint worker of a service, and per transaction of its database
(svckit.tracing; nothing when tracing is off).

An RPC worker's span (`<service>.<method>`, kind SERVER) is the child of the caller's span,
whose context came in the request's `nameko.traceparent` header (nameko hands it to the
worker as context data). An event handler's worker starts its own trace, LINKED to the span
that recorded the event (the `trace_context` every event carries, svckit.events). The
database's transactions are spans under the worker's (`db.transaction`).
"""
from nameko.extensions import DependencyProvider

from svckit import tracing
from svckit.errors import ApiError


def carrier_of(worker_ctx) -> dict | None:
    """The caller's trace context from the worker's context data, if it sent one."""
    data = worker_ctx.data
    parent = data.get("traceparent")
    if not parent:
        return None
    carrier = {"traceparent": parent}
    if data.get("tracestate"):
        carrier["tracestate"] = data["tracestate"]
    return carrier


class WorkerTrace(DependencyProvider):
    """Injects nothing."""

    def __init__(self):
        self._spans: dict = {}
        self._named: dict[str, tuple[str, dict]] = {}  # method -> span name, attributes

    def start(self):
        for ext in self.container.extensions:  # Store made its Database in its setup()
            engine = getattr(getattr(ext, "db", None), "engine", None)
            if engine is not None:
                tracing.trace_transactions(engine, engine.dialect.name)

    def worker_setup(self, worker_ctx):
        if not tracing.enabled():
            return
        name, attributes = self._name_of(worker_ctx.entrypoint.method_name)
        carrier = carrier_of(worker_ctx)
        links = None
        if carrier is None and worker_ctx.args and isinstance(worker_ctx.args[0], dict):
            links = tracing.links_to([worker_ctx.args[0].get("trace_context")])
        self._spans[worker_ctx] = tracing.start(
            name, tracing.SERVER if carrier else tracing.CONSUMER, carrier,
            attributes=attributes, links=links)

    def _name_of(self, method: str) -> tuple[str, dict]:
        """A method's span name and attributes, made once (a span copies its attributes)."""
        named = self._named.get(method)
        if named is None:
            service = self.container.service_name
            named = self._named[method] = (f"{service}.{method}", {
                "rpc.system": "nameko", "rpc.service": service, "rpc.method": method})
        return named

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        handle = self._spans.pop(worker_ctx, None)
        if handle is None:
            return
        error = exc_info[1] if exc_info else None
        tracing.finish(handle, error, expected=isinstance(error, ApiError),
                       attributes={"rpc.status": getattr(error, "status", 500)}
                       if error is not None else None)

    def worker_teardown(self, worker_ctx):
        handle = self._spans.pop(worker_ctx, None)
        if handle is not None:  # no result came (the container is being killed)
            tracing.finish(handle)
