"""Every setting an audit service process reads (README, "Configuration")."""
from svckit.secretfile import shared_secret
from svckit.settings import ServiceSettings, comma_list

DIGEST_KEY_FILE = "audit-digest.key"


class AuditSettings(ServiceSettings):
    AUDIT_DATABASE_URL: str | None = None
    AUDIT_SOURCES: str = "gateway,users,status,system,attachments,importer"
    EVENTS_PAGE_SIZE: int = 100
    EVENTS_MAX_LIMIT: int = 1000
    EVENTS_COUNT_MAX: int = 10000
    AUDIT_DIGEST_KEY: str = ""

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
