"""OpenTelemetry traces, off unless configured (see README, "Traces").

A process sets up its tracer once at start, from the `OTEL_*` fields of its settings
(`setup()`: the gateway in each gunicorn worker, a service in svckit.run); without an
exporter configured nothing is set up and every helper here is a no-op that costs a check
of one variable. Spans:

- the gateway: one per HTTP request (gateway/tracing.py), named by the route template;
- an RPC call: a client span around it whose context travels in the request's
  `nameko.traceparent` / `nameko.tracestate` headers (svckit.rpc_client, and
  svckit.signed_rpc for a service's own calls);
- a service: a span per entrypoint worker, the child of the caller's (svckit.worker_trace),
  and one per database transaction (`trace_transactions`);
- every event stores the `traceparent` of the span that recorded it (svckit.events), and a
  subscriber's span is LINKED to the spans of the events it handles (`links_to`).

Spans are started by svckit.lean_tracer's tracer on the SDK's TracerProvider (its sampler,
ids, resource and processors; a lighter span than the SDK's), made current in
OpenTelemetry's context through svckit.trace_context. Exports go through a
BatchSpanProcessor: a collector that is slow or does not answer costs the request nothing
(spans wait in a bounded queue, dropped when it is full).
"""
import contextlib
import weakref
from collections.abc import Iterable
from typing import Any

from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from svckit import trace_context

HEADER_PREFIX = "nameko."  # nameko's context data: `nameko.traceparent` reaches the worker
SERVER, CLIENT, CONSUMER, INTERNAL = (SpanKind.SERVER, SpanKind.CLIENT, SpanKind.CONSUMER,
                                      SpanKind.INTERNAL)
_state: dict[str, Any] = {"tracer": None, "provider": None}
_traced_engines: "weakref.WeakSet" = weakref.WeakSet()


def enabled() -> bool:
    return _state["tracer"] is not None


def install(provider) -> None:
    """Record spans with `provider` (an SDK TracerProvider) from now on (a test may install
    one with an in-memory exporter)."""
    from svckit.lean_tracer import LeanTracer
    _state["provider"] = provider
    _state["tracer"] = LeanTracer(provider)


def uninstall() -> None:
    _state["tracer"] = _state["provider"] = None


def setup(settings, process: str):
    """The process's tracer from its OTEL_* settings (svckit.settings.TracingSettings); None
    (tracing off) unless an exporter is configured."""
    from svckit.tracing_setup import provider_from
    provider = provider_from(settings, process)
    if provider is not None:
        install(provider)
    return provider


def start(name: str, kind=INTERNAL, carrier: dict | None = None,
          attributes: dict | None = None, links: Iterable | None = None):
    """Start a span and make it current; `carrier`: the caller's trace context (headers
    with `traceparent`) to continue, else the current context's. Returns a handle for
    `finish`, or None when tracing is off."""
    tracer = _state["tracer"]
    if tracer is None:
        return None
    if carrier:
        parent = trace_context.extract(carrier)
        parent_context = (trace_context.context_with(parent)
                          if tracer.wants_parent_context() else None)
    else:
        parent_context, current = None, trace_context.current_span()
        parent = current.get_span_context() if current is not None else None
    span = tracer.start_span(name, parent, kind, attributes, links or (), parent_context)
    return span, trace_context.attach(span)


def finish(handle, error: BaseException | None = None, expected: bool = False,
           attributes: dict | None = None, failed: str = "") -> None:
    """End a span `start` gave; `error`: the exception that ended its work (an `expected`
    one, such as a 4xx answer, is noted without marking the span failed); `failed`: why
    the span failed without an exception here (a 5xx a service answered)."""
    if handle is None:
        return
    span, token = handle
    try:
        if attributes:
            span.set_attributes(attributes)
        if error is not None:
            span.set_attribute("error.type", type(error).__name__)
            if not expected:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, str(error)[:200]))
        elif failed:
            span.set_status(Status(StatusCode.ERROR, failed))
        span.end()
    finally:
        trace_context.detach(token)


@contextlib.contextmanager
def span(name: str, kind=INTERNAL, attributes: dict | None = None, links=None):
    """A span around a block (none when tracing is off), ended with the block's error."""
    handle = start(name, kind, attributes=attributes, links=links)
    if handle is None:
        yield None
        return
    try:
        yield handle[0]
    except BaseException as exc:
        finish(handle, exc)
        raise
    finish(handle)


def inject(headers: dict, prefix: str = HEADER_PREFIX) -> dict:
    """Add the current span's context to message `headers` (as `<prefix>traceparent`)."""
    if _state["tracer"] is not None:
        span = trace_context.current_span()
        if span is not None:
            trace_context.inject(span, headers, prefix)
    return headers


def traceparent() -> str:
    """The current span's context as a W3C `traceparent` ("" when none is recorded): what
    an event stores."""
    if _state["tracer"] is None:
        return ""
    span = trace_context.current_span()
    return trace_context.traceparent(span) if span is not None else ""


def links_to(traceparents: Iterable[str | None]) -> list:
    """Links to the spans whose `traceparent`s are given (empty and malformed ones left
    out): a subscriber's span points at the requests whose events it handles."""
    links = []
    for value in traceparents:
        if not value or not isinstance(value, str):
            continue
        span_context = trace_context.extract({"traceparent": value})
        if span_context is not None:
            links.append(Link(span_context))
    return links


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current recorded span, as hex, for log lines."""
    if _state["tracer"] is None:
        return None
    span = trace_context.current_span()
    if span is None:
        return None
    hex_ids = getattr(span, "hex_ids", None)  # a LeanSpan's, else from its SpanContext
    if hex_ids is not None:
        return hex_ids()
    span_context = span.get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")


def trace_transactions(engine, system: str) -> None:
    """A span per transaction of `engine` (begin to commit or rollback), the child of the
    span current when it began (the worker's); none outside a span (the event relay's and
    other background loops' bookkeeping would each be a trace of its own)."""
    from sqlalchemy import event

    if engine in _traced_engines:
        return
    _traced_engines.add(engine)

    def begin(conn):
        tracer = _state["tracer"]
        if tracer is None:
            return
        current = trace_context.current_span()
        parent = current.get_span_context() if current is not None else None
        if parent is not None and parent.is_valid:
            conn.info["tx_span"] = tracer.start_span("db.transaction", parent, CLIENT)

    def end(outcome):
        attributes = {"db.system": system, "db.outcome": outcome}  # copied by the span

        def ended(conn):
            if conn.invalidated:  # the server went away mid-transaction: `conn.info` would
                return  # raise PendingRollbackError out of the rollback (svckit.metrics too)
            started = conn.info.pop("tx_span", None)
            if started is not None:  # its attributes in one pass of the SDK's checks
                started.set_attributes(attributes)
                started.end()
        return ended

    event.listen(engine, "begin", begin)
    event.listen(engine, "commit", end("commit"))
    event.listen(engine, "rollback", end("rollback"))
