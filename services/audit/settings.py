"""Every setting an audit service process reads (README, "Configuration")."""
from pydantic import Field

from svckit.secretfile import shared_secret
from svckit.settings import Flag, ServiceSettings, comma_list

DIGEST_KEY_FILE = "audit-digest.key"


class AuditSettings(ServiceSettings):
    AUDIT_DATABASE_URL: str | None = None
    AUDIT_SOURCES: str = "gateway,users,status,system,attachments,importer,audit"
    EVENTS_PAGE_SIZE: int = 100
    EVENTS_MAX_LIMIT: int = 1000
    EVENTS_COUNT_MAX: int = 1000
    AUDIT_DIGEST_KEY: str = ""
    # outbound webhooks (services.audit.deliveries, README "Events, and subscribing to them")
    WEBHOOK_ALLOWED_HOSTS: str = "*"
    WEBHOOK_ALLOW_PRIVATE: Flag = False
    WEBHOOK_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)
    WEBHOOK_RETRY_FOR_SECONDS: float = Field(default=86400.0, ge=0)
    WEBHOOK_BACKOFF_BASE_SECONDS: float = Field(default=10.0, gt=0)
    WEBHOOK_BACKOFF_MAX_SECONDS: float = Field(default=3600.0, gt=0)
    WEBHOOK_CONCURRENCY: int = Field(default=20, ge=1)
    WEBHOOK_PER_SUBSCRIPTION: int = Field(default=4, ge=1)
    WEBHOOK_POLL_SECONDS: float = Field(default=0.25, gt=0)

    def sources(self) -> list[str]:
        """The services whose events are recorded."""
        return comma_list(self.AUDIT_SOURCES)

    def digest_key(self) -> bytes:
        """The HMAC-SHA256 key of the hourly chain digests (services.audit.chains):
        AUDIT_DIGEST_KEY, or when it is empty a key generated once into the data directory
        (one machine only: set it for replicas on several)."""
        if self.AUDIT_DIGEST_KEY:
            return self.AUDIT_DIGEST_KEY.encode()
        return shared_secret(self.data_dir() / DIGEST_KEY_FILE).encode()

    def webhook_hosts(self) -> list[str]:
        """Host patterns webhook target URLs may name (`*.example.com`; `*`: any host)."""
        return comma_list(self.WEBHOOK_ALLOWED_HOSTS)
