"""Every setting a users service process reads (README, "Configuration"); its command line
(services.users.cli) reads `UsersCliSettings`."""
from svckit.secretfile import shared_secret
from svckit.settings import ServiceSettings

TOKEN_SECRET_FILE = "users-token-secret"


class UsersSettings(ServiceSettings):
    USERS_DATABASE_URL: str | None = None
    USERS_TOKEN_SECRET: str = ""
    PASSWORD_ITERATIONS: int = 600000
    LOGIN_THROTTLE_ATTEMPTS: int = 5
    LOGIN_THROTTLE_SECONDS: int = 900
    LOGIN_THROTTLE_NAME_ATTEMPTS: int = 100
    LOGIN_THROTTLE_ADDRESS_ATTEMPTS: int = 50
    LOGIN_THROTTLE_KNOWN_DAYS: int = 30
    SESSION_DAYS: int = 14
    MAGIC_LINK_SECONDS: int = 300

    def token_secret(self) -> bytes:
        """USERS_TOKEN_SECRET, else the one generated into the data directory (shared by
        the replicas that share it)."""
        if self.USERS_TOKEN_SECRET:
            return self.USERS_TOKEN_SECRET.encode()
        return shared_secret(self.data_dir() / TOKEN_SECRET_FILE).encode()


class UsersCliSettings(UsersSettings):
    """`python -m services.users.cli`: the superuser `ensure-admin` creates."""

    INVENTREE_ADMIN_USER: str = "admin"
    INVENTREE_ADMIN_PASSWORD: str = ""
    INVENTREE_ADMIN_EMAIL: str = ""
