"""Random ids (request ids, idempotency keys, RPC correlation ids) as `uuid.uuid4().hex`
gives them, from the same source (os.urandom), drawn 4 KiB at a time: `uuid4()` makes a
system call per id, and os.urandom lets go of the interpreter lock around it, so under
gunicorn's threads each id could also wait for the lock to come back (several ids a
request). A forked child draws its own: it never hands out what its parent drew."""
import os
import threading

BLOCK = 4096  # bytes drawn at a time: 256 ids



class _Pool:
    """Random bytes drawn and not handed out yet."""

    def __init__(self):
        self.lock = threading.Lock()
        self.forget()

    def forget(self) -> None:
        self.data, self.at = b"", 0

    def take16(self) -> bytearray:
        with self.lock:
            if self.at + 16 > len(self.data):
                self.data, self.at = os.urandom(BLOCK), 0
            raw = bytearray(self.data[self.at:self.at + 16])
            self.at += 16
        return raw


_pool = _Pool()
os.register_at_fork(after_in_child=_pool.forget)


def uuid4_hex() -> str:
    """32 hex digits of a random version-4 UUID (`uuid.uuid4().hex`)."""
    raw = _pool.take16()
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return raw.hex()
