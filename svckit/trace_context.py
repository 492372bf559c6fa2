"""The current span in OpenTelemetry's context (what `trace.get_current_span()` answers),
read and replaced through the context's own ContextVar rather than through the API's
functions (`get_current_span`, `set_span_in_context`, `attach`, `detach`: three to five
Python calls each, and a gateway request made five of them): the same Context objects
under the same key, so the API and the propagator see the span as they would have.

Relies on the pinned API (1.45.2): its contextvars runtime context and its span key. When
another runtime context is configured (OTEL_PYTHON_CONTEXT), the API's functions are used.
"""
import logging

from opentelemetry import context as otel_context, trace
from opentelemetry.context import Context
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
from opentelemetry.trace.propagation import _SPAN_KEY

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
