"""The lifecycle of a nameko extension that runs one loop in a managed thread."""
from typing import Any


class ManagedLoop:
    """Runs `self._run()` in a managed thread of the container while `running`: `stop()`
    clears it, calls `wake()` (so a loop that waits notices at once) and waits for the loop
    to return; `kill()` ends it at once. Put it before the nameko base class."""

    running = False
    _thread: Any = None
    container: Any  # the nameko container (set by the extension base class)

    def start(self):
        self.running = True
        self._thread = self.container.spawn_managed_thread(self._run)

    def stop(self):
        self.running = False
        self.wake()
        if self._thread is not None:
            self._thread.wait()

    def kill(self):
        self.running = False
        if self._thread is not None:
            self._thread.kill()

    def _run(self) -> None:
        """The loop itself: returns when `running` is cleared."""
        raise NotImplementedError

    def wake(self):
        """Interrupt the loop's wait (a loop that polls has nothing to do here)."""
