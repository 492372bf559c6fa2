"""Finished spans as an OTLP `ExportTraceServiceRequest`, written straight in protobuf's wire
format: the message the SDK's encoder gives
(`opentelemetry.exporter.otlp.proto.common.trace_encoder.encode_spans`, which
tests/svckit/test_otlp_encoding.py compares it with), for a fraction of its CPU (that
encoder builds a protobuf object per span, attribute and value, and hashes each span's
resource as JSON to group them). The spans of one batch are grouped by the resource and
instrumentation scope objects they carry (one of each per process here); each resource and
scope is encoded once per process.

Used by svckit.tracing_setup's exporter (`OtlpSpanExporter`).
"""
import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http._common import _is_request_too_large
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanKind

log = logging.getLogger(__name__)

_KIND = {SpanKind.INTERNAL: 1, SpanKind.SERVER: 2, SpanKind.CLIENT: 3, SpanKind.PRODUCER: 4,
         SpanKind.CONSUMER: 5}
HAS_IS_REMOTE, IS_REMOTE = 0x100, 0x200  # SpanFlags: the parent's remoteness is known / is
INT64 = (-(1 << 63), 1 << 63)
_FIXED64, _FIXED32, _DOUBLE = struct.Struct("<Q"), struct.Struct("<I"), struct.Struct("<d")


_ONE_BYTE = [bytes((n,)) for n in range(128)]


