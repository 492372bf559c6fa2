"""The current span in OpenTelemetry's context (what `trace.get_current_span()` answers),
read and replaced through the context's own ContextVar rather than through the API's
functions (`get_current_span`, `set_span_in_context`, `attach`, `detach`: three to five
Python calls each, and a gateway request made five of them): the same Context objects
under the same key, so the API and the propagator see the span as they would have.

A span context written as a W3C `traceparent` (and `tracestate`) and read back from one
(`traceparent_of`, `extract`): what the API's TraceContextTextMapPropagator writes and
accepts, without its Context objects, getters and setters (an RPC call injected and its
worker extracted through them, an event recorded its span's through them).

Relies on the pinned API (1.45.2): its contextvars runtime context and its span key. When
another runtime context is configured (OTEL_PYTHON_CONTEXT), the API's functions are used.
"""
import logging
import re
from collections.abc import Mapping

from opentelemetry import context as otel_context, trace
from opentelemetry.context import Context
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState
from opentelemetry.trace.propagation import _SPAN_KEY
from opentelemetry.trace.span import _TRACECONTEXT_MAXIMUM_TRACESTATE_LENGTH

log = logging.getLogger(__name__)

_runtime = otel_context._RUNTIME_CONTEXT  # noqa: SLF001
_VAR = (_runtime._current_context  # noqa: SLF001
        if type(_runtime) is ContextVarsRuntimeContext else None)


def current_span():
    """The current span, or None (the API's INVALID_SPAN) when there is none."""
    if _VAR is None:
        span = trace.get_current_span()
        return None if span is trace.INVALID_SPAN else span
    return _VAR.get().get(_SPAN_KEY)


def attach(span):
    """Make `span` current (in a copy of the current Context); a token for `detach`."""
    if _VAR is None:
        return otel_context.attach(trace.set_span_in_context(span))
    return _VAR.set(Context({**_VAR.get(), _SPAN_KEY: span}))


def detach(token) -> None:
    """Back to the Context before `attach` gave `token` (a failure logged, as the API
    does: a token made in another context cannot be reset here)."""
    if _VAR is None:
        otel_context.detach(token)
        return
    try:
        _VAR.reset(token)
    except Exception:
        log.exception("Failed to detach context")


# the propagator's own pattern and limit (W3C Trace Context, version 00 and later ones)
_TRACEPARENT = re.compile(
    "^[ \t]*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:(-.*)|[ \t]*)$")
TRACEPARENT_MAX_LENGTH = 512
_NO_TRACE_ID, _NO_SPAN_ID = "0" * 32, "0" * 16
_FLAGS = [TraceFlags(n) for n in range(256)]


def traceparent_of(context: SpanContext) -> str:
    """`context` as a W3C `traceparent` ("" for an invalid context, which is not sent)."""
    trace_id, span_id = context[0], context[1]  # the SpanContext tuple's fields
    if not trace_id or not span_id:
        return ""
    return f"00-{trace_id:032x}-{span_id:016x}-{context[3]:02x}"


def traceparent(span) -> str:
    """`span`'s context as a W3C `traceparent` (a LeanSpan keeps its own, made once)."""
    made = getattr(span, "traceparent", None)
    return made() if made is not None else traceparent_of(span.get_span_context())


def inject(span, headers: dict, prefix: str = "") -> None:
    """`span`'s context into `headers`: `<prefix>traceparent`, and `<prefix>tracestate`
    when it carries a trace state (nothing for an invalid context)."""
    parent = traceparent(span)
    if not parent:
        return
    headers[prefix + "traceparent"] = parent
    state = span.get_span_context()[4]  # its trace_state
    if state:
        headers[prefix + "tracestate"] = state.to_header()


def _first(value):
    """A header's value, or the first of several (as the propagator's default getter)."""
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    return None


def extract(carrier: Mapping) -> SpanContext | None:
    """The remote span context of `carrier`'s `traceparent` (and `tracestate`), or None
    when it has none or it is not one the W3C propagator accepts."""
    header = _first(carrier.get("traceparent"))
    if not header or not isinstance(header, str):
        return None
    if len(header) > TRACEPARENT_MAX_LENGTH:
        log.warning("traceparent header exceeded the maximum length of %d characters",
                    TRACEPARENT_MAX_LENGTH)
        return None
    match = _TRACEPARENT.match(header)
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if trace_id == _NO_TRACE_ID or span_id == _NO_SPAN_ID or version == "ff" or (
            version == "00" and rest):
        return None
    state = carrier.get("tracestate")
    trace_state = None
    if state is not None:
        states = [state] if isinstance(state, str) else list(state)
        if sum(map(len, states)) + len(states) - 1 > _TRACECONTEXT_MAXIMUM_TRACESTATE_LENGTH:
            log.warning("tracestate header exceeded the maximum length of %d characters",
                        _TRACECONTEXT_MAXIMUM_TRACESTATE_LENGTH)
        else:
            trace_state = TraceState.from_header(states)
    return SpanContext(int(trace_id, 16), int(span_id, 16), True, _FLAGS[int(flags, 16)],
                       trace_state)


def context_with(parent: SpanContext | None):
    """A Context holding `parent` as its current span (what the propagator's `extract`
    gives), for a sampler or span processor that asks for the parent's Context."""
    if parent is None:
        return Context()
    return trace.set_span_in_context(NonRecordingSpan(parent), Context())
