"""Builds a process's OpenTelemetry TracerProvider from its OTEL_* settings
(svckit.settings.TracingSettings), the standard variables' meanings, read once at start
like every other setting (the SDK is handed values and reads no environment itself).

Tracing is on when `OTEL_TRACES_EXPORTER` is `otlp` or `console`, or is empty and an OTLP
endpoint is set; `OTEL_SDK_DISABLED=true` turns it off whatever else is set.
"""
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor as SdkBatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import TraceFlags

from svckit import procid

QUEUE_SIZE = 2048  # spans waiting for export; more are dropped (a collector that lags)
EXPORT_DELAY_MS = 1000


class BatchSpanProcessor(SdkBatchSpanProcessor):
    """The SDK's BatchSpanProcessor, whose `on_end` queues a span without a system call:
    the SDK's asks for the process id with each span, to notice a fork (a system call, which
    costs a request more than the rest of queueing; its processor re-initialises itself in
    a forked child anyway, at the fork). Anything but the common case (a full queue, a
    shut-down processor, a forked child) goes through the SDK's own code."""

    def on_end(self, span) -> None:
        context = span.get_span_context()
        if context is None or not context[3] & TraceFlags.SAMPLED:  # [3]: its trace_flags
            return
        batch = self._batch_processor
        queue = batch._queue  # noqa: SLF001 (the pinned SDK 1.45.2's BatchProcessor)
        if (batch._shutdown or batch._pid != procid.current()  # noqa: SLF001
                or len(queue) >= batch._max_queue_size):  # noqa: SLF001
            batch.emit(span)
            return
        queue.appendleft(span)
        if (len(queue) >= batch._max_export_batch_size  # noqa: SLF001
                and not batch._worker_awaken.is_set()):  # noqa: SLF001
            batch._worker_awaken.set()  # noqa: SLF001


def exporter_name(settings) -> str:
    """"otlp", "console" or "none" (tracing off)."""
    if settings.OTEL_SDK_DISABLED:
        return "none"
    name = settings.OTEL_TRACES_EXPORTER
    if name == "":
        endpoint = (settings.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
                    or settings.OTEL_EXPORTER_OTLP_ENDPOINT)
        return "otlp" if endpoint else "none"
    return name


def sampler_of(name: str, arg: str) -> Sampler:
    ratio = float(arg) if arg else 1.0
    base = {"always_on": ALWAYS_ON, "always_off": ALWAYS_OFF,
            "traceidratio": TraceIdRatioBased(ratio)}
    if name.startswith("parentbased_"):
        return ParentBased(base[name[len("parentbased_"):]])
    return base[name]


def key_values(raw: str) -> dict[str, str]:
    """`k=v,k2=v2` (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS), values
    percent-decoded as the specification says."""
    from urllib.parse import unquote
    pairs = {}
    for item in raw.split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            pairs[key.strip()] = unquote(value.strip())
    return pairs


def traces_endpoint(settings) -> str:
    if settings.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT:
        return settings.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
    base = settings.OTEL_EXPORTER_OTLP_ENDPOINT or "http://localhost:4318"
    return base.rstrip("/") + "/v1/traces"


def provider_from(settings, process: str) -> TracerProvider | None:
    """The TracerProvider `settings` describe for `process` ("gateway", a service's name),
    with a BatchSpanProcessor to its exporter; None when tracing is off."""
    exporter_kind = exporter_name(settings)
    if exporter_kind == "none":
        return None
    attributes = {**key_values(settings.OTEL_RESOURCE_ATTRIBUTES),
                  "service.name": settings.OTEL_SERVICE_NAME or f"inventree-{process}"}
    provider = TracerProvider(
        resource=Resource(attributes),
        sampler=sampler_of(settings.OTEL_TRACES_SAMPLER, settings.OTEL_TRACES_SAMPLER_ARG))
    exporter: SpanExporter
    if exporter_kind == "console":
        exporter = ConsoleSpanExporter()
    else:
        from svckit.otlp_encoding import OtlpSpanExporter  # the SDK's, a cheaper encoder
        from svckit.otlp_session import EnvironmentReadOnce
        endpoint = traces_endpoint(settings)
        exporter = OtlpSpanExporter(endpoint=endpoint,
                                    headers=key_values(settings.OTEL_EXPORTER_OTLP_HEADERS),
                                    timeout=settings.OTEL_EXPORTER_OTLP_TIMEOUT / 1000,
                                    session=EnvironmentReadOnce(endpoint))
    provider.add_span_processor(BatchSpanProcessor(
        exporter, max_queue_size=QUEUE_SIZE, schedule_delay_millis=EXPORT_DELAY_MS,
        max_export_batch_size=512,
        export_timeout_millis=settings.OTEL_EXPORTER_OTLP_TIMEOUT))
    return provider
