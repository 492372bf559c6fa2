"""Failed password checks (`login.failed` events) and the login throttle they feed."""
from datetime import timedelta

from sqlalchemy import select

from svckit import config
from svckit.context import Caller
from svckit.events import utcnow

from . import events
from .models import login_failures, store

THROTTLED = "Too many failed login attempts. Try again in {} seconds."


def throttle_limits(username: str, address: str) -> list[tuple[int, object]]:
    """(limit, condition) of the login throttle: failures of this name from this address,
    of this name from anywhere (much higher: it only slows a distributed guesser), and of
    this address for any name."""
    name = login_failures.c.username == username[:150]
    origin = login_failures.c.address == address[:64]
    return [(config.setting("LOGIN_THROTTLE_ATTEMPTS", 5, int), name & origin),
            (config.setting("LOGIN_THROTTLE_NAME_ATTEMPTS", 100, int), name),
            (config.setting("LOGIN_THROTTLE_ADDRESS_ATTEMPTS", 50, int), origin)]


def throttled(session, username: str, address: str = "") -> int:
    """Seconds until `username` may be tried again from `address` (0: may now). A limit is
    reached when that many failures happened within LOGIN_THROTTLE_SECONDS; it frees up as
    they age. Counted per name given, so it reveals nothing about which accounts exist; and
    per address, so a stranger's failures do not lock the name for everyone else."""
    window = config.setting("LOGIN_THROTTLE_SECONDS", 900, int)
    since = utcnow() - timedelta(seconds=window)
    wait = 0
    for limit, condition in throttle_limits(username, address):
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
