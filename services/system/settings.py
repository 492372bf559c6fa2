"""Every setting a system service process reads (README, "Configuration")."""
from svckit.settings import Flag, ServiceSettings, comma_list


class SystemSettings(ServiceSettings):
    SYSTEM_DATABASE_URL: str | None = None
    # the instance and its flags (services.system.about)
    INVENTREE_INSTANCE: str = "InvenTree"
    INVENTREE_SITE_URL: str = ""
    INVENTREE_DEBUG: Flag = False
    INVENTREE_FLAGS: str = ""
    INVENTREE_PLUGINS: str = ""
    STOCK_BATCH_CODE_TEMPLATE: str = ""
    WEBHOOK_MAX_BYTES: int = 256 * 1024
    ERROR_REPORT_SOURCES: str = "gateway,users,status,audit,system,attachments,importer"
    # outgoing mail (services.system.mail), InvenTree's names
    INVENTREE_EMAIL_HOST: str = ""
    INVENTREE_EMAIL_PORT: int = 25
    INVENTREE_EMAIL_USERNAME: str = ""
    INVENTREE_EMAIL_PASSWORD: str = ""
    INVENTREE_EMAIL_TLS: Flag = False
    INVENTREE_EMAIL_SSL: Flag = False
    INVENTREE_EMAIL_SENDER: str = "inventree@localhost"
    INVENTREE_EMAIL_TIMEOUT: float = 10
    # exchange rates (services.system.currency)
    INVENTREE_DEFAULT_CURRENCY: str = "USD"
    CURRENCY_CODES: str = "AUD,CAD,CNY,EUR,GBP,JPY,NZD,USD"
    CURRENCY_PROVIDER: str = "frankfurter"
    CURRENCY_API_URL: str = "https://api.frankfurter.app"
    CURRENCY_API_TIMEOUT: float = 5
    CURRENCY_UPDATE_INTERVAL: int = 1
    # the news feed (services.system.news)
    NEWS_FEED_PROVIDER: str = "http"
    NEWS_FEED_URL: str = "https://inventree.org/news/feed.atom"
    NEWS_FEED_INTERVAL: int = 24
    NEWS_FEED_TIMEOUT: float = 5

    def plugin_slugs(self) -> list[str]:
        """The installed plugins to activate."""
        return comma_list(self.INVENTREE_PLUGINS)

    def base_currency(self) -> str:
        return self.INVENTREE_DEFAULT_CURRENCY.upper()

    def currency_codes(self) -> list[str]:
        return [code.upper() for code in comma_list(self.CURRENCY_CODES)]

    def error_report_sources(self) -> list[str]:
        """The processes whose `error.logged` events become error reports."""
        return comma_list(self.ERROR_REPORT_SOURCES)

    def mail_configured(self) -> bool:
        return bool(self.INVENTREE_EMAIL_HOST)
