"""svckit.broker against the machine's RabbitMQ: an `AMQP_URI` listing several nodes whose
first one is down (as after a cluster lost that node) still connects svckit's clients, a
nameko service and its event relay, without logging any node's password; AMQP_QUEUE_TYPE
declares a service's request queue as a quorum queue; each process starts the node list at
a node of its own. (tests/cluster/ does both on a real 3-node cluster, with every kind of
queue.)"""
import json
import logging

import pytest
from kombu import Queue
from kombu.exceptions import OperationalError

from svckit import broker
from svckit.broker import connect, redacted, spread
from svckit.container_settings import container_config
from svckit.context import Caller
from svckit.db import Database
from svckit.relay import event_exchange
from svckit.rpc_client import RpcClient
from tests.helpers import service_settings
from tests.svckit.test_service_glue import GlueService, metadata

# nothing listens on ports 1 and 2
DOWN = "amqp://guest:down-node-secret@127.0.0.1:1//;amqp://guest:other-secret@127.0.0.1:2//"


def test_redacted_masks_every_password():
    assert redacted(f"{DOWN};amqp://u:p3@h:5673/v;amqp://h") == (
        "amqp://guest:********@127.0.0.1:1//;amqp://guest:********@127.0.0.1:2//;"
        "amqp://u:********@h:5673/v;amqp://h")


def test_spread_starts_the_list_at_each_node_and_keeps_its_order():
    listed = "amqp://a//;amqp://b//;amqp://c//"
    assert [spread(listed, offset) for offset in range(4)] == [
        listed, "amqp://b//;amqp://c//;amqp://a//", "amqp://c//;amqp://a//;amqp://b//",
        listed]
    assert spread("amqp://a//", 7) == "amqp://a//"


def test_a_process_settings_start_at_its_own_node(tmp_path, monkeypatch):
    """The node list a process reads is the list from its own node on (svckit.settings),
    and another process (another offset) starts elsewhere."""
    listed = "amqp://a//;amqp://b//;amqp://c//"
    for offset, first in ((0, "amqp://a//"), (1, "amqp://b//"), (5, "amqp://c//")):
        monkeypatch.setattr(broker, "process_offset", lambda offset=offset: offset)
        assert service_settings(listed, tmp_path).AMQP_URI.split(";")[0] == first


def test_connect_tries_each_node_in_turn(rabbit_config):
    with connect(f"{DOWN};{rabbit_config['AMQP_URI']}") as conn:
        assert conn.connected and conn.port != 1
    with pytest.raises(OperationalError):
        connect(DOWN)


@pytest.fixture
def service(tmp_path, rabbit_config, container_factory, monkeypatch):
    """GlueService (tests/svckit/test_service_glue.py) whose every connection is given the
    node list `DOWN;<the broker>`: two nodes down, then one that answers (taken in that
    order: no offset of its own). `start(**more)` starts it with more settings."""
    monkeypatch.setattr(broker, "process_offset", lambda: 0)
    listed = f"{DOWN};{rabbit_config['AMQP_URI']}"
    url = f"sqlite:///{tmp_path / 'glue.sqlite3'}"

    def start(**more):
        settings = service_settings(listed, tmp_path, GLUESVC_DATABASE_URL=url, **more)
        db = Database(url, metadata)
        db.create_all()
        container_factory(GlueService, container_config(settings)).start()
        db.dispose()
        return RpcClient(listed, timeout=10, signer=settings.caller_signer())
    return start


def test_a_service_its_relay_and_its_callers_skip_a_node_that_is_down(
        service, rabbit_config, caplog):
    caplog.set_level(logging.WARNING)
    with connect(rabbit_config["AMQP_URI"]) as conn:
        events = Queue("", exchange=event_exchange("gluesvc"), routing_key="note.#",
                       exclusive=True)(conn.default_channel)
        events.declare()
        client = service()
        try:
            pk = client.call("gluesvc", "add", Caller(username="kim"), text="over there")
        finally:
            client.close()
        message = events.get(no_ack=True)  # published by the relay before the reply
    assert message is not None and json.loads(message.body)["stream_id"] == str(pk)
    warnings = [r.getMessage() for r in caplog.records if "Error connecting" in r.getMessage()]
    assert warnings and not any("secret" in w for w in warnings)


def test_queue_type_quorum_declares_durable_queues_as_quorum(service, rabbit_config,
                                                             rabbit_manager):
    client = service(AMQP_QUEUE_TYPE="quorum")
    try:
        assert client.call("gluesvc", "ping") == "pong"
    finally:
        client.close()
    queue = rabbit_manager.get_queue(rabbit_config["vhost"], "rpc-gluesvc")
    assert queue["type"] == "quorum" and queue["durable"]
