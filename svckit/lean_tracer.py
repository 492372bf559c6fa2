"""A tracer for svckit.tracing that starts and ends spans for a fraction of the SDK's CPU,
with the SDK TracerProvider's own sampler, id generator, resource and span processors.

The SDK's `Tracer.start_span` and `Span` (pinned version 1.45.2) cost a gateway request
about as much as the rest of its tracing together: a lock and `BoundedAttributes` per span
(every attribute checked and copied as it is set), a `SamplingResult` and two context
lookups for the sampler, a second span object (`ReadableSpan`) built at its end for the
processors. Here a span is one object: `LeanSpan` is both the API's `Span` (current in the
context, seen by the propagator and `trace.get_current_span`) and the SDK's `ReadableSpan`
(what processors and exporters take: the BatchSpanProcessor, the in-memory exporter of the
tests, svckit.otlp_encoding), its attributes a plain dict (a scalar set as it is; anything
else cleaned as the SDK does), handed to the processors itself when it ends. The standard
samplers are decided without a call (`Decision`); any other sampler is asked as the SDK
asks it.

What is left out, on purpose: the SDK's span limits (128 attributes, events and links; the
spans here carry fewer than 10 of each, and exceptions are recorded once), its
`Tracer`-level internal metrics (off unless OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED) and
a lock per span (a span here is used by the one thread that handles its request).
"""
import logging
import random
import traceback
from collections.abc import Mapping, Sequence
from time import time_ns
from types import MappingProxyType

from opentelemetry import trace as trace_api
from opentelemetry.attributes import _clean_attribute_value
from opentelemetry.sdk.trace import (
    Event,
    ReadableSpan,
    SpanProcessor,
    TracerProvider,
    _is_valid_link,
)
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    StaticSampler,
    TraceIdRatioBased,
)
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import DEFAULT_TRACE_STATE

log = logging.getLogger(__name__)

SCOPE_NAME = "inventree"
_SCALARS = frozenset((str, bool, int, float))
UNSET_STATUS = Status(StatusCode.UNSET)
_new_context = tuple.__new__
_FLAGS = {(sampled, random): TraceFlags((TraceFlags.SAMPLED if sampled else 0)
                                        | (TraceFlags.RANDOM_TRACE_ID if random else 0))
          for sampled in (False, True) for random in (False, True)}


def _is_plain(key, value) -> bool:
    """A non-empty str key and a str, bool, int or float value: stored as given."""
    return type(value) in _SCALARS and type(key) is str and key != ""


def _cleaned(attributes: Mapping) -> tuple[dict, int]:
    """`attributes` as the SDK's BoundedAttributes stores a mapping set at once (keys
    that are not strings made strings, empty ones dropped, values cleaned: sequences made
    tuples, other objects strings), and how many it dropped."""
    for key, value in attributes.items():  # _is_plain, inline (a span's few attributes)
        if type(value) not in _SCALARS or type(key) is not str or not key:
            break
    else:
        return dict(attributes), 0
    cleaned = dict(_clean_attribute_value(dict(attributes), None))
    return cleaned, len(attributes) - len(cleaned)


