"""Every setting a status service process reads (README, "Configuration")."""
from svckit.settings import ServiceSettings


class StatusSettings(ServiceSettings):
    STATUS_DATABASE_URL: str | None = None
