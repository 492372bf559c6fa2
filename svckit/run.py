"""Run one service: `python -m svckit.run <name>` (e.g. status, users, audit).

Builds the service's settings (`services/<name>/settings.py`) once, from the environment,
and runs `services.<name>.service.Service` in a nameko container made with them until
SIGTERM or Ctrl-C, with its logs (svckit.logs) and traces (svckit.tracing) set up from them,
once its database and the broker answer (svckit.startup: until then it
waits and retries with backoff, at most STARTUP_RETRY_MAX_SECONDS apart, reporting itself
not ready). Scale a service by running more of these: they compete on the same RPC queue.
"""
import svckit  # noqa: F401  (quiets eventlet's deprecation warning)

# isort: split
import eventlet  # noqa: E402

eventlet.monkey_patch()

import importlib  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from nameko.containers import ServiceContainer  # noqa: E402

from svckit import logs, startup, tracing  # noqa: E402
from svckit.container_settings import container_config  # noqa: E402
from svckit.layout import settings_class  # noqa: E402
from svckit.service import Store  # noqa: E402


def service_class(name: str):
    return importlib.import_module(f"services.{name}.service").Service


def uses_database(cls) -> bool:
    """Whether the service keeps a database of its own (a `Store` dependency)."""
    return any(isinstance(getattr(cls, name, None), Store) for name in dir(cls))


KILL_SECONDS = 5.0  # how long killing what did not drain may take before the process exits


def drain_then_stop(container, stopping, drain_seconds: float):
    """Once asked to stop: stop taking work and finish what runs (nameko's graceful
    `stop`), for at most `drain_seconds`; then kill what still runs (a worker stuck, or a
    consumer that cannot cancel because no broker answers), and if even that does not end
    within KILL_SECONDS, exit. Unacknowledged requests go back to their queue either way."""
    log = logging.getLogger(__name__)
    stopping.wait()
    stopper = eventlet.spawn(container.stop)
    if _within(stopper, drain_seconds):
        return
    log.warning("not drained %g s after SIGTERM: killing what still runs", drain_seconds)
    killer = eventlet.spawn(container.kill)
    if not _within(killer, KILL_SECONDS):
        log.warning("could not kill what still runs within %g s: exiting", KILL_SECONDS)
        logging.shutdown()
        os._exit(1)


def _within(thread, seconds: float) -> bool:
    """Whether the green `thread` ends (however) within `seconds`."""
    with eventlet.Timeout(seconds, False):
        try:
            thread.wait()
        except Exception:  # it ended; how is the container's to report
            pass
        return True
    return False


def main(argv=None):
    argv = argv if argv is not None else sys.argv[1:]
    if len(argv) != 1:
        sys.exit("usage: python -m svckit.run <service>")
    settings = settings_class(argv[0])()
    logs.configure(argv[0], settings.LOG_FORMAT, settings.LOG_LEVEL, tracing.current_ids,
                   flush_seconds=settings.LOG_FLUSH_SECONDS)
    tracing.setup(settings, argv[0])
    container = ServiceContainer(service_class(argv[0]), container_config(settings))
    stopping = eventlet.event.Event()

    def on_signal(*_):
        if not stopping.ready():
            stopping.send(True)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    dependencies = startup.dependencies_of(argv[0], settings,
                                           uses_database(container.service_cls))
    if not startup.wait_for_dependencies(argv[0], dependencies, stopping.ready,
                                         settings.STARTUP_RETRY_MAX_SECONDS,
                                         sleep=lambda seconds: stopping.wait(seconds)):
        return  # asked to stop before the database and the broker answered
    container.start()
    logging.getLogger(__name__).info("service %s started", argv[0])
    runner = eventlet.spawn(container.wait)
    eventlet.spawn(drain_then_stop, container, stopping, settings.SHUTDOWN_DRAIN_SECONDS)
    try:
        runner.wait()
    except Exception:
        logging.getLogger(__name__).exception("service %s crashed", argv[0])
        sys.exit(1)


if __name__ == "__main__":
    main()