def _varint(number: int) -> bytes:
    if 0 <= number < 128:
        return _ONE_BYTE[number]
    out = bytearray()
    while number > 0x7F:
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def _tag(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _tag(field, 2) + _varint(len(payload)) + payload


def _text(field: int, text: str | None) -> bytes:
    """A string field; nothing for an empty one (proto3's default)."""
    return _length_delimited(field, text.encode()) if text else b""


def _any_value(value) -> bytes:
    """The fields of an AnyValue (a oneof: written even when it holds a default)."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _length_delimited(1, value.encode())
    if isinstance(value, int):
        if not INT64[0] <= value < INT64[1]:
            raise ValueError(f"{value} is out of int64's range")
        return b"\x18" + _varint(value & 0xFFFFFFFFFFFFFFFF)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE.pack(value)
    if isinstance(value, bytes):
        return _length_delimited(7, value)
    if isinstance(value, Sequence):
        return _length_delimited(5, b"".join(_length_delimited(1, _any_value(item))
                                             for item in value))
    if isinstance(value, Mapping):
        return _length_delimited(6, b"".join(_length_delimited(1, _key_value(str(k), v))
                                             for k, v in value.items()))
    raise TypeError(f"Invalid type {type(value)} of value {value}")


def _key_value(key: str, value) -> bytes:
    return _text(1, key) + _length_delimited(2, _any_value(value))


_SCALARS = (str, bool, int, float)
_encoded: dict[tuple, bytes] = {}  # (field, key, type, value) -> the attribute's bytes
ENCODED_LIMIT = 4096  # attributes remembered (methods, routes, statuses repeat); then anew


def _attributes(field: int, attributes) -> bytes:
    """Each attribute as a KeyValue in `field`; one that cannot be encoded is left out and
    logged, as the SDK's encoder does. A scalar attribute's bytes are remembered."""
    if not attributes:
        return b""
    parts = []
    for key, value in attributes.items():
        kind = type(value)
        remembered = (field, key, kind, value) if kind in _SCALARS else None
        encoded = _encoded.get(remembered) if remembered else None
        if encoded is None:
            try:
                encoded = _length_delimited(field, _key_value(key, value))
            except Exception as error:
                log.warning("Failed to encode key %s: %s", key, error)
                continue
            if remembered:
                if len(_encoded) >= ENCODED_LIMIT:
                    _encoded.clear()
                _encoded[remembered] = encoded
        parts.append(encoded)
    return b"".join(parts)


def _count(field: int, number: int) -> bytes:
    return _tag(field, 0) + _varint(number) if number else b""


def _flags(parent) -> int:
    return HAS_IS_REMOTE | IS_REMOTE if parent is not None and parent.is_remote else HAS_IS_REMOTE


def _span(span) -> bytes:
    context = span.get_span_context()
    parts = [b"\x0a\x10", context.trace_id.to_bytes(16, "big"),
             b"\x12\x08", context.span_id.to_bytes(8, "big")]
    if context.trace_state is not None:
        parts.append(_text(3, ",".join(f"{k}={v}" for k, v in context.trace_state.items())))
    parent = span.parent
    if parent is not None:
        parts += (b"\x22\x08", parent.span_id.to_bytes(8, "big"))
    parts += (_text(5, span.name), _count(6, _KIND[span.kind]))
    if span.start_time:
        parts += (b"\x39", _FIXED64.pack(span.start_time))
    if span.end_time:
        parts += (b"\x41", _FIXED64.pack(span.end_time))
    parts += (_attributes(9, span.attributes), _count(10, span.dropped_attributes))
    for event in span.events:
        parts.append(_length_delimited(11, b"".join((
            b"\x09" + _FIXED64.pack(event.timestamp) if event.timestamp else b"",
            _text(2, event.name), _attributes(3, event.attributes),
            _count(4, event.dropped_attributes)))))
    parts.append(_count(12, span.dropped_events))
    for link in span.links:
        parts.append(_length_delimited(13, b"".join((
            b"\x0a\x10", link.context.trace_id.to_bytes(16, "big"),
            b"\x12\x08", link.context.span_id.to_bytes(8, "big"),
            _attributes(4, link.attributes), _count(5, link.dropped_attributes),
            b"\x35", _FIXED32.pack(_flags(link.context))))))
    parts.append(_count(14, span.dropped_links))
    status = span.status
    if status is not None:
        parts.append(_length_delimited(15, _text(2, status.description)
                                       + _count(3, status.status_code.value)))
    parts += (b"\x85\x01", _FIXED32.pack(_flags(parent)))
    return b"".join(parts)


_resources: dict[int, tuple[object, bytes]] = {}  # id -> (the object, kept alive; its fields)
_scopes: dict[int, tuple[object, bytes]] = {}


def _resource(resource) -> bytes:
    known = _resources.get(id(resource))
    if known is None or known[0] is not resource:
        known = _resources[id(resource)] = (resource, _attributes(1, resource.attributes))
    return known[1]


def _scope(scope) -> bytes:
    known = _scopes.get(id(scope))
    if known is None or known[0] is not scope:
        encoded = b"" if scope is None else (
            _text(1, scope.name) + _text(2, scope.version) + _attributes(3, scope.attributes))
        known = _scopes[id(scope)] = (scope, encoded)
    return known[1]


def encode(spans) -> bytes:
    """The serialized ExportTraceServiceRequest of `spans` (SDK ReadableSpans)."""
    groups: dict[int, tuple[Any, dict[int, tuple[Any, list[bytes]]]]] = {}
    for span in spans:
        resource, scope = span.resource, span.instrumentation_scope or None
        scopes = groups.setdefault(id(resource), (resource, {}))[1]
        scopes.setdefault(id(scope), (scope, []))[1].append(_length_delimited(2, _span(span)))
    out = []
    for resource, scopes in groups.values():
        body = [_length_delimited(1, _resource(resource))]
        for scope, encoded in scopes.values():
            body.append(_length_delimited(2, b"".join((
                _length_delimited(1, _scope(scope)), *encoded,
                _text(3, scope.schema_url if scope is not None else None)))))
        body.append(_text(3, resource.schema_url))
        out.append(_length_delimited(1, b"".join(body)))
    return b"".join(out)


class OtlpSpanExporter(OTLPSpanExporter):
    """The SDK's OTLP/HTTP span exporter (its transport, retries and settings) with `encode`
    in place of its encoder; the rest of its `export` as it is in the pinned version."""

    def export(self, spans) -> SpanExportResult:
        if self._shutdown:
            log.warning("Exporter already shutdown, ignoring batch")
            return SpanExportResult.FAILURE
        with self._metrics.export_operation(len(spans)) as result:
            try:
                data = encode(spans)
            except Exception as error:
                log.error("Failed to encode span batch: %s", error)
                result.error = error
                return SpanExportResult.FAILURE
            if _is_request_too_large(data, self._max_request_size):
                log.warning("Dropping span batch: serialized size %d bytes exceeds "
                            "max_request_size %d bytes.", len(data), self._max_request_size)
                return SpanExportResult.FAILURE
            answer = self._client.export(data)
            if not answer.success:
                result.error = answer.error
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS
