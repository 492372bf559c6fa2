"""svckit.rpc_client against a real RabbitMQ and a "service" (a raw consumer) whose replies
cannot be read: the call is a 503 saying its outcome is unknown, never an unexpected
exception (which the gateway answers with a 500)."""
import eventlet
import eventlet.queue
import pytest
from kombu import Connection, Consumer, Producer, Queue

from svckit.errors import ServiceUnavailable
from svckit.rpc_client import RPC_EXCHANGE, NotApplied, RpcClient, RpcTimeout
from tests.helpers import service_settings


def raw_service(uri: str, name: str, on_request):
    """A consumer of `<name>.*` requests on its own queue that hands each request message
    to `on_request(channel, message)`; returns a function that stops it."""
    ready, running = eventlet.event.Event(), {"on": True}

    def serve():
        with Connection(uri) as conn:
            channel = conn.channel()
            queue = Queue(f"rpc-{name}-test", exchange=RPC_EXCHANGE, routing_key=f"{name}.*",
                          auto_delete=True)(channel)
            queue.declare()
            Consumer(channel, [queue],
                     on_message=lambda message: on_request(channel, message)).consume()
            ready.send(True)
            while running["on"]:
                try:
                    conn.drain_events(timeout=0.2)
                except TimeoutError:
                    pass

    thread = eventlet.spawn(serve)
    ready.wait()

    def stop():
        running["on"] = False
        thread.wait()
    return stop


def answering(uri: str, body: bytes, content_type: str):
    """A consumer of `oddsvc.*` requests that replies `body` as `content_type`; returns a
    function that stops it."""
    def on_request(channel, message):
        Producer(channel, exchange=RPC_EXCHANGE).publish(
            body, routing_key=message.properties["reply_to"],
            correlation_id=message.properties["correlation_id"],
            content_type=content_type, content_encoding="binary")
        message.ack()
    return raw_service(uri, "oddsvc", on_request)


@pytest.mark.parametrize("body,content_type", [
    (b"\x80\x04not pickle allowed", "application/x-python-serialize"),  # not accepted
    (b"{broken json", "application/json"),
    (b"[1, 2, 3]", "application/json"),  # JSON, but no reply object
])
def test_a_reply_that_cannot_be_read_is_a_503_with_outcome_unknown(
        tmp_path, rabbit_config, body, content_type):
    uri = rabbit_config["AMQP_URI"]
    stop = answering(uri, body, content_type)
    client = RpcClient(uri, timeout=20, signer=service_settings(uri, tmp_path).caller_signer())
    try:
        with pytest.raises(ServiceUnavailable) as answer:
            client.call("oddsvc", "anything")
        detail = answer.value.detail["detail"]
        assert answer.value.status == 503
        assert "answer could not be read" in detail and "outcome" in detail, detail
    finally:
        client.close()
        stop()


def test_a_call_whose_connection_broke_gets_its_deadline_once_more(tmp_path, rabbit_config):
    """The connection breaks while a call waits (its broker node went away): the call is
    sent again on a fresh connection, and its deadline moves to its timeout from then, so
    an answer that comes after the first deadline (the queue's consumers came back late on
    the node the call moved to) is still its answer, not a 503."""
    from tests.tcpproxy import proxied

    uri = rabbit_config["AMQP_URI"]
    proxy, through = proxied(uri)
    timeout, got = 6.0, eventlet.queue.Queue()

    def on_request(channel, message):  # takes every request, answers none by itself
        message.ack()
        got.put((message.properties["reply_to"], message.properties["correlation_id"]))
    stop_server = raw_service(uri, "latesvc", on_request)
    client = RpcClient(through, timeout=timeout, retries=0,
                       signer=service_settings(uri, tmp_path).caller_signer())
    try:
        started = eventlet.hubs.get_hub().clock()
        call = eventlet.spawn(client.call, "latesvc", "anything")
        got.get(timeout=30)  # the first send arrived; it is never answered
        eventlet.sleep(max(started + 2 - eventlet.hubs.get_hub().clock(), 0))
        proxy.cut()  # the client's connection breaks ...
        proxy.start()  # ... and it reconnects: the call is sent again
        reply_to, correlation_id = got.get(timeout=30)
        eventlet.sleep(max(started + timeout + 0.3 - eventlet.hubs.get_hub().clock(), 0))
        with Connection(uri) as conn:  # past the first deadline: the answer
            Producer(conn.channel(), exchange=RPC_EXCHANGE).publish(
                {"result": "late", "error": None}, routing_key=reply_to,
                correlation_id=correlation_id, serializer="json")
        assert call.wait() == "late"
    finally:
        client.close()
        stop_server()
        proxy.cut()


