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
from opentelemetry.trace import SpanKind, StatusCode

from svckit.lean_tracer import UNSET_STATUS  # a LeanSpan's status until one is set

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


_FLAGS_FIELD = {remote: b"\x85\x01" + _FIXED32.pack(HAS_IS_REMOTE | (IS_REMOTE if remote else 0))
                for remote in (False, True)}
_KIND_FIELD = {kind: _count(6, number) for kind, number in _KIND.items()}
_UNSET_STATUS_FIELD = b"\x7a\x00"  # field 15, an empty Status (code UNSET, no description)
_names: dict[str, bytes] = {}  # span name -> its field (route templates, methods repeat)
_attribute_blocks: dict[tuple, bytes] = {}  # a span's attributes (as items) -> their fields


def _remembered(cache: dict, key, make) -> bytes:
    encoded = cache.get(key)
    if encoded is None:
        encoded = make()
        if len(cache) >= ENCODED_LIMIT:
            cache.clear()
        cache[key] = encoded
    return encoded


def _span_attributes(attributes) -> bytes:
    """A span's attributes (field 9): the same set of values recurs (one route answered
    the same way), so the whole block is remembered; unhashable values are encoded anew."""
    if not attributes:
        return b""
    try:
        key = tuple(attributes.items())
        return _remembered(_attribute_blocks, key, lambda: _attributes(9, attributes))
    except TypeError:
        return _attributes(9, attributes)


_KIND_OF = {id(kind): field for kind, field in _KIND_FIELD.items()}  # by identity: an
# enum member's hash is a Python call


def _status_field(status) -> bytes:
    if status.status_code is StatusCode.UNSET and not status.description:
        return _UNSET_STATUS_FIELD
    return _length_delimited(15, _text(2, status.description)
                             + _count(3, status.status_code.value))


def _span(span) -> bytes:
    """A Span message. Reads the fields the SDK's ReadableSpan keeps (its properties would
    copy attributes, events and links), as svckit.lean_tracer's spans keep them too; a
    SpanContext's fields by position (its properties are Python calls)."""
    context, parent = span._context, span._parent  # noqa: SLF001
    # trace_id, span_id, is_remote, trace_flags, trace_state
    parts = [b"\x0a\x10", context[0].to_bytes(16, "big"), b"\x12\x08",
             context[1].to_bytes(8, "big")]
    if context[4]:
        parts.append(_text(3, ",".join(f"{k}={v}" for k, v in context[4].items())))
    if parent is not None:
        parts += (b"\x22\x08", parent[1].to_bytes(8, "big"))
    name = span._name  # noqa: SLF001
    parts += (_names.get(name) or _remembered(_names, name, lambda: _text(5, name)),
              _KIND_OF.get(id(span._kind)) or _KIND_FIELD[span._kind])  # noqa: SLF001
    started, ended = span._start_time, span._end_time  # noqa: SLF001
    if started:
        parts += (b"\x39", _FIXED64.pack(started))
    if ended:
        parts += (b"\x41", _FIXED64.pack(ended))
    attributes = span._attributes  # noqa: SLF001
    if attributes:
        parts.append(_span_attributes(attributes))
    dropped = span.dropped_attributes
    if dropped:
        parts.append(_count(10, dropped))
    for event in span._events:  # noqa: SLF001
        parts.append(_length_delimited(11, b"".join((
            b"\x09" + _FIXED64.pack(event.timestamp) if event.timestamp else b"",
            _text(2, event.name), _attributes(3, event.attributes),
            _count(4, event.dropped_attributes)))))
    dropped = span.dropped_events
    if dropped:
        parts.append(_count(12, dropped))
    for link in span._links:  # noqa: SLF001
        parts.append(_length_delimited(13, b"".join((
            b"\x0a\x10", link.context.trace_id.to_bytes(16, "big"),
            b"\x12\x08", link.context.span_id.to_bytes(8, "big"),
            _attributes(4, link.attributes), _count(5, link.dropped_attributes),
            b"\x35", _FIXED32.pack(_flags(link.context))))))
    dropped = span.dropped_links
    if dropped:
        parts.append(_count(14, dropped))
    status = span._status  # noqa: SLF001
    if status is not None:
        parts.append(_UNSET_STATUS_FIELD if status is UNSET_STATUS else _status_field(status))
    parts.append(_FLAGS_FIELD[parent is not None and parent[2]])
    body = b"".join(parts)
    return b"\x12" + _varint(len(body)) + body  # field 2 of its ScopeSpans


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
    last_key: tuple | None = None
    last_list: list[bytes] = []
    for span in spans:
        resource, scope = span.resource, span.instrumentation_scope or None
        key = (id(resource), id(scope))
        if key != last_key:  # the spans of a batch share them (one of each per process)
            scopes = groups.setdefault(key[0], (resource, {}))[1]
            last_key, last_list = key, scopes.setdefault(key[1], (scope, []))[1]
        last_list.append(_span(span))
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