class LeanSpan(trace_api.Span, ReadableSpan):
    """A recorded span (see the module's docstring). Its `ReadableSpan` properties read the
    same fields the SDK's `Span` keeps."""

    _context: SpanContext
    _attributes: dict
    _links: tuple
    _events: list
    _start_time: int

    def __init__(self, tracer: "LeanTracer", name: str, context: SpanContext,
                 parent: SpanContext | None, kind: SpanKind, attributes: dict,
                 links: tuple):
        # ReadableSpan.__init__ is not called: it would build a default resource first
        self._name = name
        self._context = context
        self._parent = parent
        self._kind = kind
        self._attributes = attributes
        self._links = links
        self._events = []
        self._status = UNSET_STATUS
        self._resource = tracer.provider._resource  # noqa: SLF001 (replaced after a fork)
        self._instrumentation_scope = tracer.scope
        self._instrumentation_info = None
        self._tracer = tracer
        self._start_time = time_ns()
        self._end_time: int | None = None
        self._hex_ids: tuple[str, str] | None = None
        self._traceparent: str | None = None

    def __repr__(self):
        return f'{type(self).__name__}(name="{self._name}", context={self._context})'

    def hex_ids(self) -> tuple[str, str]:
        """(trace id, span id) as hex, for log lines (made once, from the SpanContext
        tuple)."""
        ids = self._hex_ids
        if ids is None:
            context = self._context
            ids = self._hex_ids = (f"{context[0]:032x}", f"{context[1]:016x}")
        return ids

    def traceparent(self) -> str:
        """Its context as a W3C `traceparent` (made once: an RPC call's headers, the
        events recorded under it)."""
        made = self._traceparent
        if made is None:
            trace_id, span_id = self.hex_ids()
            made = self._traceparent = f"00-{trace_id}-{span_id}-{self._context[3]:02x}"
        return made

    # the API's Span

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return self._end_time is None

    def set_attribute(self, key: str, value) -> None:
        if self._end_time is not None:
            log.warning("Setting attribute on ended span.")
            return
        if _is_plain(key, value):
            self._attributes[key] = value
        elif not key or not isinstance(key, str):
            log.warning("invalid key `%s`. must be non-empty string. Dropping key from "
                        "attributes.", key)
            self.dropped_attributes += 1
        else:
            self._attributes[key] = _clean_attribute_value(value, None)

    def set_attributes(self, attributes: Mapping) -> None:
        if self._end_time is not None:
            log.warning("Setting attribute on ended span.")
            return
        mine = self._attributes
        for key, value in attributes.items():
            if type(value) not in _SCALARS or type(key) is not str or not key:  # _is_plain
                cleaned, dropped = _cleaned(attributes)
                mine.update(cleaned)
                self.dropped_attributes += dropped
                return
            mine[key] = value

    def add_event(self, name: str, attributes=None, timestamp: int | None = None) -> None:
        if self._end_time is not None:
            return
        self._events.append(Event(name, _cleaned(attributes or {})[0], timestamp))

    def add_link(self, context: SpanContext, attributes=None) -> None:
        if self._end_time is None and _is_valid_link(context, attributes):
            self._links += (trace_api.Link(context, attributes),)

    def update_name(self, name: str) -> None:
        if self._end_time is None:
            self._name = name

    def set_status(self, status, description: str | None = None) -> None:
        """As the SDK's: UNSET is ignored, and so is anything after OK."""
        if self._end_time is not None or self._status.status_code is StatusCode.OK:
            return
        if not isinstance(status, Status):
            status = Status(status, description)
        if status.status_code is not StatusCode.UNSET:
            self._status = status

    def record_exception(self, exception: BaseException, attributes=None,
                         timestamp: int | None = None, escaped: bool = False) -> None:
        """An `exception` event with the attributes the SDK gives it."""
        module = type(exception).__module__
        qualname = type(exception).__qualname__
        recorded = {
            "exception.type": (f"{module}.{qualname}" if module and module != "builtins"
                               else qualname),
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped)}
        if attributes:
            recorded.update(attributes)
        self.add_event("exception", recorded, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._end_time is not None:
            log.warning("Calling end() on an ended span.")
            return
        self._end_time = end_time if end_time is not None else time_ns()
        self._tracer.ended(self)

    # ReadableSpan's, without copies (the span no longer changes once it has ended)

    dropped_attributes = dropped_events = dropped_links = 0  # no limits (see the module)

    @property
    def attributes(self):
        return MappingProxyType(self._attributes)

    @property
    def events(self) -> Sequence:
        return self._events

    @property
    def links(self) -> Sequence:
        return self._links


def _decider(sampler: Sampler):
    """A function (parent span context or None, trace id) -> sampled, for the samplers
    OTEL_TRACES_SAMPLER names (their decisions as the SDK's `should_sample` makes them);
    None for any other sampler."""
    if isinstance(sampler, StaticSampler):
        sampled = sampler._decision is Decision.RECORD_AND_SAMPLE  # noqa: SLF001
        return lambda parent, trace_id: sampled
    if isinstance(sampler, TraceIdRatioBased):
        bound, limit = sampler.bound, sampler.TRACE_ID_LIMIT
        return lambda parent, trace_id: trace_id & limit < bound
    if isinstance(sampler, ParentBased):
        deciders = [_decider(s) for s in (
            sampler._root, sampler._remote_parent_sampled,  # noqa: SLF001
            sampler._remote_parent_not_sampled, sampler._local_parent_sampled,  # noqa: SLF001
            sampler._local_parent_not_sampled)]  # noqa: SLF001
        if None in deciders:
            return None
        root, remote_on, remote_off, local_on, local_off = deciders

        def parent_based(parent, trace_id):
            if parent is None:
                return root(parent, trace_id)
            if parent.is_remote:
                chosen = remote_on if parent.trace_flags.sampled else remote_off
            else:
                chosen = local_on if parent.trace_flags.sampled else local_off
            return chosen(parent, trace_id)
        return parent_based
    return None


class LeanTracer:
    """Starts `LeanSpan`s for `provider` (an SDK TracerProvider): its sampler, id generator
    and span processors, read once (a provider is set up before it is used), and its
    resource (which the SDK replaces in a forked child)."""

    def __init__(self, provider: TracerProvider):
        self.provider = provider
        self.scope = InstrumentationScope(SCOPE_NAME)
        self.processor = provider._active_span_processor  # noqa: SLF001
        self.sampler = provider.sampler
        self.decide = _decider(provider.sampler)
        ids = provider.id_generator
        self.new_trace_id, self.new_span_id = ids.generate_trace_id, ids.generate_span_id
        self.random_ids = ids.is_trace_id_random()
        # the SDK's default generator is `random.getrandbits` (0 is invalid: asked again)
        self.bits = random.getrandbits if type(ids) is RandomIdGenerator else None
        self._processors: tuple | None = None
        self._starting: tuple = ()
        self._ending: tuple = ()

    def _hooks(self) -> tuple:
        """The provider's processors (a tuple the SDK replaces when one is added), and
        which of them do something in `on_start` and `_on_ending` (the SDK's batch and
        simple processors do nothing there: not called for each span)."""
        processors = self.processor._span_processors  # noqa: SLF001
        if processors is not self._processors:
            self._starting = tuple(p for p in processors
                                   if type(p).on_start is not SpanProcessor.on_start)
            self._ending = tuple(p for p in processors
                                 if type(p)._on_ending is not SpanProcessor._on_ending)  # noqa: SLF001
            self._processors = processors
        return processors

    def wants_parent_context(self) -> bool:
        """Whether a span's parent Context is read by anyone (a sampler asked as the SDK
        asks it, a processor's `on_start`): else it need not be made."""
        self._hooks()
        return self.decide is None or bool(self._starting)

    def ended(self, span: LeanSpan) -> None:
        """Hand an ended span to the processors, as the SDK's Span does."""
        processors = self._hooks()
        for processor in self._ending:
            processor._on_ending(span)  # noqa: SLF001
        for processor in processors:
            processor.on_end(span)

    def start_span(self, name: str, parent: SpanContext | None = None,
                   kind: SpanKind = SpanKind.INTERNAL, attributes: Mapping | None = None,
                   links: Sequence = (), parent_context=None):
        """A started span: a `LeanSpan` when sampled, else a `NonRecordingSpan` that carries
        the (unsampled) context on. `parent`: the parent span's context (None or invalid:
        a new trace); `parent_context`: the Context it came from, for a custom sampler."""
        if parent is not None and not parent.is_valid:
            parent = None
        bits = self.bits
        if parent is None:
            trace_id = (bits and bits(128)) or self.new_trace_id()
            random_id, state = self.random_ids, None
        else:
            trace_id, state = parent.trace_id, parent.trace_state
            random_id = parent.trace_flags.random_trace_id
        if self.decide is not None:
            sampled = self.decide(parent, trace_id)
            recording = sampled
        else:
            result = self.sampler.should_sample(parent_context, trace_id, name, kind,
                                                attributes, links)
            sampled, recording = result.decision.is_sampled(), result.decision.is_recording()
            state = result.trace_state
            attributes = result.attributes
        flags = _FLAGS[sampled, random_id]
        if bits is not None:  # what SpanContext() makes, without its checks: both ids valid
            # (the parent's, or random bits of the right width, never 0)
            context = _new_context(SpanContext, (
                trace_id, bits(64) or self.new_span_id(), False, flags,
                DEFAULT_TRACE_STATE if state is None else state, True))
        else:  # another id generator's ids: checked
            context = SpanContext(trace_id, self.new_span_id(), False, flags, state)
        if not recording:
            return trace_api.NonRecordingSpan(context)
        recorded, dropped = _cleaned(attributes) if attributes else ({}, 0)
        span = LeanSpan(self, name, context, parent, kind, recorded,
                        tuple(link for link in links if link and _is_valid_link(
                            link.context, link.attributes)) if links else ())
        if dropped:
            span.dropped_attributes = dropped
        self._hooks()
        for processor in self._starting:
            processor.on_start(span, parent_context=parent_context)
        return span
