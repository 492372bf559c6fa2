"""Failed password checks (`login.failed` events) and the login throttle they feed."""
from datetime import timedelta

from sqlalchemy import select

from svckit.context import Caller
from svckit.events import utcnow

from . import events
from .models import login_failures, store
from .settings import UsersSettings

THROTTLED = "Too many failed login attempts. Try again in {} seconds."


def throttle_limits(settings: UsersSettings, username: str,
                    address: str) -> list[tuple[int, object]]:
    """(limit, condition) of the login throttle: failures of this name from this address,
    of this name from anywhere (much higher: it only slows a distributed guesser), and of
    this address for any name."""
    name = login_failures.c.username == username[:150]
    origin = login_failures.c.address == address[:64]
    return [(settings.LOGIN_THROTTLE_ATTEMPTS, name & origin),
            (settings.LOGIN_THROTTLE_NAME_ATTEMPTS, name),
            (settings.LOGIN_THROTTLE_ADDRESS_ATTEMPTS, origin)]


def throttled(session, settings: UsersSettings, username: str, address: str = "") -> int:
    """Seconds until `username` may be tried again from `address` (0: may now). A limit is
    reached when that many failures happened within LOGIN_THROTTLE_SECONDS; it frees up as
    they age. Counted per name given, so it reveals nothing about which accounts exist; and
    per address, so a stranger's failures do not lock the name for everyone else."""
    since = utcnow() - timedelta(seconds=settings.LOGIN_THROTTLE_SECONDS)
    wait = 0
    for limit, condition in throttle_limits(settings, username, address):
        if limit < 1:
            continue
        oldest = session.execute(select(login_failures.c.at).where(
            condition, login_failures.c.at >= since).order_by(login_failures.c.at.desc())
            .offset(limit - 1).limit(1)).scalar()
        if oldest is not None:
            wait = max(wait, 1, int((oldest - since).total_seconds()))
    return wait


def record(session, username: str, address: str = "", request_id: str = ""):
    pk = store.next_stream_id(session, "login_failure")
    store.record(session, "login_failure", pk, events.LOGIN_FAILED,
                 {"username": username[:150], "address": address[:64]},
                 Caller(username=username[:150], request_id=request_id))
