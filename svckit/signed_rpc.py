"""nameko glue of signed caller contexts (svckit.signing): the RPC entrypoint that refuses a
call whose caller context is unsigned, forged or stale before any worker runs, and the
proxies through which a service calls another, signing the caller for that call. Their
queues follow svckit.broker: the request queue of the configured type, reply queues
transient.
"""
import logging
from functools import partial

import kombu.serialization
from nameko.extensions import SharedExtension
from nameko.messaging import QueueConsumer as NamekoQueueConsumer
from nameko.rpc import (
    MethodProxy,
    ReplyListener as NamekoReplyListener,
    Rpc,
    RpcConsumer as NamekoRpcConsumer,
    RpcProxy as NamekoRpcProxy,
    ServiceProxy,
)

from svckit import idempotency, parking, tracing
from svckit.broker import durable_queue_arguments, redacted
from svckit.consumer_state import TracksConnection
from svckit.container_settings import settings_of
from svckit.context import Caller
from svckit.errors import CallerRefused
from svckit.signing import CALLER_HEADER, SIGNATURE_HEADER

log = logging.getLogger(__name__)


class CallerKeys(SharedExtension):
    """The container's caller signer (from its settings' keys, made once, at setup)."""

    def setup(self):
        self.signer = settings_of(self.container).caller_signer()


class QueueConsumer(TracksConnection, NamekoQueueConsumer):
    """nameko's consumer of a service's queues (one connection for all of them), whose
    warnings name the broker's nodes without their passwords (nameko masks only the first
    URL of a list), and which knows whether it is consuming (`connected()`, for /readyz)."""

    def on_connection_error(self, exc, interval):
        log.warning("Error connecting to broker at %s (%s). Retrying in %s seconds.",
                    redacted(self.amqp_uri), exc, interval)

    # dead letters (svckit.parking): the rules of each provider's queue, if it is durable

    def guard(self, provider) -> parking.Guard | None:
        """The dead-letter rules of `provider`'s queue (the container's AMQP_QUEUE_TYPE and
        AMQP_DELIVERY_LIMIT); None for a queue that dies with its consumer (reply queues,
        exclusive or auto-delete ones)."""
        guards = self.__dict__.setdefault("_guards", {})
        if provider not in guards:
            queue = getattr(provider, "queue", None)
            durable = (queue is not None and queue.durable and not queue.exclusive
                       and not queue.auto_delete)
            guards[provider] = None
            if queue is not None and durable:
                settings = settings_of(self.container)
                guards[provider] = parking.Guard(
                    parking.parking_for(self.amqp_uri, settings.AMQP_QUEUE_TYPE), queue.name,
                    self.container.service_name, self.ack_message,
                    settings.AMQP_DELIVERY_LIMIT)
        return guards[provider]

    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            guard = self.guard(provider)
            if guard is not None:
                guard.declare(channel)
            consumer.on_decode_error = partial(self._undecodable, provider)
        return consumers

    def handle_message(self, provider, body, message):
        guard = self.guard(provider)
        if guard is not None:
            try:
                if not guard.admit(message):
                    return  # parked, or put back with its lost attempt counted
            except Exception:  # the broker went away meanwhile: handle it as it is
                log.exception("could not check the deliveries of a message of %s",
                              guard.queue)
        super().handle_message(provider, body, message)

    def _undecodable(self, provider, message, exc):
        guard = self.guard(provider)
        try:
            if guard is not None:
                guard.undecodable(message, exc)
                return
            log.error("dropped an undecodable message of %s: %s", provider.queue.name, exc)
        except Exception:
            log.exception("could not park an undecodable message of %s", provider.queue.name)
        self.ack_message(message)


class RpcConsumer(NamekoRpcConsumer):
    """nameko's consumer of the service's request queue (`rpc-<service>`), declared with
    the configured queue type (AMQP_QUEUE_TYPE)."""

    queue_consumer = QueueConsumer()

    def setup(self):
        super().setup()
        self.queue.queue_arguments = {
            **(self.queue.queue_arguments or {}),
            **durable_queue_arguments(settings_of(self.container).AMQP_QUEUE_TYPE)}

    def handle_message(self, body, message):
        """A request that cannot be answered (no `reply_to`, a content type no reply can be
        written in) is parked; so is one whose answer could not be sent."""
        properties = message.properties
        guard = self.queue_consumer.guard(self)
        assert guard is not None  # the request queue is durable
        first_key = (message.headers or {}).get(parking.ROUTING_KEY)
        if first_key:  # put back through the retry exchange: the method is in the header
            message.delivery_info["routing_key"] = first_key
        if not properties.get("reply_to"):
            return guard.unanswerable(message, "an RPC request without reply_to")
        if properties.get("content_type") not in kombu.serialization.registry.type_to_name:
            return guard.unanswerable(
                message, f"an RPC request of content type {properties.get('content_type')!r}")
        try:
            super().handle_message(body, message)
        except Exception as exc:
            try:
                guard.unanswerable(message, f"its answer could not be sent: {exc}")
            except Exception:  # the broker is gone: the request comes back by itself
                log.exception("could not park an unanswerable request of %s", guard.queue)


class ReplyListener(NamekoReplyListener):
    """nameko's listener for replies to a service's own calls, on a queue that is not
    durable: when its node goes away the broker drops it, and it is declared again on the
    node the service reconnects to (a durable one would stay unusable until its node is
    back)."""

    queue_consumer = QueueConsumer()

    def setup(self):
        super().setup()
        self.queue.durable = False


