"""A service's queue consumer (svckit.consumer_state.TracksConnection) tries its broker's
nodes again at most a second apart, however long the broker has been away: kombu's own
pauses grow by 2 s a round up to 30 s, and a replica came back up to 10 s after its broker
in the whole-broker-down fault (README "Faults it survives")."""
import socket

import pytest
from kombu import Connection
from kombu.exceptions import OperationalError
from kombu.mixins import ConsumerMixin

from svckit.consumer_state import RECONNECT_PAUSES, TracksConnection


class Probe(TracksConnection, ConsumerMixin):
    connect_max_retries = 6

    def __init__(self, uri: str):
        self.connection = Connection(uri)
        self.pauses: list[float] = []

    def on_connection_error(self, exc, interval):
        self.pauses.append(interval)

    def get_consumers(self, consumer_cls, channel):
        return []


def test_rounds_of_the_nodes_are_at_most_a_second_apart():
    with socket.socket() as s:  # a port nothing listens on: the broker is away
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    probe = Probe(f"amqp://guest:guest@127.0.0.1:{port}//")
    with pytest.raises(OperationalError):
        with probe.establish_connection():
            pass
    assert len(probe.pauses) == Probe.connect_max_retries
    assert max(probe.pauses) == RECONNECT_PAUSES[2] <= 1.0
