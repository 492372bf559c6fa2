"""CPU of one gateway request span, the SDK's way against this project's, in one process
(no app, no broker): what svckit.lean_tracer, svckit.trace_context, the BatchSpanProcessor
of svckit.tracing_setup and svckit.otlp_encoding save per span.

- "sdk": the SDK's Tracer and Span, the API's context functions, the SDK's
  BatchSpanProcessor, the SDK's OTLP encoder (`encode_spans(...).SerializeToString()`);
- "lean": svckit.tracing's start/finish (the lean tracer, the context variable set
  directly), svckit.tracing_setup's BatchSpanProcessor, svckit.otlp_encoding.encode.

Each span is what gateway/tracing.py makes of a `GET /api/generic/status/`: started bare,
made current, its log line's ids read, renamed, its five attributes set in one pass,
ended, and exported in batches to an exporter that encodes and drops the bytes. The two
take turns, `--rounds` times; reported: the spans' thread CPU per span (the request's
share) and the process's (with the exporting thread's encoding), medians and spread, in
bench/results/tracing-span-cost-<date>.md.

    .venv/bin/python bench/tracing_span_cost.py [--spans 5000] [--rounds 5]
"""
import argparse
import os
import statistics
import time

from opentelemetry import context as otel_context, trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor as SdkBatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

from common import write_report
from svckit import tracing
from svckit.otlp_encoding import encode
from svckit.tracing_setup import BatchSpanProcessor

ATTRIBUTES = {"http.request.method": "GET", "url.path": "/api/generic/status/",
              "url.scheme": "http", "http.response.status_code": 200,
              "http.route": "/api/generic/status/"}


class Encoding(SpanExporter):
    """Encodes each batch as the process's exporter would, and drops the bytes."""

    def __init__(self, encoder):
        self.encoder = encoder

    def export(self, spans):
        self.encoder(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self):
        pass


def run(way: str, count: int) -> tuple[float, float]:
    """(thread µs, process µs) per span."""
    sdk = way == "sdk"
    exporter = Encoding((lambda spans: encode_spans(spans).SerializeToString()) if sdk
                        else encode)
    provider = TracerProvider(resource=Resource({"service.name": "inventree-gateway"}))
    processor = (SdkBatchSpanProcessor if sdk else BatchSpanProcessor)(
        exporter, max_queue_size=2048, schedule_delay_millis=1000, max_export_batch_size=512)
    provider.add_span_processor(processor)
    tracing.install(provider)
    sdk_tracer = provider.get_tracer("inventree")

    def start_sdk():
        span = sdk_tracer.start_span("GET", kind=trace.SpanKind.SERVER)
        return span, otel_context.attach(trace.set_span_in_context(span))

    def finish_sdk(handle):
        span, token = handle
        span.set_attributes(dict(ATTRIBUTES))
        span.end()
        otel_context.detach(token)

    def ids_sdk():
        context = trace.get_current_span().get_span_context()
        return format(context.trace_id, "032x"), format(context.span_id, "016x")

    start = start_sdk if sdk else (lambda: tracing.start("GET", tracing.SERVER, None))
    finish = finish_sdk if sdk else (lambda handle: tracing.finish(
        handle, None, attributes=dict(ATTRIBUTES)))
    ids = ids_sdk if sdk else tracing.current_ids
    process, thread = time.process_time(), time.thread_time()
    for number in range(count):
        handle = start()
        ids()
        handle[0].update_name("GET /api/generic/status/")
        finish(handle)
        if number % 200 == 199:
            time.sleep(0.002)  # the exporting thread runs between requests, as it would
    thread = time.thread_time() - thread
    provider.shutdown()  # its last export is this way's cost too
    process = time.process_time() - process
    tracing.uninstall()
    return thread / count * 1e6, process / count * 1e6


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results: dict = {"sdk": [], "lean": []}
    load_before = os.getloadavg()
    for rnd in range(args.rounds):
        for way in (("sdk", "lean") if rnd % 2 == 0 else ("lean", "sdk")):
            results[way].append(run(way, args.spans))
    load_after = os.getloadavg()
    lines = [f"# One gateway request span's CPU, the SDK's way and this project's, "
             f"{time.strftime('%Y-%m-%d %H:%M')}", "",
             f"bench/tracing_span_cost.py: {os.cpu_count()} cores, load average "
             f"{load_before[0]:.2f} at start, {load_after[0]:.2f} at the end; {args.spans} "
             f"spans a round, {args.rounds} rounds, the two ways taking turns.", "",
             "| way | µs a span, request thread (median, spread) | µs a span with the "
             "export (median, spread) |", "| --- | --- | --- |"]
    for way, rows in results.items():
        thread, process = [r[0] for r in rows], [r[1] for r in rows]
        lines.append(f"| {way} | {statistics.median(thread):.1f} ({min(thread):.1f}-"
                     f"{max(thread):.1f}) | {statistics.median(process):.1f} "
                     f"({min(process):.1f}-{max(process):.1f}) |")
    write_report("tracing-span-cost", lines)

if __name__ == "__main__":
    main()
