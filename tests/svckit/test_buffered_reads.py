"""svckit.buffered_reads: frames cut out of large socket reads. Against a real RabbitMQ, every
message arrives whole and in order, from empty bodies to bodies of many frames, with far
fewer reads than frames; against a real socket fed by hand, a frame cut by a read timeout
is kept and completed, and a bad frame end or a closed socket is an error."""
import socket
import threading
from struct import pack

import pytest
from amqp.exceptions import UnexpectedFrame
from kombu import Connection, Consumer, Exchange, Producer, Queue

from svckit.buffered_reads import BufferedTCPTransport, BufferedTransport

SIZES = [0, 1, 100, 5000, 20_000, 300_000]  # the last two span several reads, then frames


def consume(uri: str, bodies: list[bytes]) -> tuple[list[bytes], int]:
    """Publish `bodies` to a queue, then consume them through BufferedTransport: (the bodies
    received, how many times the socket was read meanwhile)."""
    exchange = Exchange("buffered", type="topic", durable=False, auto_delete=True)
    queue = Queue("buffered-reads", exchange=exchange, routing_key="#", auto_delete=True)
    with Connection(uri, transport=BufferedTransport) as conn:
        channel = conn.channel()
        queue(channel).declare()
        with Connection(uri) as publisher:
            producer = Producer(publisher.channel())
            for body in bodies:
                producer.publish(body, exchange=exchange, routing_key="x",
                                 content_type="application/octet-stream",
                                 content_encoding="binary")
        transport = conn.connection.transport
        assert isinstance(transport, BufferedTCPTransport)
        reads = {"count": 0}
        recv = transport._quick_recv

        def counted(size):  # the socket's own recv, counted
            reads["count"] += 1
            return recv(size)
        transport._quick_recv = counted
        received: list[bytes] = []
        with Consumer(channel, [queue], callbacks=[lambda body, m: received.append(body)],
                      accept=["application/octet-stream"]):
            while len(received) < len(bodies):
                conn.drain_events(timeout=10)
    return [body or b"" for body in received], reads["count"]  # kombu: an empty body is ""


def test_messages_of_every_size_arrive_whole_and_in_order(rabbit_config):
    bodies = [bytes([n % 251]) * size for n, size in enumerate(SIZES * 20)]
    received, _ = consume(rabbit_config["AMQP_URI"], bodies)
    assert received == bodies


def test_small_messages_take_fewer_reads_than_frames(rabbit_config):
    """Three frames a message (method, header, body); py-amqp reads each with three recv
    calls."""
    bodies = [b"%05d" % n * 20 for n in range(300)]
    received, reads = consume(rabbit_config["AMQP_URI"], bodies)
    assert received == bodies
    assert reads < len(bodies)


@pytest.fixture
def fed():
    """(transport, send) : a BufferedTCPTransport connected to a real local socket whose
    bytes the test sends by hand."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    accepted = {}
    thread = threading.Thread(target=lambda: accepted.update(peer=server.accept()[0]))
    thread.start()
    transport = BufferedTCPTransport(f"127.0.0.1:{server.getsockname()[1]}",
                                     connect_timeout=5)
    transport.connect()
    thread.join(5)
    peer = accepted["peer"]
    assert peer.recv(8) == b"AMQP\x00\x00\x09\x01"  # the protocol header it sent
    yield transport, peer
    transport.close()
    peer.close()
    server.close()


def frame(frame_type: int, channel: int, payload: bytes, end: int = 0xCE) -> bytes:
    return pack(">BHI", frame_type, channel, len(payload)) + payload + bytes([end])


def test_a_frame_cut_by_a_timeout_is_kept_and_completed(fed):
    transport, peer = fed
    whole = frame(3, 1, b"x" * 1000) + frame(1, 2, b"abc")
    peer.sendall(whole[:5])  # not even the header
    with pytest.raises(socket.timeout), transport.having_timeout(0.2):
        transport.read_frame()
    peer.sendall(whole[5:600])  # the header and part of the payload
    with pytest.raises(socket.timeout), transport.having_timeout(0.2):
        transport.read_frame()
    peer.sendall(whole[600:])
    with transport.having_timeout(5):
        assert transport.read_frame() == (3, 1, b"x" * 1000)
        assert transport.read_frame() == (1, 2, b"abc")


def test_a_bad_frame_end_is_an_unexpected_frame(fed):
    transport, peer = fed
    peer.sendall(frame(1, 1, b"abc", end=0x00))
    with pytest.raises(UnexpectedFrame), transport.having_timeout(5):
        transport.read_frame()


def test_a_closed_socket_is_an_error_and_the_transport_disconnected(fed):
    transport, peer = fed
    peer.sendall(frame(1, 1, b"abc")[:4])
    peer.close()
    with pytest.raises(OSError, match="closed"), transport.having_timeout(5):
        transport.read_frame()
    assert not transport.connected
