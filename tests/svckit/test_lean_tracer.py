"""svckit.lean_tracer: its spans are what the SDK's tracer records for the same calls (the
same fields for exporters, the same OTLP bytes from the SDK's encoder and ours), its
samplers decide as the SDK's do, and it calls the provider's processors as the SDK does.
svckit.trace_context: the span it makes current is the one OpenTelemetry's API sees.
svckit.tracing_setup.BatchSpanProcessor: what it queues is exported, a full queue drops."""
import random
import threading

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    Decision,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from svckit import trace_context, tracing
from svckit.lean_tracer import LeanSpan, LeanTracer
from svckit.otlp_encoding import encode
from svckit.tracing_setup import BatchSpanProcessor, sampler_of

REMOTE = SpanContext(0x5EED, 0x77, is_remote=True, trace_flags=TraceFlags(1),
                     trace_state=TraceState([("vendor", "v1")]))


def provider_with_memory(sampler=None) -> tuple[TracerProvider, InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "inventree-test"}),
                              sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    return provider, memory


def record(start_span) -> None:
    """The same spans, started by `start_span(name, parent, kind, attributes, links)`."""
    root = start_span("GET", REMOTE, SpanKind.SERVER, {"http.request.method": "GET"}, ())
    root.update_name("GET /api/x/{id}/")
    root.set_attributes({"http.route": "/api/x/{id}/", "http.response.status_code": 404,
                         "tags": ["a", "b"], "ratio": 0.5, "flag": True})
    child = start_span("status.status_class", root.get_span_context(), SpanKind.CLIENT,
                       None, (Link(REMOTE, {"why": "event"}),))
    child.set_attribute("error.type", "KeyError")
    child.record_exception(KeyError("k"))
    child.set_status(Status(StatusCode.ERROR, "boom"))
    child.end()
    tx = start_span("db.transaction", root.get_span_context(), SpanKind.CLIENT, None, ())
    tx.set_status(Status(StatusCode.OK))
    tx.set_status(Status(StatusCode.ERROR, "ignored after OK"))
    tx.end()
    root.end()
    root.set_attribute("late", 1)  # after its end: ignored by both
    consumer = start_span("audit.events", None, SpanKind.CONSUMER, None, ())
    consumer.end()


def sdk_spans() -> list:
    provider, memory = provider_with_memory()
    tracer = provider.get_tracer("inventree")

    def start(name, parent, kind, attributes, links):
        context = trace.set_span_in_context(trace.NonRecordingSpan(parent)) if parent else None
        return tracer.start_span(name, context=context, kind=kind, attributes=attributes,
                                 links=links)
    record(start)
    return list(memory.get_finished_spans())


def lean_spans() -> list:
    provider, memory = provider_with_memory()
    tracer = LeanTracer(provider)
    record(tracer.start_span)
    spans = list(memory.get_finished_spans())
    assert all(isinstance(span, LeanSpan) for span in spans)
    return spans


def shape(span) -> tuple:
    """What an exporter reads of a span, less its ids and times."""
    return (span.name, span.kind, span.parent.span_id if span.parent else None,
            span.parent.is_remote if span.parent else None,
            span.context.trace_flags, dict(span.context.trace_state), dict(span.attributes),
            [(e.name, sorted(e.attributes)) for e in span.events],
            [(link.context, dict(link.attributes or {})) for link in span.links],
            span.status.status_code, span.status.description,
            dict(span.resource.attributes), span.instrumentation_scope.name,
            span.dropped_attributes, span.dropped_events, span.dropped_links)


def test_a_lean_span_is_what_the_sdk_records():
    sdk, lean = sdk_spans(), lean_spans()
    names = [span.name for span in lean]
    assert names == [span.name for span in sdk]
    root, consumer = lean[names.index("GET /api/x/{id}/")], lean[names.index("audit.events")]
    for ours, theirs in zip(lean, sdk):
        expected = shape(theirs)
        if theirs.parent is not None and not theirs.parent.is_remote:  # an id of its run
            expected = expected[:2] + (root.context.span_id,) + expected[3:]
        assert shape(ours) == expected
        assert ours.context.trace_id == theirs.context.trace_id or theirs.parent is None
        assert ours.start_time <= ours.end_time
    assert root.context.trace_id == REMOTE.trace_id
    assert consumer.parent is None and consumer.context.trace_id != REMOTE.trace_id
    assert consumer.context.trace_flags == TraceFlags(TraceFlags.SAMPLED
                                                      | TraceFlags.RANDOM_TRACE_ID)


