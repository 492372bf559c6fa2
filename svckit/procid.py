"""This process's id without a system call each time: `os.getpid()` is one, and the gateway
asked for it several times a request (each multiprocess metric write checks it). Read once,
and again in the child after every fork."""
import os

_pid = [os.getpid()]


def _forked() -> None:
    _pid[0] = os.getpid()


os.register_at_fork(after_in_child=_forked)


def current() -> int:
    """What `os.getpid()` answers."""
    return _pid[0]
