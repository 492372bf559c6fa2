"""Typed settings, read once from the environment when a process starts.

A process declares one pydantic-settings class whose field names are the environment
variables it reads (`AMQP_URI`, `GATEWAY_MAX_BODY_BYTES`, ...), builds it once and passes it
to whatever needs a value. `lookups()` is what `/api/admin/config/` lists for it: each
variable, its config-file key, and whether it came from the environment or the default,
never the value. The groups below are what several processes read; a process's class
inherits the ones it needs.
"""
from datetime import datetime
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, PrivateAttr
from pydantic_settings import BaseSettings, SettingsConfigDict

from svckit import config
from svckit.blobstore import BlobStore, blob_store_of
from svckit.config_keys import config_key
from svckit.signing import CallerSigner, parse_keys

# a boolean as svckit.config reads one: "1", "true", "yes", "on" (any case); anything else false
Flag = Annotated[bool, BeforeValidator(config.truthy)]


class RecordedSettings(BaseSettings):
    """Settings that remember when they were read, for `/api/admin/config/`."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", frozen=True)

    _read_at: str = PrivateAttr(default_factory=lambda: datetime.now().isoformat())

    def lookups(self) -> list[dict]:
        """Every setting of this class, as `svckit.config.lookups()` lists what it read;
        `source` is "env" for a value that was given, "default" otherwise."""
        return [{"key": name, "env_var": name, "config_key": config_key(name),
                 "source": "env" if name in self.model_fields_set else "default",
                 "accessed": self._read_at}
                for name in type(self).model_fields]


class BrokerSettings(RecordedSettings):
    """RabbitMQ, RPC and the keys that sign caller contexts (svckit.signing)."""

    AMQP_URI: str = "amqp://guest:guest@127.0.0.1:5672/"
    RPC_TIMEOUT: float = 10.0
    INVENTREE_DATA_DIR: str = str(config.ROOT / "var")
    CALLER_SIGNING_KEYS: str = ""
    CALLER_SIGNATURE_MAX_AGE: float = 300.0
    LOG_LEVEL: str = "INFO"

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