def canonical(data: bytes) -> bytes:
    return ExportTraceServiceRequest.FromString(data).SerializeToString(deterministic=True)


def test_lean_spans_encode_as_the_sdk_s_encoder_writes_them():
    spans = lean_spans()
    expected = encode_spans(spans).SerializeToString(deterministic=True)
    assert canonical(encode(spans)) == expected
    assert canonical(encode(spans)) == expected  # again, from what the encoder remembered


SAMPLERS = [("always_on", ""), ("always_off", ""), ("traceidratio", "0.25"),
            ("parentbased_always_on", ""), ("parentbased_always_off", ""),
            ("parentbased_traceidratio", "0.5"), ("traceidratio", "0"), ("traceidratio", "1")]
PARENTS = [None, REMOTE, SpanContext(7, 8, True, TraceFlags(0)),
           SpanContext(9, 10, False, TraceFlags(1)), SpanContext(11, 12, False, TraceFlags(0))]


@pytest.mark.parametrize("name, arg", SAMPLERS)
def test_the_standard_samplers_decide_as_the_sdk_s(name, arg):
    sampler = sampler_of(name, arg)
    tracer = LeanTracer(TracerProvider(sampler=sampler))
    assert tracer.decide is not None  # decided without a call
    ids = random.Random(13)
    for parent in PARENTS:
        for _ in range(200):
            trace_id = parent.trace_id if parent else ids.getrandbits(128)
            context = trace.set_span_in_context(trace.NonRecordingSpan(parent)) if parent \
                else None
            expected = sampler.should_sample(context, trace_id, "x").decision.is_sampled()
            assert tracer.decide(parent, trace_id) is expected


class KeepNamed(Sampler):
    """Not a standard sampler: asked for each span, with its attributes."""

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None,
                      links=None, trace_state=None):
        decision = Decision.RECORD_AND_SAMPLE if name.startswith("keep") else Decision.DROP
        return SamplingResult(decision, {"sampled.by": "name"} if decision.is_sampled()
                              else None)

    def get_description(self):
        return "KeepNamed"


def test_another_sampler_is_asked_and_an_unsampled_span_carries_its_context_on():
    provider, memory = provider_with_memory(KeepNamed())
    tracer = LeanTracer(provider)
    assert tracer.decide is None
    kept = tracer.start_span("keep me", None, SpanKind.INTERNAL, {"a": 1})
    dropped = tracer.start_span("drop me", kept.get_span_context())
    assert not dropped.is_recording() and not isinstance(dropped, LeanSpan)
    assert dropped.get_span_context().trace_id == kept.get_span_context().trace_id
    assert not dropped.get_span_context().trace_flags.sampled
    dropped.end()
    kept.end()
    [span] = memory.get_finished_spans()
    # as with the SDK's tracer, a span starts with the attributes its sampler answered
    assert span.name == "keep me" and dict(span.attributes) == {"sampled.by": "name"}


class Named:
    def __str__(self):
        return "named"


def test_attributes_are_cleaned_as_the_sdk_cleans_them():
    given = {"list": [1, 2], "": "no key", "n": None, "nested": {"k": [1]}}
    later = {"obj": Named(), "opaque": object(), "ok": "yes", 5: "not a str key"}
    kept = []
    for make in ("sdk", "lean"):
        provider, memory = provider_with_memory()
        if make == "sdk":
            span = provider.get_tracer("inventree").start_span("x", attributes=given)
        else:
            span = LeanTracer(provider).start_span("x", None, SpanKind.INTERNAL, given)
        span.set_attributes(later)
        span.set_attribute("tuple", ["a", "b"])
        span.set_attribute("", "dropped")
        span.end()
        span.end()  # a second end: no second export
        [finished] = memory.get_finished_spans()
        kept.append((dict(finished.attributes), finished.dropped_attributes))
    assert kept[1] == kept[0]
    attributes, dropped = kept[1]
    assert attributes["list"] == (1, 2) and attributes["obj"] == "named"
    assert "" not in attributes and dropped == 2


