"""nameko glue of signed caller contexts (svckit.signing): the RPC entrypoint that refuses a
call whose caller context is unsigned, forged or stale before any worker runs, and the
proxies through which a service calls another, signing the caller for that call. Their
queues follow svckit.broker: the request queue of the configured type, reply queues
transient.
"""
import logging

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

from svckit import idempotency
from svckit.broker import durable_queue_arguments, redacted
from svckit.context import Caller
from svckit.errors import CallerRefused
from svckit.signing import CALLER_HEADER, SIGNATURE_HEADER, signer_from_settings

log = logging.getLogger(__name__)


class CallerKeys(SharedExtension):
    """The container's caller signer (keys read once, at setup)."""

    def setup(self):
        self.signer = signer_from_settings()


class QueueConsumer(NamekoQueueConsumer):
    """nameko's consumer of a service's queues (one connection for all of them), whose
    warnings name the broker's nodes without their passwords (nameko masks only the first
    URL of a list)."""

    def on_connection_error(self, exc, interval):
        log.warning("Error connecting to broker at %s (%s). Retrying in %s seconds.",
                    redacted(self.amqp_uri), exc, interval)


class RpcConsumer(NamekoRpcConsumer):
    """nameko's consumer of the service's request queue (`rpc-<service>`), declared with
    the configured queue type (AMQP_QUEUE_TYPE)."""

    queue_consumer = QueueConsumer()

    def setup(self):
        super().setup()
        self.queue.queue_arguments = {**(self.queue.queue_arguments or {}),
                                      **durable_queue_arguments()}


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
        if message.delivery_info.get("redelivered"):
            data[idempotency.REDELIVERED] = True  # svckit.idempotency looks for its answer
        return data

    def handle_result(self, message, worker_ctx, result, exc_info):
        """A keyed worker commits its write with its answer before the reply goes."""
        result, exc_info = idempotency.finish_worker(worker_ctx, result, exc_info)
        return super().handle_result(message, worker_ctx, result, exc_info)


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
        if caller is None:
            raw = trusted_caller_json(worker_ctx)
            caller = Caller.model_validate_json(raw) if raw else Caller()
        self.caller_json = caller.without_key().model_dump_json()

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
