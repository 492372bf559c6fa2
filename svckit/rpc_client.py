"""RPC client for processes outside nameko (the gateway, probes, CLI tools).

It speaks nameko's RPC wire format (a request to the `nameko-rpc` exchange with routing key
`<service>.<method>`, context data in `nameko.*` headers with the caller context signed for
that service and method (svckit.signing), a reply `{"result", "error"}` to
`reply_to` with the request's correlation id) over one AMQP connection of its own:

- the request is published `mandatory`, so a request no service queue is bound for comes
  back as basic.return on the same connection, and the call fails at once as "not running"
  without waiting for a publisher confirmation (a broker round trip on every call);
- requests are transient: a request is worth nothing after its timeout, so the broker need
  not write it to disk;
- the channel is in confirm mode, its confirms read alongside the answer
  (svckit.rpc_confirms): a request the broker refused to queue (a quorum queue without a
  leader drops it silently otherwise) is sent again at once on a fresh channel, and a
  request still unconfirmed when it is due to be sent again is sent on a fresh channel;
- replies arrive on the client's own exclusive queue, consumed without acknowledgements;
  only a reply with the current call's correlation id is its answer, and a client that
  timed out drops its connection (and reply queue), so a late answer is never read as the
  answer to the next call.

A client is not thread-safe: `ThreadLocalRpc` hands each thread its own, created lazily so a
forked gunicorn worker makes its own connection. Every call has a timeout (the client's, or
one given for that call).
"""
import threading
import time
import uuid
from typing import Any

from amqp.exceptions import ConnectionError as AmqpConnectionError
from kombu import Connection, Consumer, Exchange, Producer, Queue
from nameko.exceptions import RemoteError, deserialize

import svckit.service  # noqa: F401  (registers the error classes for re-raising)
from svckit import randomids, tracing
from svckit.broker import connect
from svckit.context import Caller
from svckit.errors import ApiError, ServiceUnavailable
from svckit.rpc_confirms import SendConfirms
from svckit.signing import CALLER_HEADER, SIGNATURE_HEADER, CallerSigner

RPC_EXCHANGE = Exchange("nameko-rpc", type="topic", durable=True)  # as nameko declares it
RETURNED = object()  # the answer when the broker returned the request: no queue is bound for it
BROKEN = (OSError, AmqpConnectionError)  # the connection is gone (socket or AMQP close)


DEFAULT_RETRIES = 2


class NotSent(Exception):
    """The request could not be published: it was not applied."""


class Unreadable:
    """The answer when the reply could not be decoded."""

    def __init__(self, why: str):
        self.why = why


class RemoteFailure(Exception):
    """A service raised an unexpected exception (the gateway answers 500)."""

    def __init__(self, service, method, exc_type, value):
        self.service, self.method, self.exc_type, self.value = service, method, exc_type, value
        super().__init__(f"{service}.{method}: {exc_type}: {value}")


class OutcomeUnknown(ServiceUnavailable):
    """The request was sent and no readable answer came (503): it may still be applied, so
    what it refers to (an uploaded file) must stay until a repeat can learn its outcome."""


class RpcTimeout(OutcomeUnknown):
    """The service did not answer within the call's timeout (503)."""


class ServiceNotRunning(ServiceUnavailable):
    """No queue is bound for the call: no process of the service runs (503)."""


class BrokerUnavailable(ServiceUnavailable):
    """The message broker could not be reached, or the connection broke (503)."""


class BrokenAfterSend(BrokerUnavailable, OutcomeUnknown):
    """The connection broke after the request was sent (503)."""