class Hooks(SpanProcessor):
    def __init__(self):
        self.calls: list = []

    def on_start(self, span, parent_context=None):
        self.calls.append(("start", span.name))

    def _on_ending(self, span):
        self.calls.append(("ending", span.name))

    def on_end(self, span):
        self.calls.append(("end", span.name))


def test_processors_are_called_as_the_sdk_calls_them_even_one_added_later():
    provider, memory = provider_with_memory()
    tracer = LeanTracer(provider)
    tracer.start_span("before").end()
    hooks = Hooks()
    provider.add_span_processor(hooks)
    tracer.start_span("after").end()
    assert hooks.calls == [("start", "after"), ("ending", "after"), ("end", "after")]
    assert [s.name for s in memory.get_finished_spans()] == ["before", "after"]


def test_the_current_span_is_the_one_the_api_sees():
    provider, memory = provider_with_memory()
    tracing.install(provider)
    try:
        assert trace_context.current_span() is None
        handle = tracing.start("outer", tracing.SERVER)
        assert trace.get_current_span() is handle[0] is trace_context.current_span()
        inner = tracing.start("inner")
        assert inner[0].parent == handle[0].get_span_context()
        assert tracing.traceparent().split("-")[2] == format(inner[0].context.span_id, "016x")
        assert tracing.current_ids() == tuple(tracing.traceparent().split("-")[1:3])
        tracing.finish(inner)
        assert trace.get_current_span() is handle[0]
        tracing.finish(handle)
        assert trace_context.current_span() is None
        assert trace.get_current_span() is trace.INVALID_SPAN
    finally:
        tracing.uninstall()


def test_an_unsampled_span_s_ids_are_still_in_the_log_lines():
    tracing.install(TracerProvider(sampler=sampler_of("always_off", "")))
    try:
        handle = tracing.start("GET", tracing.SERVER, {"traceparent": "00-" + "ab" * 16
                                                       + "-" + "cd" * 8 + "-00"})
        assert tracing.current_ids()[0] == "ab" * 16
        tracing.finish(handle)
        assert tracing.current_ids() is None
    finally:
        tracing.uninstall()


def test_the_api_s_functions_serve_when_another_runtime_context_is_configured(monkeypatch):
    monkeypatch.setattr(trace_context, "_VAR", None)
    provider, memory = provider_with_memory()
    tracing.install(provider)
    try:
        handle = tracing.start("outer")
        assert trace.get_current_span() is handle[0] is trace_context.current_span()
        tracing.finish(handle)
        assert trace_context.current_span() is None
    finally:
        tracing.uninstall()


class Held(SpanExporter):
    """Keeps the names it exports; its first export waits until `release` is set."""

    def __init__(self):
        self.names: list = []
        self.entered, self.release = threading.Event(), threading.Event()

    def export(self, spans):
        self.entered.set()
        assert self.release.wait(30)
        self.names += [span.name for span in spans]
        return SpanExportResult.SUCCESS

    def shutdown(self):
        pass


def test_the_batch_processor_exports_what_it_queued_and_drops_beyond_its_queue():
    held = Held()
    processor = BatchSpanProcessor(held, max_queue_size=2, schedule_delay_millis=60_000,
                                   max_export_batch_size=1)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = LeanTracer(provider)
    tracer.start_span("s0").end()  # wakes the worker, whose export waits
    assert held.entered.wait(30)
    for number in (1, 2, 3):  # the queue holds two: the oldest (s1) is dropped
        tracer.start_span(f"s{number}").end()
    held.release.set()
    processor.force_flush()
    assert held.names == ["s0", "s2", "s3"]
    processor._batch_processor._pid = -1  # as in a forked child: the SDK re-initialises it
    tracer.start_span("in the child").end()
    processor.force_flush()
    assert held.names[-1] == "in the child"
    processor.shutdown()
    tracer.start_span("after shutdown").end()
    assert held.names[-1] == "in the child"
