"""The users service: authentication for the gateway, accounts, groups with roles, owners,
tokens and browser sessions (`/api/user/...`, `/api/auth/...`)."""
from datetime import date

from sqlalchemy import select

from svckit.context import Caller
from svckit.errors import (
    AuthenticationFailed,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from svckit.fields import Field, options_document, validate
from svckit.listing import bool_param, page_list, run_list
from svckit.service import CallerProvider, ServiceBase, Store, rpc

from . import accounts, management, sessions
from .models import groups, store, users

REVOKE_TOKENS = Field("boolean", "Revoke tokens", "Also revoke the user's API tokens (all but "
                      "the one making this request)", default=False)


class Service(ServiceBase):
    name = "users"
    db = Store(store, publish_before_reply=True)  # gateway caches follow its events
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
                accounts.mark_token_seen(s, caller, row["id"])
        return {"caller": caller.model_dump(mode="json"), "token_id": row["id"],
                "expiry": row["expiry"].isoformat()}

    def _check_password(self, username: str, password: str, address: str = "") -> dict:
        """The user, or AuthenticationFailed after recording a `login.failed` event (every
        password check goes through here, so the throttle covers them all)."""
        try:
            with self.db.read() as s:
                return accounts.authenticate_password(s, username, password, address)
        except AuthenticationFailed:
            with self.db.write() as s:
                accounts.record_login_failure(s, username, address, self.caller.request_id)
            raise

    @rpc
    def authenticate_password(self, username: str, password: str, address: str = "") -> dict:
        """HTTP basic: `address` is the client's, as the gateway sees it (login throttle)."""
        user = self._check_password(username, password, address)
        with self.db.read() as s:
            return {"caller": accounts.caller_for(s, user, self.caller.request_id)
                    .model_dump(mode="json")}

    @rpc
    def me(self) -> dict:
        with self.db.read() as s:
            return accounts.user_repr(s, self._me(s))

    @rpc
    def update_me(self, data: dict, partial: bool = False, session_id: int | None = None) -> dict:
        return self.update_user(self.caller.user_id, data, partial, session_id)

    @rpc
    def delete_me(self) -> None:
        self.delete_user(self.caller.user_id)

    # ------------------------------------------------------------ user management

    @rpc
    def list_users(self, params: dict) -> dict:
        with self.db.read() as s:
            self._me(s)
            return run_list(s, management.list_users(params), params,
                            search=management.USER_SEARCH,
                            ordering=management.user_ordering(self.caller),
                            default_order=[users.c.id],
                            render=lambda row: management.shown_to(
                                self.caller, accounts.user_repr(s, row)))

    @rpc
    def get_user(self, pk: int) -> dict:
        with self.db.read() as s:
            self._me(s)
            return management.shown_to(self.caller, accounts.user_repr(s, accounts.get_user(s, pk)))

    @rpc
    def create_user(self, data: dict) -> dict:
        with self.db.write() as s:
            self._me(s)
            return management.create_user(s, self.caller, data)

    @rpc
    def update_user(self, pk: int, data: dict, partial: bool = False,
                    session_id: int | None = None) -> dict:
        """`session_id`: the caller's browser session, kept when it changes its own password
        (the user's other sessions end)."""
        with self.db.write() as s:
            self._me(s)
            return management.update_user(s, self.caller, pk, data, partial, session_id)

    @rpc
    def delete_user(self, pk: int) -> None:
        with self.db.write() as s:
            self._me(s)
            management.delete_user(s, self.caller, pk)

    @rpc
    def user_options(self, detail: bool = False) -> dict:
        if not self.caller.authenticated:
            raise NotAuthenticated()
        methods = ["PUT"] if detail else (["POST"] if self.caller.is_superuser else [])
        return options_document("User Detail" if detail else "User List", "",
                                management.USER_FIELDS, methods)

    @rpc
    def list_groups(self, params: dict) -> dict:
        with self.db.read() as s:
            self._me(s)
            detail = bool_param(params, "permission_detail") or False
            return run_list(s, select(groups), params, search=(groups.c.name,),
                            ordering={"name": groups.c.name, "pk": groups.c.id},
                            default_order=[groups.c.id],
                            render=lambda row: management.group_repr(row, detail))

    @rpc
    def get_group(self, pk: int, params: dict | None = None) -> dict:
        detail = bool_param(params or {}, "permission_detail") or False
        with self.db.read() as s:
            self._me(s)
            return management.group_repr(management.get_group(s, pk), detail)

    @rpc
    def create_group(self, data: dict) -> dict:
        with self.db.write() as s:
            self._me(s)
            return management.create_group(s, self.caller, data)

    @rpc
    def update_group(self, pk: int, data: dict, partial: bool = False) -> dict:
        with self.db.write() as s:
            self._me(s)
            return management.update_group(s, self.caller, pk, data, partial)

    @rpc
    def delete_group(self, pk: int) -> None:
        with self.db.write() as s:
            self._me(s)
            management.delete_group(s, self.caller, pk)

    @rpc
    def group_options(self, detail: bool = False) -> dict:
        return self._options("Group", management.GROUP_FIELDS, detail)

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
    def user_details(self, pks: list) -> dict:
        """Brief user representations by pk (attachments' `user_detail`); e-mail addresses
        only for staff callers (as in `/api/user/`; blank for others, their own included,
        so that one rendering serves every caller who is not staff)."""
        with self.db.read() as s:
            briefs = accounts.user_briefs(s, [int(p) for p in pks])
        if not (self.caller.is_staff or self.caller.is_superuser):
            for brief in briefs.values():
                brief["email"] = ""
        return {str(k): v for k, v in briefs.items()}

    @rpc
    def staff_user_ids(self) -> list:
        """Active staff users (error reports notify them)."""
        with self.db.read() as s:
            return accounts.staff_user_ids(s)

    # ------------------------------------------------------------ browser sessions

    @rpc
    def login(self, username: str, password: str, address: str = "") -> dict:
        """`POST /api/auth/login/`: a session, and the user's token named "" (as InvenTree)."""
        try:
            user = self._check_password(username, password, address)
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

    @rpc
    def change_password(self, data: dict, session_id: int | None = None,
                        token_id: int | None = None, address: str = "") -> dict:
        """`POST /api/auth/password/change/`: the old password must be right (InvenTree 264
        does not check it). The user's other browser sessions end (`session_id`, the one
        asking, stays); tokens stay unless `revoke_tokens` is true (then all but `token_id`,
        the one asking, are revoked)."""
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
        with self.db.read() as s:
            user = self._me(s)
        try:
            self._check_password(user["username"], str(data["old_password"]), address)
        except AuthenticationFailed:
            raise ValidationFailed({"old_password": [
                "Your old password was entered incorrectly. Please enter it again."]})
        if data["new_password1"] != data["new_password2"]:
            raise ValidationFailed({"new_password2": ["The two password fields didn\u2019t match."]})
        with self.db.write() as s:
            try:
                accounts.set_password(s, self.caller, user["id"], str(data["new_password1"]))
            except ValidationFailed as exc:
                raise ValidationFailed({"new_password2": exc.detail["password"]})
            sessions.end_others(s, self.caller, user["id"], keep=session_id)
            if revoke:
                accounts.revoke_tokens(s, self.caller, user["id"], keep=token_id)
        return {"detail": "New password has been saved."}

    @rpc
    def update_auth_user(self, data: dict, partial: bool = False) -> dict:
        """`/api/auth/user/`: username and names; pk and email are read-only there."""
        data = {k: v for k, v in (data if isinstance(data, dict) else {}).items()
                if k in ("username", "first_name", "last_name")}
        me = self.update_user(self.caller.user_id, data, True)
        return {k: me[k] for k in ("pk", "username", "email", "first_name", "last_name")}
