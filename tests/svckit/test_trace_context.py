"""svckit.trace_context's W3C traceparent against the API's TraceContextTextMapPropagator:
the same headers written, the same ones accepted and refused."""
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from svckit import trace_context, tracing

PROPAGATOR = TraceContextTextMapPropagator()
TRACE, SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
CARRIERS = [
    {"traceparent": f"00-{TRACE}-{SPAN}-01"},
    {"traceparent": f"00-{TRACE}-{SPAN}-00"},
    {"traceparent": f"  00-{TRACE}-{SPAN}-01\t"},
    {"traceparent": f"00-{TRACE}-{SPAN}-01", "tracestate": "vendor=a,other=b"},
    {"traceparent": f"00-{TRACE}-{SPAN}-01", "tracestate": ["vendor=a", "other=b"]},
    {"traceparent": f"00-{TRACE}-{SPAN}-01", "tracestate": "x" * 600},
    {"traceparent": f"00-{TRACE}-{SPAN}-01", "tracestate": "not a state"},
    {"traceparent": [f"00-{TRACE}-{SPAN}-01", "ignored"]},
    {"traceparent": f"01-{TRACE}-{SPAN}-01-future-fields"},
    {"traceparent": f"00-{TRACE}-{SPAN}-01-extra"},
    {"traceparent": f"ff-{TRACE}-{SPAN}-01"},
    {"traceparent": f"00-{'0' * 32}-{SPAN}-01"},
    {"traceparent": f"00-{TRACE}-{'0' * 16}-01"},
    {"traceparent": f"00-{TRACE.upper()}-{SPAN}-01"},
    {"traceparent": f"00-{TRACE[:-1]}-{SPAN}-01"},
    {"traceparent": f"00-{TRACE}-{SPAN}-01" + " " * 500},
    {"traceparent": ""},
    {"traceparent": []},
    {"tracestate": "vendor=a"},
    {},
]


def propagator_s(carrier: dict) -> SpanContext | None:
    context = trace.get_current_span(PROPAGATOR.extract(carrier)).get_span_context()
    return context if context.is_valid else None


@pytest.mark.parametrize("carrier", CARRIERS, ids=range(len(CARRIERS)))
def test_extract_reads_what_the_propagator_reads(carrier):
    assert trace_context.extract(carrier) == propagator_s(carrier)


@pytest.mark.parametrize("context", [
    SpanContext(int(TRACE, 16), int(SPAN, 16), False, TraceFlags(1)),
    SpanContext(1, 2, True, TraceFlags(0), TraceState([("vendor", "a"), ("other", "b")])),
    SpanContext(2 ** 128 - 1, 2 ** 64 - 1, False, TraceFlags(3)),
    trace.INVALID_SPAN_CONTEXT,
])
def test_inject_writes_what_the_propagator_writes(context):
    span = NonRecordingSpan(context)
    theirs: dict = {}
    PROPAGATOR.inject(theirs, trace.set_span_in_context(span))
    ours: dict = {}
    trace_context.inject(span, ours)
    assert ours == theirs
    prefixed: dict = {}
    trace_context.inject(span, prefixed, "nameko.")
    assert prefixed == {"nameko." + key: value for key, value in theirs.items()}


def test_a_recorded_span_s_traceparent_is_its_context_s():
    tracing.install(TracerProvider())
    try:
        handle = tracing.start("outer", tracing.SERVER,
                               {"traceparent": f"00-{TRACE}-{SPAN}-01", "tracestate": "k=v"})
        span = handle[0]
        expected = trace_context.traceparent_of(span.get_span_context())
        assert span.traceparent() == expected == tracing.traceparent()
        assert expected.startswith(f"00-{TRACE}-") and expected.endswith("-01")
        assert tracing.inject({}) == {"nameko.traceparent": expected,
                                      "nameko.tracestate": "k=v"}
        assert tracing.current_ids() == tuple(expected.split("-")[1:3])
        tracing.finish(handle)
        assert tracing.traceparent() == "" and tracing.inject({}) == {}
    finally:
        tracing.uninstall()


def test_links_are_made_to_valid_traceparents_only():
    links = tracing.links_to([f"00-{TRACE}-{SPAN}-01", "", None, "garbage", 42,
                              f"00-{'0' * 32}-{SPAN}-01"])
    assert [link.context for link in links] == [propagator_s({"traceparent":
                                                              f"00-{TRACE}-{SPAN}-01"})]