class SignedRpc(Rpc):
    """An RPC entrypoint that runs a call only for a caller context signed for this service
    and method; any other call is answered with CallerRefused (503) and logged, and no
    worker runs."""

    rpc_consumer = RpcConsumer()
    keys = CallerKeys()

    def handle_message(self, body, message):
        headers = message.headers or {}
        service = self.container.service_name
        reason = self.keys.signer.verify(headers.get(CALLER_HEADER),
                                         headers.get(SIGNATURE_HEADER), service,
                                         self.method_name)
        if reason is None:
            return super().handle_message(body, message)
        log.warning("refused a call of %s.%s: %s", service, self.method_name, reason)
        properties = message.properties
        if (properties.get("reply_to") and properties.get("content_type")
                in kombu.serialization.registry.type_to_name):
            # the consumer replies with this error and acknowledges the message
            raise CallerRefused({"detail": f"The {service} service refused the call: {reason}"})
        self.rpc_consumer.queue_consumer.ack_message(message)  # nobody to answer: drop it

    def unpack_message_headers(self, message):
        data = super().unpack_message_headers(message)
        if (message.delivery_info.get("redelivered")
                or parking.ATTEMPTS in (message.headers or {})):
            # delivered before: by RabbitMQ, or put back by svckit.parking (a classic queue's
            # redelivery comes back that way); svckit.idempotency looks for its answer
            data[idempotency.REDELIVERED] = True
        return data

    def handle_result(self, message, worker_ctx, result, exc_info):
        """A keyed worker commits its write with its answer before the reply goes. A reply
        (or its acknowledgement) that cannot be sent because the broker went away is
        logged and dropped: raised here it would kill the whole container. The request,
        unacknowledged, is delivered again once the broker is back, and a keyed one is
        answered from its key (svckit.idempotency)."""
        result, exc_info = idempotency.finish_worker(worker_ctx, result, exc_info)
        try:
            return super().handle_result(message, worker_ctx, result, exc_info)
        except Exception as failure:
            log.warning("could not answer %s.%s (%s: %s): it will be delivered again",
                        worker_ctx.service_name, worker_ctx.entrypoint.method_name,
                        type(failure).__name__, failure)
            return result, exc_info


_CALLER = "_svckit_caller"  # the worker context's parsed caller (verified_caller)


def verified_caller(worker_ctx) -> Caller:
    """The caller of an RPC worker, as signed by whoever called; anonymous for workers of
    other entrypoints (events, background jobs), whose headers are nobody's word. Parsed
    once per worker: every provider of the worker gets the same object."""
    caller = getattr(worker_ctx, _CALLER, None)
    if caller is None:
        raw = trusted_caller_json(worker_ctx)
        caller = Caller.model_validate_json(raw) if raw else Caller()
        setattr(worker_ctx, _CALLER, caller)
    return caller


def trusted_caller_json(worker_ctx) -> str | None:
    """The caller context of a worker if its entrypoint verified it (a SignedRpc), else None:
    headers of events or other messages are nobody's word."""
    if isinstance(worker_ctx.entrypoint, SignedRpc):
        return worker_ctx.data.get("caller") or None
    return None


class SignedMethodProxy(MethodProxy):
    """nameko's method proxy, with the caller context signed for this service and method."""

    def __init__(self, worker_ctx, service_name, method_name, reply_listener, signer,
                 caller_json: str, **options):
        self.signer = signer
        self.caller_json = caller_json
        super().__init__(worker_ctx, service_name, method_name, reply_listener, **options)

    def get_message_headers(self, worker_ctx):
        headers = super().get_message_headers(worker_ctx)
        headers.pop(f"nameko.{idempotency.REDELIVERED}", None)  # this call's own business
        tracing.inject(headers)  # this worker's span, not its caller's (in its context data)
        headers[CALLER_HEADER] = self.caller_json
        headers[SIGNATURE_HEADER] = self.signer.sign(self.caller_json, self.service_name,
                                                     self.method_name)
        return headers


class SignedServiceProxy(ServiceProxy):
    """Calls `service_name` as `caller`, by default the worker's own verified caller (an
    anonymous one for workers of other entrypoints: events, background jobs)."""

    def __init__(self, worker_ctx, service_name, reply_listener, signer,
                 caller: Caller | None = None, **options):
        super().__init__(worker_ctx, service_name, reply_listener, **options)
        self.signer = signer
        self._caller = caller
        self._caller_json: str | None = None

    @property
    def caller_json(self) -> str:
        """The caller's JSON, made at the first call (most workers call no other service)."""
        if self._caller_json is None:
            caller = self._caller or verified_caller(self.worker_ctx)
            self._caller_json = caller.without_key().model_dump_json()
        return self._caller_json

    def __getattr__(self, name):
        return SignedMethodProxy(self.worker_ctx, self.service_name, name, self.reply_listener,
                                 self.signer, self.caller_json, **self.options)


class RpcProxy(NamekoRpcProxy):
    """nameko's RpcProxy whose calls carry the worker's caller, signed."""

    rpc_reply_listener = ReplyListener()
    keys = CallerKeys()

    def get_dependency(self, worker_ctx):
        return SignedServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener,
                                  self.keys.signer, **self.options)
