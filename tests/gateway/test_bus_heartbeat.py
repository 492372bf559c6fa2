"""The gateway's event bus listener keeps its connection while no event comes: it sends
AMQP heartbeats in time (it used to check them only every 30 s on a 30 s heartbeat, and the
broker dropped every idle listener for missed heartbeats about once a minute, each time
dropping the gateway's caches)."""
import time

from gateway.bus import EventBus


def test_an_idle_listener_keeps_its_connection(rabbit_config):
    bus = EventBus(rabbit_config["AMQP_URI"], heartbeat=2)
    resets = []
    bus.subscribe("users", "token.#", lambda event: resets.append(event) if event is None
                  else None)
    bus.start()
    assert bus.wait_connected(30)
    connected_resets = len(resets)  # one: caches are dropped as the listener connects
    deadline = time.monotonic() + 14  # several times what the broker waits for a heartbeat
    while time.monotonic() < deadline:
        assert bus.healthy, "the listener lost its connection"
        time.sleep(0.25)
    assert len(resets) == connected_resets == 1
