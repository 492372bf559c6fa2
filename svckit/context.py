"""The caller of a request, as authenticated by the gateway and passed along every RPC call."""

from pydantic import BaseModel, Field

from svckit import randomids
from svckit.errors import NotAuthenticated, PermissionDenied

ROLE_NAMES = ("admin", "part_category", "part", "stocktake", "stock_location", "stock",
              "build", "purchase_order", "sales_order", "return_order")
PERMISSIONS = ("view", "add", "change", "delete")


class Caller(BaseModel):
    user_id: int | None = None
    username: str = ""
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    is_staff: bool = False
    is_superuser: bool = False
    roles: dict[str, list[str]] = Field(default_factory=dict)
    request_id: str = Field(default_factory=randomids.uuid4_hex)
    # svckit.idempotency: the key of this one RPC (empty: none), and whether the caller is
    # sending it again (the service then looks for its answer before running the method)
    idempotency_key: str = ""
    idempotency_retry: bool = False

    def for_call(self, key: str, retry: bool = False) -> "Caller":
        """This caller for one RPC under `key`."""
        return self.model_copy(update={"idempotency_key": key, "idempotency_retry": retry})

    def without_key(self) -> "Caller":
        """This caller for further calls: a worker's key is its own call's, never passed on."""
        if not self.idempotency_key and not self.idempotency_retry:
            return self
        return self.for_call("", False)

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def is_admin(self) -> bool:
        """Staff or superuser: who may change system-wide things (the one staff check)."""
        return self.is_staff or self.is_superuser

    def has_role(self, role: str, permission: str) -> bool:
        return self.is_superuser or permission in (self.roles.get(role) or ())

    def require_login(self) -> None:
        """401 for an anonymous caller."""
        if not self.authenticated:
            raise NotAuthenticated()

    def require_staff(self) -> None:
        """401 for an anonymous caller, 403 for one who is neither staff nor superuser."""
        self.require_login()
        if not self.is_admin:
            raise PermissionDenied()

    def require_superuser(self) -> None:
        """401 for an anonymous caller, 403 for one who is not a superuser (Django
        permissions that no role grants)."""
        self.require_login()
        if not self.is_superuser:
            raise PermissionDenied()

    def require_role(self, role: str, permission: str) -> None:
        """401 for an anonymous caller, 403 without `permission` on `role`."""
        self.require_login()
        if not self.has_role(role, permission):
            raise PermissionDenied()

    @property
    def brief(self) -> dict | None:
        """The user as services render one (`user_detail`), without asking the users
        service."""
        if self.user_id is None:
            return None
        return {"pk": self.user_id, "username": self.username, "first_name": self.first_name,
                "last_name": self.last_name, "email": self.email}

    @property
    def actor(self) -> str:
        return self.username or ("system" if self.user_id is None else str(self.user_id))


SYSTEM = Caller(username="system")
