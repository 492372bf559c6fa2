"""Whether a nameko queue consumer is connected to the broker and consuming, for readiness.

`TracksConnection` is mixed into svckit's QueueConsumer (svckit.signed_rpc): consuming is
true from the moment its consumers are declared on a connection (kombu's `on_consume_ready`)
until the consume loop ends for any reason (the connection broke, the container stops).
"""
from contextlib import contextmanager

RECONNECT_PAUSES = (0.5, 0.5, 1.0)  # first, step and longest pause between rounds of nodes


class TracksConnection:
    """Mixin for a kombu ConsumerMixin (nameko's QueueConsumer): `consuming` says whether
    its consumers are declared on a live connection; it reconnects after a round of the
    broker's nodes at most a second apart."""

    consuming = False
    _live_connection = None

    @contextmanager
    def establish_connection(self):
        """kombu's, with pauses of at most RECONNECT_PAUSES[2] between rounds of the nodes:
        kombu's own grow by 2 s a round up to 30 s, so after a broker outage of half a
        minute a replica came back up to 10 s after its broker (and after longer ones, 30)."""
        with self.create_connection() as conn:  # type: ignore[attr-defined]
            conn.ensure_connection(self.on_connection_error,  # type: ignore[attr-defined]
                                   self.connect_max_retries,  # type: ignore[attr-defined]
                                   interval_start=RECONNECT_PAUSES[0],
                                   interval_step=RECONNECT_PAUSES[1],
                                   interval_max=RECONNECT_PAUSES[2])
            yield conn

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        self._live_connection = connection
        self.consuming = True
        super().on_consume_ready(connection, channel, consumers, **kwargs)  # type: ignore[misc]

    def consume(self, *args, **kwargs):
        try:
            yield from super().consume(*args, **kwargs)  # type: ignore[misc]
        finally:
            self.consuming = False
            self._live_connection = None

    def connected(self) -> bool:
        """Consuming, on a connection whose socket is still open."""
        conn = self._live_connection
        return bool(self.consuming and conn is not None and conn.connected)
