"""The gateway's event listener against a real RabbitMQ: a message it cannot decode is
dropped and counted (its queue is its own, so there is nothing to park it in), and the
events after it arrive."""
import time

from kombu import Connection, Producer

from gateway.bus import EventBus
from svckit.relay import event_exchange


def test_an_undecodable_event_is_dropped_and_the_next_one_arrives(rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    got = []
    bus = EventBus(uri)
    bus.subscribe("bussrc", "thing.#", lambda event: got.append(event))
    bus.start()
    assert bus.wait_connected(60)
    with Connection(uri) as conn:
        producer = Producer(conn.default_channel)
        producer.publish(b"{not json", exchange=event_exchange("bussrc"),
                         routing_key="thing.done", content_type="application/json",
                         content_encoding="utf-8", declare=[event_exchange("bussrc")])
        producer.publish({"id": "bussrc:1"}, serializer="json", exchange=event_exchange("bussrc"),
                         routing_key="thing.done")
    deadline = time.monotonic() + 60
    while {"id": "bussrc:1"} not in got:
        assert time.monotonic() < deadline, got
        time.sleep(0.05)
    assert bus.undecodable == 1
    assert bus.healthy
