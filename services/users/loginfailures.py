"""Failed password checks (`login.failed` events) and the login throttle they feed; the
addresses a name signed in from (`login.succeeded`), which the name-wide limit spares."""
from datetime import timedelta

from sqlalchemy import func, select

from svckit.context import Caller
from svckit.events import utcnow

from . import events
from .models import known_addresses, login_failures, store
from .settings import UsersSettings

THROTTLED = "Too many failed login attempts. Try again in {} seconds."


def throttle_limits(settings: UsersSettings, username: str, address: str,
                    known: bool = False) -> list[tuple[int, object]]:
    """(limit, condition) of the login throttle: failures of this name from this address,
    of this name from anywhere (much higher: it only slows a distributed guesser; not for
    an address the name is `known` at), and of this address for any name."""
    name = login_failures.c.username == username[:150]
    origin = login_failures.c.address == address[:64]
    limits = [(settings.LOGIN_THROTTLE_ATTEMPTS, name & origin),
              (settings.LOGIN_THROTTLE_NAME_ATTEMPTS, name),
              (settings.LOGIN_THROTTLE_ADDRESS_ATTEMPTS, origin)]
    return [limits[0], limits[2]] if known else limits


def _last_success(session, username: str, address: str):
    """When `username` last signed in from `address` (as recorded), or None."""
    return session.execute(select(func.max(known_addresses.c.at)).where(
        known_addresses.c.username == username[:150],
        known_addresses.c.address == address[:64])).scalar()


def known_address(session, settings: UsersSettings, username: str, address: str) -> bool:
    """True when `username` signed in from `address` within LOGIN_THROTTLE_KNOWN_DAYS."""
    days = settings.LOGIN_THROTTLE_KNOWN_DAYS
    last = _last_success(session, username, address) if address and days > 0 else None
    return last is not None and last >= utcnow() - timedelta(days=days)


def success_due(session, username: str, address: str) -> bool:
    """True when a sign-in of `username` from `address` should be recorded (not yet, or
    not for a day: the throttle needs no more precision, and the log no more events)."""
    if not address:
        return False
    last = _last_success(session, username, address)
    return last is None or last < utcnow() - timedelta(days=1)


def throttled(session, settings: UsersSettings, username: str, address: str = "") -> int:
    """Seconds until `username` may be tried again from `address` (0: may now). A limit is
    reached when that many failures happened within LOGIN_THROTTLE_SECONDS; it frees up as
    they age. Counted per name given, so it reveals nothing about which accounts exist; and
    per address, so a stranger's failures do not lock the name for everyone else; and the
    name-wide limit never holds an address the name signed in from lately, so not even
    strangers at many addresses lock a user out of where it works."""
    since = utcnow() - timedelta(seconds=settings.LOGIN_THROTTLE_SECONDS)
    wait = 0
    known = known_address(session, settings, username, address)
    for limit, condition in throttle_limits(settings, username, address, known):
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


def record_success(session, username: str, address: str, request_id: str = ""):
    pk = store.next_stream_id(session, "login_success")
    store.record(session, "login_success", pk, events.LOGIN_SUCCEEDED,
                 {"username": username[:150], "address": address[:64]},
                 Caller(username=username[:150], request_id=request_id))
