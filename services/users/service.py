"""The users service: authentication for the gateway, accounts, groups with roles, owners,
tokens and browser sessions (`/api/user/...`, `/api/auth/...`).

Each entrypoint checks what depends on the caller alone, opens one unit of work and calls
one domain module: users.py, groups.py, roles.py, owners.py, tokens.py, sessions.py,
magiclinks.py, authentication.py (and loginfailures.py, through `_check_password`).
"""
from svckit.container_settings import Settings
from svckit.context import Caller
from svckit.errors import AuthenticationFailed
from svckit.request_ledger import RequestLedgerMixin
from svckit.service import CallerProvider, Store, rpc

from . import (
    authentication,
    groups,
    loginfailures,
    magiclinks,
    owners,
    roles,
    tokens,
    users,
)
from .models import store
from .settings import UsersSettings


class Service(RequestLedgerMixin):  # the gateway's Idempotency-Key requests (its models)
    name = "users"
    db = Store(store, publish_before_reply=True)  # gateway caches follow its events
    caller: Caller = CallerProvider()
    settings: UsersSettings = Settings(UsersSettings)

    # ------------------------------------------------------------ authentication

    @rpc
    def authenticate_token(self, key: str) -> dict:
        """The caller behind an API token, with the token's id (for cache invalidation).
        Checking a token (every request's first question) only reads; the once-a-day
        `token.seen` is written in a second unit of work when it is due."""
        with self.db.read() as s:
            check = authentication.by_token(s, key, self.caller.request_id)
        if not check.seen_today:
            with self.db.write() as s:
                tokens.mark_seen(s, check.caller, check.answer["token_id"])
        return check.answer

    def _check_password(self, username: str, password: str, address: str = "") -> Caller:
        """The caller with this name and password, or AuthenticationFailed after recording
        a `login.failed` event (every password check goes through here, so the throttle
        covers them all). The check reads, so that PBKDF2 never runs under the write lock;
        a failure is written in a unit of work of its own (the check's error would roll
        back its own), and so is a success from an address not recorded today
        (`login.succeeded`)."""
        try:
            with self.db.read() as s:
                user = authentication.by_password(s, self.settings, username, password,
                                                  address, self.caller.request_id)
                due = loginfailures.success_due(s, username, address)
        except AuthenticationFailed:
            with self.db.write() as s:
                loginfailures.record(s, username, address, self.caller.request_id)
            raise
        if due:  # at most once a day per name and address: the throttle's known addresses
            with self.db.write() as s:
                loginfailures.record_success(s, username, address, self.caller.request_id)
        return user

    @rpc
    def authenticate_password(self, username: str, password: str, address: str = "") -> dict:
        """HTTP basic: `address` is the client's, as the gateway sees it (login throttle)."""
        return {"caller": self._check_password(username, password, address)
                .model_dump(mode="json")}

    @rpc
    def authenticate_session(self, key: str) -> dict | None:
        with self.db.read() as s:
            return authentication.by_session(s, key, self.caller.request_id)

    # ------------------------------------------------------------ the caller's own account

    @rpc
    def me(self) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return users.detail(s, self.caller, self.caller.user_id)

    @rpc
    def update_me(self, data: dict, partial: bool = False, session_id: int | None = None) -> dict:
        self.caller.require_login()
        with self.db.write() as s:
            return users.update(s, self.caller, self.caller.user_id, data, partial,
                                self.settings.PASSWORD_ITERATIONS, session_id)

    @rpc
    def delete_me(self) -> None:
        self.caller.require_login()
        with self.db.write() as s:
            users.delete(s, self.caller, self.caller.user_id)

    @rpc
    def update_auth_user(self, data: dict, partial: bool = False) -> dict:
        """`/api/auth/user/`: username and names (always a partial update)."""
        self.caller.require_login()
        with self.db.write() as s:
            return users.update_auth_user(s, self.caller, data,
                                          self.settings.PASSWORD_ITERATIONS)

    @rpc
    def roles(self) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return roles.document(s, self.caller.user_id)

    # ------------------------------------------------------------ user management

    @rpc
    def list_users(self, params: dict) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return users.list_users(s, self.caller, params)

    @rpc
    def get_user(self, pk: int) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return users.detail(s, self.caller, pk)

    @rpc
    def create_user(self, data: dict) -> dict:
        self.caller.require_superuser()
        with self.db.write() as s:
            return users.create(s, self.caller, data, self.settings.PASSWORD_ITERATIONS)

    @rpc
    def update_user(self, pk: int, data: dict, partial: bool = False,
                    session_id: int | None = None) -> dict:
        """`session_id`: the caller's browser session, kept when it changes its own password
        (the user's other sessions end)."""
        self.caller.require_login()
        with self.db.write() as s:
            return users.update(s, self.caller, pk, data, partial,
                                self.settings.PASSWORD_ITERATIONS, session_id)

    @rpc
    def delete_user(self, pk: int) -> None:
        self.caller.require_login()
        with self.db.write() as s:
            users.delete(s, self.caller, pk)

    @rpc
    def user_options(self, detail: bool = False) -> dict:
        self.caller.require_login()
        return users.options(self.caller, detail)

    @rpc
    def user_details(self, pks: list) -> dict:
        """Brief user representations by pk (attachments' `user_detail`)."""
        with self.db.read() as s:
            return users.briefs(s, self.caller, pks)

    @rpc
    def staff_user_ids(self) -> list:
        """Active staff users (error reports notify them)."""
        with self.db.read() as s:
            return users.staff_user_ids(s)

    # ------------------------------------------------------------ groups

    @rpc
    def list_groups(self, params: dict) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return groups.list_groups(s, params)

    @rpc
    def get_group(self, pk: int, params: dict | None = None) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return groups.detail(s, pk, params)

    @rpc
    def create_group(self, data: dict) -> dict:
        self.caller.require_staff()
        with self.db.write() as s:
            return groups.create(s, self.caller, data)

    @rpc
    def update_group(self, pk: int, data: dict, partial: bool = False) -> dict:
        self.caller.require_staff()
        with self.db.write() as s:
            return groups.update(s, self.caller, pk, data, partial)

    @rpc
    def delete_group(self, pk: int) -> None:
        self.caller.require_staff()
        with self.db.write() as s:
            groups.delete(s, self.caller, pk)

    @rpc
    def group_options(self, detail: bool = False) -> dict:
        return self._options("Group", groups.GROUP_FIELDS, detail)

    # ------------------------------------------------------------ tokens

    @rpc
    def token(self, name: str = "", meta: dict | None = None) -> dict:
        self.caller.require_login()
        with self.db.write() as s:
            return tokens.own_token(s, self.caller, name, meta or {},
                                    self.settings.token_secret())

    @rpc
    def create_token(self, data: dict, meta: dict | None = None) -> dict:
        self.caller.require_login()
        with self.db.write() as s:
            return tokens.new_token(s, self.caller, data, meta or {},
                                    self.settings.token_secret())

    @rpc
    def tokens(self, current_token_id: int | None = None) -> list:
        self.caller.require_login()
        with self.db.read() as s:
            return tokens.list_tokens(s, self.caller, current_token_id,
                                      self.settings.token_secret())

    @rpc
    def revoke_token(self, pk: int) -> None:
        self.caller.require_login()
        with self.db.write() as s:
            tokens.revoke(s, self.caller, pk)

    # ------------------------------------------------------------ owners

    @rpc
    def list_owners(self, params: dict) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return owners.list_owners(s, params)

    @rpc
    def get_owner(self, pk: int) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return owners.get_owner(s, pk)

    @rpc
    def owners(self, pks: list) -> dict:
        """Owner representations by pk (for services whose rows point at owners)."""
        with self.db.read() as s:
            return owners.by_pks(s, pks)

    # ------------------------------------------------------------ browser sessions

    @rpc
    def login(self, username: str, password: str, address: str = "") -> dict:
        """`POST /api/auth/login/`: a session, and the user's token named "" (as InvenTree).
        The password is checked as every password is (`_check_password`), before the
        session is written."""
        try:
            user = self._check_password(username, password, address)
        except AuthenticationFailed:
            raise authentication.login_refused()
        with self.db.write() as s:
            return authentication.login(s, self.caller, user, self.settings)

    @rpc
    def logout(self, session_id: int | None = None, token_id: int | None = None) -> dict:
        with self.db.write() as s:
            return authentication.logout(s, self.caller, session_id, token_id)

    @rpc
    def issue_magic_link(self, email: str) -> dict | None:
        with self.db.write() as s:
            return magiclinks.issue(s, self.caller, email, self.settings.MAGIC_LINK_SECONDS)

    @rpc
    def login_with_magic_link(self, key: str) -> dict:
        with self.db.write() as s:
            started = magiclinks.use(s, self.caller, key, self.settings.SESSION_DAYS)
        return magiclinks.render(started)

    @rpc
    def change_password(self, data: dict, session_id: int | None = None,
                        token_id: int | None = None, address: str = "") -> dict:
        """`POST /api/auth/password/change/`: the old password must be right (InvenTree 264
        does not check it). Three units of work: the request is read and checked, the old
        password is checked as every password is (`_check_password`), then the new one is
        written."""
        self.caller.require_login()
        with self.db.read() as s:
            change = authentication.password_change(s, self.caller, data)
        try:
            self._check_password(change.username, change.old_password, address)
        except AuthenticationFailed:
            raise authentication.old_password_refused()
        with self.db.write() as s:
            return authentication.change_password(s, self.caller, change,
                                                  self.settings.PASSWORD_ITERATIONS,
                                                  session_id, token_id)
