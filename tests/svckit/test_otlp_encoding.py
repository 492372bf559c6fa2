"""svckit.otlp_encoding writes the message the SDK's OTLP encoder builds (compared after a
round trip through the protobuf classes, which orders fields canonically), for spans of
every shape the services make and more: remote and local parents, links, exceptions,
statuses, every kind of attribute value, a trace state, two resources."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from svckit.otlp_encoding import OtlpSpanExporter, encode


def finished_spans(resource_attributes: dict) -> list:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource(resource_attributes))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("inventree", "1.0", schema_url="https://example/schema")
    remote = SpanContext(0x1234, 0x99, is_remote=True, trace_flags=TraceFlags(1),
                         trace_state=TraceState([("vendor", "v1"), ("x", "y")]))
    with tracer.start_as_current_span(
            "GET /api/x/{id}/", context=trace.set_span_in_context(trace.NonRecordingSpan(remote)),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": "GET", "http.response.status_code": 404,
                        "neg": -5, "big": 2 ** 62, "ratio": 0.25, "flag": False, "empty": "",
                        "tags": ("a", "b"), "numbers": (1, 2, 3), "unicode": "Ünï 🚀"}):
        with tracer.start_as_current_span("status.status_class", kind=SpanKind.CLIENT,
                                          links=[Link(remote, {"why": "event"})]) as child:
            child.set_status(Status(StatusCode.ERROR, "boom"))
            child.record_exception(KeyError("k"), attributes={"extra": 1})
        with tracer.start_as_current_span("db.transaction", kind=SpanKind.INTERNAL) as tx:
            tx.set_status(Status(StatusCode.OK))
    root = tracer.start_span("audit.events", kind=SpanKind.CONSUMER)
    root.end()
    bare = provider.get_tracer("other").start_span("")
    bare.end()
    provider.shutdown()
    return list(memory.get_finished_spans())


def canonical(data: bytes) -> bytes:
    return ExportTraceServiceRequest.FromString(data).SerializeToString(deterministic=True)


def test_the_message_is_the_sdk_encoder_s():
    spans = finished_spans({"service.name": "inventree-status", "n": 3})
    spans += finished_spans({"service.name": "inventree-gateway"})  # a second resource
    assert len(spans) == 10
    expected = encode_spans(spans).SerializeToString(deterministic=True)
    assert canonical(encode(spans)) == expected
    assert canonical(encode(spans[:1])) == encode_spans(spans[:1]).SerializeToString(
        deterministic=True)
    assert encode([]) == b""


def test_an_attribute_it_cannot_encode_is_left_out_as_the_sdk_does():
    [span] = [s for s in finished_spans({"service.name": "x"}) if s.name.startswith("GET")]
    span._attributes = {**span.attributes, "huge": 2 ** 70}  # beyond int64
    decoded = ExportTraceServiceRequest.FromString(encode([span]))
    keys = [kv.key for kv in decoded.resource_spans[0].scope_spans[0].spans[0].attributes]
    assert "huge" not in keys and "http.request.method" in keys


class Collector(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self):
        type(self).bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def collector():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Collector.bodies = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    server.shutdown()
    server.server_close()


def test_the_exporter_posts_what_it_encodes(collector):
    spans = finished_spans({"service.name": "inventree-status"})
    exporter = OtlpSpanExporter(endpoint=collector, timeout=5)
    try:
        assert exporter.export(spans).name == "SUCCESS"
    finally:
        exporter.shutdown()
    [body] = Collector.bodies
    assert canonical(body) == encode_spans(spans).SerializeToString(deterministic=True)
    assert exporter.export(spans).name == "FAILURE"  # after shutdown


def test_the_lean_tracer_s_spans_too():
    from svckit import tracing

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "inventree-gateway"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracing.install(provider)
    try:
        handle = tracing.start("GET", tracing.SERVER, {
            "traceparent": "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01", "tracestate": "k=v"})
        call = tracing.start("status.list", tracing.CLIENT, attributes={"rpc.method": "list"})
        tracing.finish(call, KeyError("gone"))
        tracing.finish(handle, attributes={"http.response.status_code": 200})
        linked = tracing.start("audit.events", tracing.CONSUMER, links=tracing.links_to(
            ["00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"]))
        tracing.finish(linked)
    finally:
        tracing.uninstall()
    spans = list(memory.get_finished_spans())
    assert [type(span).__name__ for span in spans] == ["LeanSpan"] * 3
    assert canonical(encode(spans)) == encode_spans(spans).SerializeToString(deterministic=True)
