"""Typed settings, read once from the environment when a process starts.

A process declares one pydantic-settings class whose field names are the environment
variables it reads (`AMQP_URI`, `GATEWAY_MAX_BODY_BYTES`, ...), builds it once and passes it
to whatever needs a value: the gateway `gateway.settings.GatewaySettings`, each service
`services/<name>/settings.py` `<Name>Settings` (svckit.run builds it and hands it to the
service's container, see svckit.container_settings), each tool its own. Nothing reads
the environment anywhere else. `lookups()` is what `/api/admin/config/` lists for it: each
variable, its config-file key, and whether it came from the environment or the default,
never the value. The groups below are what several processes read; a process's class
inherits the ones it needs.
"""
from datetime import datetime
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field, PrivateAttr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from svckit.blobstore import BlobStore, blob_store_of
from svckit.broker import spread
from svckit.config_keys import config_key
from svckit.layout import ROOT
from svckit.listing import SearchLimits
from svckit.signing import CallerSigner, parse_keys

QUEUE_TYPES = ("classic", "quorum")


def truthy(raw) -> bool:
    """A boolean setting's text: "1", "true", "yes" or "on" (any case) is true, the rest false."""
    return str(raw).strip().lower() in ("1", "true", "yes", "on")


def comma_list(raw: str) -> list[str]:
    """The items of a comma-separated setting, stripped, empty ones left out."""
    return [item.strip() for item in raw.split(",") if item.strip()]


# a boolean setting: "1", "true", "yes", "on" (any case) is true; anything else false
Flag = Annotated[bool, BeforeValidator(truthy)]


class RecordedSettings(BaseSettings):
    """Settings that remember when they were read, for `/api/admin/config/`."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", frozen=True)

    _read_at: str = PrivateAttr(default_factory=lambda: datetime.now().isoformat())

    def lookups(self) -> list[dict]:
        """Every setting of this class, with its config-file key; `source` is "env" for a
        value that was given, "default" otherwise; `accessed` is when they were read."""
        return [{"key": name, "env_var": name, "config_key": config_key(name),
                 "source": "env" if name in self.model_fields_set else "default",
                 "accessed": self._read_at}
                for name in type(self).model_fields]


LOG_FORMATS = ("json", "text")
OTEL_EXPORTERS = ("", "none", "otlp", "console")
OTEL_SAMPLERS = ("always_on", "always_off", "traceidratio", "parentbased_always_on",
                 "parentbased_always_off", "parentbased_traceidratio")


class ObservedSettings(RecordedSettings):
    """Logs (svckit.logs) and traces (svckit.tracing, the standard OTEL_* variables; see
    svckit.tracing_setup) of a process."""

    LOG_LEVEL: str = "INFO"
    LOG_FORMAT: str = "json"
    LOG_FLUSH_SECONDS: float = Field(default=0.2, ge=0, le=10)  # svckit.logs.LineHandler
    OTEL_SDK_DISABLED: Flag = False
    OTEL_TRACES_EXPORTER: str = ""
    OTEL_EXPORTER_OTLP_ENDPOINT: str = ""
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: str = ""
    OTEL_EXPORTER_OTLP_PROTOCOL: str = "http/protobuf"
    OTEL_EXPORTER_OTLP_HEADERS: str = ""
    OTEL_EXPORTER_OTLP_TIMEOUT: float = Field(default=10000.0, gt=0)  # milliseconds
    OTEL_SERVICE_NAME: str = ""
    OTEL_RESOURCE_ATTRIBUTES: str = ""
    OTEL_TRACES_SAMPLER: str = "parentbased_always_on"
    OTEL_TRACES_SAMPLER_ARG: str = ""

    @field_validator("LOG_FORMAT", "OTEL_TRACES_EXPORTER", "OTEL_TRACES_SAMPLER",
                     "OTEL_EXPORTER_OTLP_PROTOCOL")
    @classmethod
    def _one_of(cls, value: str, info) -> str:
        value = value.strip().lower()
        allowed = {"LOG_FORMAT": LOG_FORMATS, "OTEL_TRACES_EXPORTER": OTEL_EXPORTERS,
                   "OTEL_TRACES_SAMPLER": OTEL_SAMPLERS,
                   "OTEL_EXPORTER_OTLP_PROTOCOL": ("http/protobuf",)}[info.field_name]
        if value not in allowed:
            raise ValueError(f"{info.field_name} must be one of "
                             f"{', '.join(a or '(empty)' for a in allowed)}, not {value!r}")
        return value

    @field_validator("OTEL_TRACES_SAMPLER_ARG")
    @classmethod
    def _ratio(cls, value: str) -> str:
        value = value.strip()
        if value:
            try:
                ratio = float(value)
            except ValueError:
                ratio = -1.0
            if not 0.0 <= ratio <= 1.0:
                raise ValueError(f"OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1, "
                                 f"not {value!r}")
        return value


class BrokerSettings(ObservedSettings):
    """RabbitMQ, RPC and the keys that sign caller contexts (svckit.signing)."""

    AMQP_URI: str = "amqp://guest:guest@127.0.0.1:5672/"
    RPC_TIMEOUT: float = 10.0
    INVENTREE_DATA_DIR: str = str(ROOT / "var")
    CALLER_SIGNING_KEYS: str = ""
    CALLER_SIGNATURE_MAX_AGE: float = 300.0

    @field_validator("AMQP_URI")
    @classmethod
    def _spread(cls, value: str) -> str:
        """A node list starts at this process's own node (svckit.broker.spread)."""
        return spread(value)

    def data_dir(self) -> Path:
        path = Path(self.INVENTREE_DATA_DIR)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def caller_signer(self) -> CallerSigner:
        return CallerSigner(parse_keys(self.CALLER_SIGNING_KEYS, self.data_dir()),
                            self.CALLER_SIGNATURE_MAX_AGE)


