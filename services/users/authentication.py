"""Who an API token, a password or a session cookie stands for (the gateway's questions),
signing in and out, and changing one's own password.

Every password check is throttled by name and client address (loginfailures.py); the
service records a failed one after the check's read, so PBKDF2 never runs under the write
lock.
"""
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from svckit.context import Caller
from svckit.errors import ApiError, AuthenticationFailed, ValidationFailed
from svckit.fields import Field, validate

from . import loginfailures, roles, sessions, tokens, users
from .passwords import check_password, hash_password
from .settings import UsersSettings

REVOKE_TOKENS = Field("boolean", "Revoke tokens", "Also revoke the user's API tokens (all but "
                      "the one making this request)", default=False)


class TokenCheck(NamedTuple):
    answer: dict  # the caller, the token's id (for cache invalidation) and its expiry
    caller: Caller
    seen_today: bool  # its use today is recorded already (`token.seen`)


def by_token(session, key: str, request_id: str = "") -> TokenCheck:
    """The caller behind an API token, or AuthenticationFailed saying why not."""
    row = tokens.valid_token(session, key)
    user = users.get_user(session, row["user_id"])
    if not user["is_active"]:
        raise AuthenticationFailed("User inactive or deleted.")
    caller = roles.caller_for(session, user, request_id)
    return TokenCheck({"caller": caller.model_dump(mode="json"), "token_id": row["id"],
                       "expiry": row["expiry"].isoformat()},
                      caller, row["last_seen"] == date.today())


def by_password(session, settings: UsersSettings, username: str, password: str,
                address: str = "", request_id: str = "") -> Caller:
    """The active user with this name and password, as a caller; throttled by name and
    client address (429)."""
    wait = loginfailures.throttled(session, settings, username, address)
    if wait:
        raise ApiError({"detail": loginfailures.THROTTLED.format(wait)}, 429)
    user = users.find_user(session, username)
    if user is None:
        hash_password(password, settings.PASSWORD_ITERATIONS)  # same work either way: timing does not reveal accounts
        raise AuthenticationFailed("Invalid username/password.")
    if not check_password(password, user["password"]) or not user["is_active"]:
        raise AuthenticationFailed("Invalid username/password.")
    return roles.caller_for(session, user, request_id)


def by_session(session, key: str, request_id: str = "") -> dict | None:
    """The caller behind a live session's cookie, with the session's id and CSRF secret;
    None for anything else (an unknown cookie is no login)."""
    row = sessions.find_live(session, key)
    if row is None:
        return None
    user = users.get_user(session, row["user_id"])
    if not user["is_active"]:
        return None
    return {"caller": roles.caller_for(session, user, request_id).model_dump(mode="json"),
            "session_id": row["id"], "csrf": row["csrf_token"]}


def login_refused() -> ValidationFailed:
    """`POST /api/auth/login/`'s answer to a wrong name or password."""
    return ValidationFailed({"non_field_errors": ["Unable to log in with provided credentials."]})


def login(session, caller: Caller, user: Caller, settings: UsersSettings) -> dict:
    """A browser session for `user` (whose password was checked), and the user's token
    named "" (as InvenTree answers it)."""
    started = sessions.start(session, caller, user.user_id, settings.SESSION_DAYS)
    started["key"] = tokens.token_for(session, user, user.user_id, "", {},
                                      settings.token_secret())["token"]
    return started


def logout(session, caller: Caller, session_id: int | None, token_id: int | None) -> dict:
    """End the session, and revoke the token the caller signed in with."""
    if session_id is not None:
        sessions.end(session, caller, session_id)
    if token_id is not None and caller.authenticated:
        tokens.revoke(session, caller, token_id)
    return {"detail": "Successfully logged out."}


@dataclass
class PasswordChange:
    username: str
    old_password: str
    new_password: str
    confirmed: bool  # the new password typed twice alike
    revoke_tokens: bool


def password_change(session, caller: Caller, data) -> PasswordChange:
    """`POST /api/auth/password/change/`'s request, its fields checked before anything is
    written (the old password is checked as every password is, by the service)."""
    data = data if isinstance(data, dict) else {}
    errors = {k: ["This field is required."] for k in
              ("old_password", "new_password1", "new_password2") if not data.get(k)}
    revoke = False
    try:
        revoke = validate({"revoke_tokens": REVOKE_TOKENS}, {
            k: v for k, v in data.items() if k == "revoke_tokens"}, partial=True
        ).get("revoke_tokens", False)
    except ValidationFailed as exc:
        errors.update(exc.detail)
    if errors:
        raise ValidationFailed(errors)
    return PasswordChange(users.get_user(session, caller.user_id)["username"],
                          str(data["old_password"]), str(data["new_password1"]),
                          data["new_password1"] == data["new_password2"], revoke)


def old_password_refused() -> ValidationFailed:
    return ValidationFailed({"old_password": [
        "Your old password was entered incorrectly. Please enter it again."]})


def change_password(session, caller: Caller, change: PasswordChange, rounds: int,
                    session_id: int | None, token_id: int | None) -> dict:
    """The new password (the old one was right). The caller's other browser sessions end
    (`session_id`, the one asking, stays); tokens stay unless `revoke_tokens` (then all but
    `token_id`, the one asking, are revoked)."""
    if not change.confirmed:
        raise ValidationFailed({"new_password2": ["The two password fields didn\u2019t match."]})
    try:
        users.set_password(session, caller, caller.user_id, change.new_password, rounds)
    except ValidationFailed as exc:
        raise ValidationFailed({"new_password2": exc.detail["password"]})
    sessions.end_others(session, caller, caller.user_id, keep=session_id)
    if change.revoke_tokens:
        tokens.revoke_all(session, caller, caller.user_id, keep=token_id)
    return {"detail": "New password has been saved."}
