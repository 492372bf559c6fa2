"""What keeps this process from being ready, by component ("database", "broker", ...).

A component that cannot work (its database or broker unreachable at start, a reconnect in
progress) says so with `not_ready(component, reason)` and clears it with `ready(component)`;
a readiness probe (`/readyz`) answers ready while `problems()` is empty. One registry per
process, safe to use from threads and greenthreads.
"""
import threading

_lock = threading.Lock()
_problems: dict[str, str] = {}


def not_ready(component: str, reason: str) -> None:
    with _lock:
        _problems[component] = reason


def ready(component: str) -> None:
    with _lock:
        _problems.pop(component, None)


def problems() -> dict[str, str]:
    """The components that are not ready, each with its reason (empty when ready)."""
    with _lock:
        return dict(_problems)
