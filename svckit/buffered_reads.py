"""A kombu transport for py-amqp that reads the socket in large chunks.

py-amqp's TCP transport reads each frame with three `recv` calls of exactly the bytes it
needs (the 7-byte header, the payload, the end octet), so a message of three frames
(method, header, body) costs nine system calls and, under eventlet, nine trips through the
green socket. A consumer that receives thousands of messages a second (the audit service's
event intake, svckit.batch_consumer) spends a good part of its CPU there. This transport
reads up to READ_SIZE bytes at a time into a buffer and cuts frames out of it; a frame
that has not fully arrived stays in the buffer, so a read timeout in the middle of one
loses nothing (as py-amqp's own reads guarantee). A frame already in the buffer is taken
without touching the socket: py-amqp sets the socket's timeout before each frame and puts
it back after (four calls through eventlet's green socket), which is only needed when the
socket is read.

Use it as `kombu.Connection(uri, transport=BufferedTransport)` (svckit.broker.connect
passes options through).
"""
import errno
import socket
from struct import unpack_from

from amqp import Connection as AmqpConnection
from amqp.exceptions import UnexpectedFrame
from amqp.transport import TCPTransport
from kombu.transport import pyamqp

READ_SIZE = 16 * 1024
FRAME_END = 206  # 0xce, the octet after every frame's payload
_HEADER = 7  # type (1), channel (2), size (4)
_RETRY = (errno.EAGAIN, errno.EINTR)
# keep consumed bytes at the front of the buffer until they are this many, then drop them
_COMPACT_AT = 64 * 1024


class BufferedTCPTransport(TCPTransport):
    """py-amqp's TCP transport with frames cut out of a buffer filled READ_SIZE bytes at a
    time."""

    def _setup_transport(self):
        super()._setup_transport()
        self._frames = bytearray()  # received bytes; those before `_start` are consumed
        self._start = 0

    def read_frame(self, unpack=None):
        """(frame type, channel, payload) of the next frame; raises socket.timeout when the
        socket's timeout passes first (what arrived of the frame is kept)."""
        while True:
            frame = self.buffered_frame()
            if frame is not None:
                return frame
            self._fill(initial=len(self._frames) == self._start)

    def buffered_frame(self) -> tuple[int, int, bytes] | None:
        """The next frame if the buffer holds all of it, else None."""
        buffer, start = self._frames, self._start
        if len(buffer) - start < _HEADER:
            return None
        frame_type, channel, size = unpack_from(">BHI", buffer, start)
        end = start + _HEADER + size
        if len(buffer) <= end:
            return None
        payload = bytes(buffer[start + _HEADER:end])
        frame_end = buffer[end]
        self._consumed(end + 1)
        if frame_end != FRAME_END:
            raise UnexpectedFrame(f"Received frame_end {frame_end:#04x} while expecting 0xce")
        return frame_type, channel, payload

    def _consumed(self, upto: int):
        buffer = self._frames
        if upto == len(buffer):
            buffer.clear()
            self._start = 0
        elif upto >= _COMPACT_AT:
            del buffer[:upto]
            self._start = 0
        else:
            self._start = upto

    def _fill(self, initial: bool):
        """Append what the socket has (at most READ_SIZE bytes), waiting for something as
        the socket's timeout allows."""
        try:
            chunk = self._quick_recv(READ_SIZE)
        except socket.timeout:
            raise
        except OSError as exc:
            if exc.errno in _RETRY:
                if initial and self.raise_on_initial_eintr:
                    raise socket.timeout() from exc
                return
            self.connected = False
            raise
        if not chunk:
            self.connected = False
            raise OSError("Server unexpectedly closed connection")
        self._frames += chunk


class BufferedAmqpConnection(pyamqp.Connection):
    """kombu's py-amqp connection, with BufferedTCPTransport for plain TCP."""

    def blocking_read(self, timeout=None):
        """Handle the next frame; the socket's timeout is set only to read it."""
        transport = self.transport
        frame = transport.buffered_frame() if isinstance(transport, BufferedTCPTransport) \
            else None
        if frame is None:
            with transport.having_timeout(timeout):
                frame = transport.read_frame()
        return self.on_inbound_frame(frame)

    def Transport(self, host, connect_timeout, ssl=False, read_timeout=None,
                  write_timeout=None, socket_settings=None, **kwargs):
        if ssl:
            return AmqpConnection.Transport(self, host, connect_timeout, ssl, read_timeout,
                                            write_timeout, socket_settings, **kwargs)
        return BufferedTCPTransport(host, connect_timeout=connect_timeout,
                                    read_timeout=read_timeout, write_timeout=write_timeout,
                                    socket_settings=socket_settings, **kwargs)


class BufferedTransport(pyamqp.Transport):
    """kombu's py-amqp transport, reading through BufferedTCPTransport."""

    Connection = BufferedAmqpConnection
