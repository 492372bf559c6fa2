"""Background work inside a nameko service: an entrypoint that runs its method in a worker
every `interval` seconds, at once when nudged, and again at once while the method reports
more work. Workers get dependencies as any entrypoint's do (database, RPC proxies), and
`stopping()` tells a long job to return so the service can stop.

    class Service:
        wake = Nudge()

        @background(interval=5)
        def work(self) -> bool:      # True: more to do, run again now
            ...

        @rpc
        def start_something(self):
            ...
            self.wake()

An `interval` may name a setting of the process instead (`@background(interval=
"IMPORT_POLL_SECONDS")`, `@timer(interval="BLOB_SWEEP_SECONDS")`): its value is read from the
settings the container was started with (svckit.container_settings), when it starts.
"""
import logging

import eventlet
from eventlet.event import Event
from nameko.extensions import DependencyProvider, Entrypoint
from nameko.timer import Timer as NamekoTimer

from svckit.container_settings import settings_of
from svckit.errors import ApiError
from svckit.loop import ManagedLoop

log = logging.getLogger(__name__)


def seconds(extension, interval: float | str) -> float:
    """`interval`, or the value of the setting it names, of `extension`'s container."""
    if isinstance(interval, str):
        return float(getattr(settings_of(extension.container), interval))
    return interval


class Background(ManagedLoop, Entrypoint):
    def __init__(self, interval: float | str, **kwargs):
        self.interval = interval
        self._wake = Event()
        self._done = Event()
        super().__init__(**kwargs)

    def setup(self):
        self.interval = seconds(self, self.interval)

    def stopping(self) -> bool:
        return not self.running

    def nudge(self):
        if not self._wake.ready():
            self._wake.send(True)

    wake = nudge

    def _run(self):
        more = True  # look for work left over from before a restart at once
        while self.running:
            if not more:
                with eventlet.Timeout(self.interval, False):
                    self._wake.wait()
            self._wake = Event()
            if not self.running:
                break
            self._done = Event()
            self.container.spawn_worker(self, (), {}, handle_result=self._result)
            more = self._done.wait()

    def _result(self, worker_ctx, result, exc_info):
        if exc_info is not None and isinstance(exc_info[1], ApiError):
            # an expected refusal, e.g. a service it needs is down: retried next interval
            log.warning("background job %s: %s", self.method_name, exc_info[1].detail)
        elif exc_info is not None:
            log.error("background job %s failed", self.method_name, exc_info=exc_info)
        self._done.send(bool(result) and exc_info is None)
        return result, exc_info


background = Background.decorator


class Timer(NamekoTimer):
    """nameko's timer, whose `interval` may name a setting."""

    interval: float | str  # set by nameko's Timer

    def setup(self):
        self.interval = seconds(self, self.interval)


timer = Timer.decorator


class _Wake:
    def __init__(self, entrypoints: list[Background]):
        self.entrypoints = entrypoints

    def __call__(self):
        for entrypoint in self.entrypoints:
            entrypoint.nudge()

    def stopping(self) -> bool:
        return any(e.stopping() for e in self.entrypoints)


class Nudge(DependencyProvider):
    """A callable that wakes the service's background entrypoints now; its `stopping()`
    tells whether the service is stopping."""

    def setup(self):
        self.wake = _Wake([e for e in self.container.entrypoints if isinstance(e, Background)])

    def get_dependency(self, worker_ctx):
        return self.wake
