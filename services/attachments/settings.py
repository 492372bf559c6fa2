"""Every setting an attachments service process reads (README, "Configuration")."""
from svckit.settings import Flag, IncomingSettings, ServiceSettings, comma_list

DEFAULT_URL_SCHEMES = ("http", "https", "ftp", "ftps")


class AttachmentsSettings(ServiceSettings, IncomingSettings):
    ATTACHMENTS_DATABASE_URL: str | None = None
    NOTES_IMAGE_MAX_BYTES: int = 5 * 1024 * 1024
    SVG_SANITISE_MAX_BYTES: int = 10 * 1024 * 1024
    INVENTREE_EXTRA_URL_SCHEMES: str = ""
    INVENTREE_STRICT_URLS: Flag = True
    BLOB_SWEEP_SECONDS: int = 300
    BLOB_CLAIM_SECONDS: int = 3600

    def url_schemes(self) -> tuple[str, ...]:
        """The schemes an attachment `link` may use."""
        return DEFAULT_URL_SCHEMES + tuple(
            s.lower() for s in comma_list(self.INVENTREE_EXTRA_URL_SCHEMES))
