"""The users service: authentication for the gateway, `/api/user/me/`, `/token/`, `/roles/`."""
from datetime import date

from svckit.context import Caller
from svckit.errors import (AuthenticationFailed, NotAuthenticated, NotFound, PermissionDenied,
                           ValidationFailed)
from svckit.listing import page_list
from svckit.service import CallerProvider, ServiceBase, Store, rpc

from . import accounts, sessions
from .models import store


class Service(ServiceBase):
    name = "users"
    db = Store(store)
    caller: Caller = CallerProvider()

    def _me(self, session) -> dict:
        if not self.caller.authenticated:
            raise NotAuthenticated()
        return accounts.get_user(session, self.caller.user_id)

    @rpc
    def authenticate_token(self, key: str) -> dict:
        """The caller behind an API token, with the token's id (for cache invalidation)."""
        with self.db.read() as s:
            caller, row = accounts.authenticate_token(s, key, self.caller.request_id)
        if row["last_seen"] != date.today():
            with self.db.write() as s:
                store.record(s, "token", row["id"], "token.seen",
                             {"last_seen": date.today().isoformat()}, caller)
        return {"caller": caller.model_dump(mode="json"), "token_id": row["id"]}

    @rpc
    def authenticate_password(self, username: str, password: str) -> dict:
        with self.db.read() as s:
            user = accounts.authenticate_password(s, username, password)
            return {"caller": accounts.caller_for(s, user, self.caller.request_id)
                    .model_dump(mode="json")}

    @rpc
    def me(self) -> dict:
        with self.db.read() as s:
            return accounts.user_repr(s, self._me(s))

    @rpc
    def roles(self) -> dict:
        with self.db.read() as s:
            return accounts.roles_document(s, self._me(s))

    @rpc
    def token(self, name: str = "", meta: dict | None = None) -> dict:
        with self.db.write() as s:
            return accounts.token_for(s, self.caller, self._me(s), name, meta or {})

    @rpc
    def tokens(self, current_token_id: int | None = None) -> list:
        with self.db.read() as s:
            self._me(s)
            return accounts.list_tokens(s, self.caller, current_token_id)

    @rpc
    def revoke_token(self, pk: int) -> None:
        with self.db.write() as s:
            self._me(s)
            accounts.revoke_token(s, self.caller, pk)

    @rpc
    def list_owners(self, params: dict) -> dict:
        with self.db.read() as s:
            self._me(s)
            return page_list(accounts.list_owners(s, params), params)

    @rpc
    def get_owner(self, pk: int) -> dict:
        with self.db.read() as s:
            self._me(s)
            owner = accounts.get_owners(s, [pk]).get(pk)
        if owner is None:
            raise NotFound()
        return owner

    @rpc
    def owners(self, pks: list) -> dict:
        """Owner representations by pk (for services whose rows point at owners)."""
        with self.db.read() as s:
            return {str(k): v for k, v in accounts.get_owners(s, [int(p) for p in pks]).items()}

    @rpc
    def staff_user_ids(self) -> list:
        """Active staff users (error reports notify them)."""
        with self.db.read() as s:
            return accounts.staff_user_ids(s)

    # ------------------------------------------------------------ browser sessions

    @rpc
    def login(self, username: str, password: str) -> dict:
        """`POST /api/auth/login/`: a session, and the user's token named "" (as InvenTree)."""
        with self.db.read() as s:
            try:
                user = accounts.authenticate_password(s, username, password)
            except AuthenticationFailed:
                raise ValidationFailed({"non_field_errors": [
                    "Unable to log in with provided credentials."]})
        with self.db.write() as s:
            started = sessions.start(s, self.caller, user)
            caller = accounts.caller_for(s, user, self.caller.request_id)
            started["key"] = accounts.token_for(s, caller, user, "", {})["token"]
        return started

    @rpc
    def authenticate_session(self, key: str) -> dict | None:
        with self.db.read() as s:
            return sessions.authenticate(s, key, self.caller.request_id)

    @rpc
    def logout(self, session_id: int | None = None, token_id: int | None = None) -> dict:
        with self.db.write() as s:
            if session_id is not None:
                sessions.end(s, self.caller, session_id)
            if token_id is not None and self.caller.authenticated:
                accounts.revoke_token(s, self.caller, token_id)
        return {"detail": "Successfully logged out."}

    @rpc
    def issue_magic_link(self, email: str) -> dict | None:
        with self.db.write() as s:
            return sessions.issue_magic_link(s, self.caller, email)

    @rpc
    def login_with_magic_link(self, key: str) -> dict:
        with self.db.write() as s:
            started = sessions.use_magic_link(s, self.caller, key)
        if started is None:
            raise PermissionDenied("Invalid or expired login link.")
        return started
