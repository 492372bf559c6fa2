"""The lifecycle of a nameko extension that runs one loop in a managed thread."""


class ManagedLoop:
    """Runs `self._run()` in a managed thread of the container while `running`: `stop()`
    clears it, calls `wake()` (so a loop that waits notices at once) and waits for the loop
    to return; `kill()` ends it at once. Put it before the nameko base class."""

    running = False
    _thread = None

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

    def wake(self):
        """Interrupt the loop's wait (a loop that polls has nothing to do here)."""
