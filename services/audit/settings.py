"""Every setting an audit service process reads (README, "Configuration")."""
from svckit.settings import ServiceSettings, comma_list


class AuditSettings(ServiceSettings):
    AUDIT_DATABASE_URL: str | None = None
    AUDIT_SOURCES: str = "gateway,users,status,system,attachments,importer"
    EVENTS_PAGE_SIZE: int = 100
    EVENTS_MAX_LIMIT: int = 1000

    def sources(self) -> list[str]:
        """The services whose events are recorded."""
        return comma_list(self.AUDIT_SOURCES)
