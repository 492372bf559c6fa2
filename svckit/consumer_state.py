"""Whether a nameko queue consumer is connected to the broker and consuming, for readiness.

`TracksConnection` is mixed into svckit's QueueConsumer (svckit.signed_rpc): consuming is
true from the moment its consumers are declared on a connection (kombu's `on_consume_ready`)
until the consume loop ends for any reason (the connection broke, the container stops).
"""


class TracksConnection:
    """Mixin for a kombu ConsumerMixin (nameko's QueueConsumer): `consuming` says whether
    its consumers are declared on a live connection."""

    consuming = False
    _live_connection = None

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
