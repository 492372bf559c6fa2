"""`make run`: migrate every service's store, create the superuser, start every service and
the gateway, run until Ctrl-C or SIGTERM, then stop them all. A process that dies is
restarted."""
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from svckit.script_settings import StackSettings  # noqa: E402
from svckit.stack import Stack  # noqa: E402


def main():
    settings = StackSettings()
    stack = Stack({"LOG_FORMAT": settings.LOG_FORMAT}, bind=settings.GATEWAY_BIND)
    print(stack.run_tool("-m", "svckit.migrate"), flush=True)
    print(stack.run_tool("-m", "services.users.cli", "ensure-admin"), flush=True)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    try:
        stack.start()
        print(f"InvenTree General API ready on {stack.url}/api/ (Ctrl-C stops)", flush=True)
        while not stopping:
            for name in stack.restart_dead():
                print(f"{name} exited; restarted", flush=True)
            time.sleep(0.5)
    finally:
        print("stopping...", flush=True)
        stack.stop()
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