class NotApplied(BrokerUnavailable):
    """The call could not be published at all (503): this call certainly reached no service.
    Whether that makes the caller's whole request "not applied" is the caller's to say (an
    earlier call of it, or an earlier send of the same request, may have been applied)."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__({"detail": f"Message broker unavailable: {reason}; the request "
                                    "was not applied"})


class Refused(Exception):
    """The broker refused to queue a request of the call (basic.nack)."""


class RpcClient:
    def __init__(self, amqp_uri: str, timeout: float, signer: CallerSigner,
                 retries: int = DEFAULT_RETRIES):
        """`signer`: signs every call's caller context (a process's own: its settings'
        `caller_signer()`); `retries`: how often a call without an answer is sent again
        within its timeout."""
        self.amqp_uri = amqp_uri
        self.timeout = timeout
        self.signer = signer
        self.retries = max(0, retries)
        self._conn: Connection | None = None
        self._producer: Producer | None = None
        self._reply_key = ""
        self._waiting: set[str] = set()  # correlation ids of the call in progress's sends
        self._first = ""  # the first send's
        self._answer: Any = None  # its reply body, or RETURNED
        self._confirms = SendConfirms()

    def _connect(self):
        conn = connect(self.amqp_uri, connect_timeout=5, heartbeat=0)
        try:
            channel = conn.channel()
            channel.confirm_select()
            channel.events["basic_ack"].add(self._confirms.on_ack)
            channel.events["basic_nack"].add(self._confirms.on_nack)
            self._confirms.channel_opened()
            exchange = RPC_EXCHANGE(channel)
            exchange.declare()
            self._reply_key = uuid.uuid4().hex
            queue = Queue(f"rpc.reply-client-{self._reply_key}", exchange=exchange,
                          routing_key=self._reply_key, exclusive=True, auto_delete=True,
                          durable=False)
            Consumer(channel, [queue], callbacks=[self._on_reply], no_ack=True,
                     accept=["json"], on_decode_error=self._on_undecodable).consume()
            self._producer = Producer(channel, exchange=exchange, serializer="json",
                                      on_return=self._on_return)
        except Exception:
            conn.release()
            raise
        self._conn = conn

    def _on_reply(self, body, message):
        # the first send's answer is the answer; a resend's only when it is no error (a
        # resend can fail on the first send's work still in progress: a file already
        # taken, say)
        correlation_id = message.properties.get("correlation_id")
        if not isinstance(body, dict):
            return self._on_undecodable(message, ValueError(
                f"a reply of {type(body).__name__}, not an object"))
        if correlation_id == self._first or (correlation_id in self._waiting
                                             and not body.get("error")):
            self._answer = body

    def _on_undecodable(self, message, exc):
        # a reply to this call that cannot be read (another content type, broken JSON):
        # the service may have applied the call; the caller is told so, not a 500
        if message.properties.get("correlation_id") in self._waiting and self._answer is None:
            self._answer = Unreadable(f"{type(exc).__name__}: {str(exc)[:200]}")

    def _on_return(self, exc, exchange, routing_key, message):
        # a request no queue took was not applied; if it was a resend, the first send's
        # outcome still counts, so only the first send's return is the answer
        if message.properties.get("correlation_id") == self._first:
            self._answer = RETURNED

    def close(self):
        if self._conn is not None:
            try:
                self._conn.release()
            except Exception:  # the connection may already be broken; drop it either way
                pass
        self._conn = self._producer = None

    def _send(self, routing_key: str, body: dict, headers: dict, correlation_id: str):
        """Publish the request; a connection that broke while idle (a broker restart) is
        replaced once, since a request that could not be written was not delivered.
        NotSent when it could not be published."""
        for attempt in (1, 2):
            if self._conn is None:
                try:
                    self._connect()
                except Exception as exc:
                    self.close()
                    raise NotSent(str(exc))
            assert self._producer is not None  # set by _connect() with the connection
            try:
                self._producer.publish(
                    body, routing_key=routing_key, mandatory=True, reply_to=self._reply_key,
                    correlation_id=correlation_id, headers=headers, delivery_mode=1)
                self._confirms.sent()
                return
            except BROKEN as exc:
                self.close()
                if attempt == 2:
                    raise NotSent(str(exc))

    def _publish(self, service: str, method: str, caller: Caller, path: str, kwargs: dict) -> str:
        """Publish one attempt of the call; returns its correlation id."""
        caller_json = caller.model_dump_json()
        headers = {CALLER_HEADER: caller_json,
                   SIGNATURE_HEADER: self.signer.sign(caller_json, service, method)}
        if path:
            headers["nameko.path"] = path
        tracing.inject(headers)  # the call's client span (svckit.tracing)
        correlation_id = randomids.uuid4_hex()
        self._waiting.add(correlation_id)
        self._first = self._first or correlation_id
        self._send(f"{service}.{method}", {"args": [], "kwargs": kwargs}, headers,
                   correlation_id)
        return correlation_id

    def call(self, service: str, method: str, caller: Caller | None = None, path: str = "",
             timeout: float | None = None, *, strict_deadline: bool = False, **kwargs):
        """`service.method(**kwargs)` as `caller`; `timeout` (seconds) overrides the client's
        for this call only (a long import, say); `strict_deadline`: the call ends by then,
        its deadline never moved (a readiness probe's, which must answer in time). With
        tracing on, the call is a client span whose context goes with the request
        (svckit.tracing)."""
        handle = tracing.start(f"{service}.{method}", tracing.CLIENT, attributes={
            "rpc.system": "nameko", "rpc.service": service, "rpc.method": method})
        if handle is None:
            return self._call(service, method, caller, path, timeout, strict_deadline,
                              **kwargs)
        try:
            result = self._call(service, method, caller, path, timeout, strict_deadline,
                                **kwargs)
        except ApiError as exc:
            tracing.finish(handle, exc, expected=exc.status < 500)
            raise
        except BaseException as exc:
            tracing.finish(handle, exc)
            raise
        tracing.finish(handle)
        return result

    def _call(self, service: str, method: str, caller: Caller | None, path: str,
              timeout: float | None, strict_deadline: bool, **kwargs):
        """The call, without its span.

        Within that deadline, a call without an answer is sent again (with the same caller,
        and so the same idempotency key, marked as a retry) after each
        `timeout / (retries + 1)`, on the same connection (the first send's answer is the
        answer, or a resend's that is no error) unless the broker has not confirmed the last
        send by then, or at once on a fresh connection when the connection broke or the
        broker refused to queue the request (after a short pause). Once per call, the
        deadline moves to the client's timeout from then, if later: the first time the
        connection breaks or the broker refuses (the call's queue may be moving to another
        node, its consumers reconnecting), or when the deadline passes while a send is
        unconfirmed or the service's queue has no consumer or a backlog (the call is merely
        queued); never with `strict_deadline`. A call
        that could not be sent at all, or whose every send the broker refused, is a 503
        saying it was not applied; a call sent whose answer never came, a 503 saying its
        outcome is unknown and how long its deadline allowed."""
        caller = caller or Caller()
        wait = self.timeout if timeout is None else timeout
        began = time.monotonic()
        deadline = began + wait
        interval = wait / (self.retries + 1)
        self._waiting, self._first, self._answer = set(), "", None
        self._confirms.new_call()
        sends, backoff, broken, extended = 0, 0.25, "", False

        def once_more() -> float:
            """The deadline moved, once per call, to the client's timeout from now."""
            nonlocal extended
            if extended or strict_deadline:
                return deadline
            extended = True
            return max(deadline, time.monotonic() + min(wait, self.timeout))

        def reconnecting(why: str) -> float:
            """The deadline once the connection broke (a broker node lost: the call is sent
            again on another node, where its queue's consumers come back after it)."""
            nonlocal broken
            broken = why
            return once_more()
        try:
            while True:
                try:
                    self._publish(service, method,
                                  caller if sends == 0 else caller.for_call(
                                      caller.idempotency_key, retry=True), path, kwargs)
                except NotSent as exc:
                    if sends == 0:
                        raise NotApplied(str(exc))
                    deadline = reconnecting(str(exc))
                    if time.monotonic() + backoff >= deadline:
                        raise self._ended(service, deadline - began, broken, sends)
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 2.0)
                    continue
                sends += 1
                resend = deadline if sends > self.retries else min(
                    deadline, time.monotonic() + interval)
                try:
                    while self._answer is None:
                        if self._confirms.fresh_refusal:
                            raise Refused
                        remaining = resend - time.monotonic()
                        if remaining <= 0:
                            raise TimeoutError
                        assert self._conn is not None  # _publish() connected, or raised
                        self._conn.drain_events(timeout=remaining)
                except TimeoutError:
                    if (time.monotonic() >= deadline and not extended and not strict_deadline
                            and (self._confirms.pending or self._queued(service))):
                        deadline = once_more()  # not taken yet: unconfirmed, or queued
                    if time.monotonic() >= deadline:
                        self.close()  # a timed-out read may have stopped inside a frame
                        raise self._ended(service, deadline - began, broken, sends)
                    if self._confirms.pending:
                        self.close()  # not even queued yet: send it again on a fresh channel
                    continue
                except Refused:
                    # not queued (its queue's leader unknown, say): again at once, on a fresh
                    # channel (this one may keep refusing), while its queue settles
                    self._confirms.fresh_refusal = False
                    self.close()
                    deadline = reconnecting("it refused to queue the request")
                    if time.monotonic() + backoff >= deadline:
                        raise self._ended(service, deadline - began, broken, sends)
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 2.0)
                    continue
                except BROKEN as exc:
                    self.close()
                    deadline = reconnecting(str(exc))
                    if time.monotonic() >= deadline:
                        raise self._ended(service, deadline - began, broken, sends)
                    continue
                break
        except ServiceUnavailable:
            raise
        except Exception:
            self.close()  # a channel error, say: the next call starts on a fresh connection
            raise
        finally:
            self._waiting = set()
        answer = self._answer
        if answer is RETURNED:
            raise ServiceNotRunning({"detail": f"The {service} service is not running"})
        if isinstance(answer, Unreadable):
            raise OutcomeUnknown({"detail": (
                f"The {service} service's answer could not be read ({answer.why}): the "
                "outcome of the request is unknown; repeating it with the same "
                "Idempotency-Key is safe")})
        if answer.get("error"):
            error = deserialize(answer["error"])
            if isinstance(error, RemoteError):
                raise RemoteFailure(service, method, error.exc_type, error.value)
            raise error
        return answer.get("result")

    def _queued(self, service: str) -> bool:
        """Whether a call to `service` may still wait in its queue, not taken by any
        process: the queue has no consumer (its replicas reconnecting after a broker node
        went away, or restarting), or holds messages no consumer took yet (a backlog). Asked
        of the broker (a passive declaration of `rpc-<service>`, nameko's RPC queue) when
        the deadline passes; False when it cannot be asked."""
        try:
            assert self._conn is not None
            channel = self._conn.channel()
            try:
                _, ready, consumers = channel.queue_declare(f"rpc-{service}", passive=True)
            finally:
                try:
                    channel.close()
                except Exception:  # a channel the broker closed (no such queue)
                    pass
        except Exception:
            return False
        return consumers == 0 or ready > 0

    def _ended(self, service: str, waited: float, broken: str,
               sends: int) -> ServiceUnavailable:
        """The 503 of a call whose deadline passed without an answer: not applied when the
        broker refused every request it sent, else its outcome is unknown."""
        if self._confirms.all_refused(sends):
            return NotApplied(f"it refused to queue every request for the {service} service")
        return self._unknown(service, waited, broken)

    def _unknown(self, service: str, waited: float, broken: str) -> ServiceUnavailable:
        """The 503 of a call sent whose answer never came: the broker broke after it was sent
        (BrokerUnavailable), or the service did not answer in the `waited` seconds its
        deadline allowed, moved or not (RpcTimeout)."""
        unknown = ("the outcome of the request is unknown; repeating it with the same "
                   "Idempotency-Key is safe")
        if broken:
            return BrokenAfterSend({"detail": f"Message broker unavailable ({broken}) after "
                                                f"the request was sent: {unknown}"})
        return RpcTimeout({"detail": f"The {service} service did not answer within "
                                     f"{waited:.3g} s: {unknown}"})


class ThreadLocalRpc:
    """Hands each thread its own RpcClient."""

    def __init__(self, amqp_uri: str, timeout: float, signer: CallerSigner,
                 retries: int = DEFAULT_RETRIES):
        self.amqp_uri = amqp_uri
        self.timeout = timeout
        self.signer = signer
        self.retries = retries
        self._local = threading.local()

    def client(self) -> RpcClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = RpcClient(self.amqp_uri, self.timeout, self.signer,
                                                    self.retries)
        return client

    def call(self, service, method, caller=None, path="", timeout=None, **kwargs):
        return self.client().call(service, method, caller, path, timeout, **kwargs)