def answered_late(tmp_path, uri: str, name: str, timeout: float, **options):
    """A call to `name` whose queue is bound but consumed by nobody (its replicas
    reconnecting after a broker node went away), answered only after its first deadline:
    what the call returns, or raises."""
    with Connection(uri) as conn:
        channel = conn.channel()
        queue = Queue(f"rpc-{name}", exchange=RPC_EXCHANGE, routing_key=f"{name}.*",
                      auto_delete=False)(channel)
        queue.declare()  # bound, but nobody consumes it
        client = RpcClient(uri, timeout=timeout, retries=0,
                           signer=service_settings(uri, tmp_path).caller_signer())
        try:
            started = eventlet.hubs.get_hub().clock()
            call = eventlet.spawn(client.call, name, "anything", **options)
            eventlet.sleep(max(started + timeout + 0.3 - eventlet.hubs.get_hub().clock(), 0))
            message = queue.get(no_ack=True)  # taken only now, past the first deadline
            assert message is not None
            Producer(channel, exchange=RPC_EXCHANGE).publish(
                {"result": "late", "error": None},
                routing_key=message.properties["reply_to"],
                correlation_id=message.properties["correlation_id"], serializer="json")
            return call.wait()
        finally:
            client.close()
            queue.delete()


def test_a_call_still_queued_at_its_deadline_gets_it_once_more(tmp_path, rabbit_config):
    """The deadline passes while the call still waits in its service's queue, unconsumed:
    the call waits its timeout once more, and the answer that comes then is its answer,
    not a 503."""
    assert answered_late(tmp_path, rabbit_config["AMQP_URI"], "queuedsvc", 3.0) == "late"


def test_a_strict_deadline_is_never_moved(tmp_path, rabbit_config):
    """A readiness call (`strict_deadline`) still queued at its deadline ends there, a 503,
    unlike any other call (above): a probe must answer within its own deadline."""
    with pytest.raises(RpcTimeout) as answer:
        answered_late(tmp_path, rabbit_config["AMQP_URI"], "strictsvc", 2.0,
                      strict_deadline=True)
    assert "did not answer within 2 s" in answer.value.detail["detail"]


def test_a_call_the_broker_refuses_to_queue_is_not_applied(tmp_path, rabbit_config):
    """The broker refuses every request of the call (its queue full with `reject-publish`,
    as a quorum queue refuses while it has no leader): each is sent again on a fresh
    channel until the deadline, and the call is a 503 saying it was not applied, not that
    its outcome is unknown (without confirms the refusals went unseen)."""
    uri = rabbit_config["AMQP_URI"]
    with Connection(uri) as conn:
        queue = Queue("rpc-fullsvc", exchange=RPC_EXCHANGE, routing_key="fullsvc.*",
                      auto_delete=False, queue_arguments={
                          "x-max-length": 0, "x-overflow": "reject-publish"})(conn.channel())
        queue.declare()
        client = RpcClient(uri, timeout=2, signer=service_settings(uri, tmp_path).caller_signer())
        try:
            with pytest.raises(NotApplied) as answer:
                client.call("fullsvc", "anything")
            assert "refused to queue every request" in answer.value.detail["detail"]
            assert "not applied" in answer.value.detail["detail"]
        finally:
            client.close()
            queue.delete()