class MediaSettings(BrokerSettings):
    """Where attachment and data files live (svckit.blobstore)."""

    MEDIA_STORAGE: str = "local"
    MEDIA_ROOT: str | None = None
    S3_BUCKET: str = "inventree-media"
    S3_ENDPOINT_URL: str | None = None
    S3_REGION: str = "us-east-1"
    S3_ACCESS_KEY_ID: str | None = None
    S3_SECRET_ACCESS_KEY: str | None = None
    S3_PREFIX: str = ""

    def blob_store(self) -> BlobStore:
        """The store MEDIA_STORAGE names (the fields' defaults are blob_store_of's)."""
        return blob_store_of(lambda name, _default=None: getattr(self, name), self.data_dir)


class ServiceSettings(BrokerSettings):
    """What svckit reads for every service process: its queues and workers (svckit.run,
    svckit.broker), its dead letters (svckit.parking), how long it waits at start for its
    database and the broker (svckit.startup), its event relay, the limits of list searches
    (svckit.listing), how long it keeps idempotency keys (svckit.idempotency), its operations
    port (svckit.opsserver) and its database
    (`<SERVICE>_DATABASE_URL`, a field of the service's own class, and the timeouts of
    svckit.db)."""

    AMQP_QUEUE_TYPE: str = "classic"
    AMQP_DELIVERY_LIMIT: int = Field(default=5, ge=1)
    STARTUP_RETRY_MAX_SECONDS: float = Field(default=10.0, gt=0)
    DATABASE_CONNECT_TIMEOUT: float = Field(default=5.0, gt=0)
    DATABASE_STATEMENT_TIMEOUT: float = Field(default=60.0, ge=0)
    SERVICE_MAX_WORKERS: int = 10
    # seconds a service process drains after SIGTERM before it kills what still runs (svckit.run)
    SHUTDOWN_DRAIN_SECONDS: float = Field(default=20.0, gt=0)
    RELAY_COALESCE_SECONDS: float = 0.005
    # seconds an applied RPC's idempotency key and answer are kept (svckit.idempotency)
    IDEMPOTENCY_KEY_TTL: float = Field(default=86400.0, gt=0)
    SEARCH_MAX_TERMS: int = 20
    SEARCH_MAX_CHARS: int = 200
    # the operations port: /healthz, /readyz, /metrics (svckit.opsserver); 0: off
    METRICS_PORT: int = 0
    METRICS_HOST: str = "127.0.0.1"
    READYZ_TIMEOUT: float = 2.0

    @field_validator("AMQP_QUEUE_TYPE")
    @classmethod
    def _known_queue_type(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in QUEUE_TYPES:
            raise ValueError(f"AMQP_QUEUE_TYPE must be one of {', '.join(QUEUE_TYPES)}, "
                             f"not {value!r}")
        return value

    def database_url(self, service: str) -> str:
        """The service's own database: its `<SERVICE>_DATABASE_URL`, else an SQLite file in
        the data directory."""
        return (getattr(self, f"{service.upper()}_DATABASE_URL", None)
                or f"sqlite:///{self.data_dir() / (service + '.sqlite3')}")

    def search_limits(self) -> SearchLimits:
        return SearchLimits(self.SEARCH_MAX_TERMS, self.SEARCH_MAX_CHARS)


class IncomingSettings(MediaSettings):
    """Services that take uploads from the gateway's `incoming/` area (svckit.claimcheck)."""

    INCOMING_BLOB_SECONDS: int = 3600
