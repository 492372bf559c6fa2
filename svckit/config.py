"""Configuration from environment variables, recording every key that was read.

The record (key, source, first access time) backs `/api/admin/config/`, which lists what was
read and where it came from, never the values.
"""
import os
import threading
from datetime import datetime
from pathlib import Path

from svckit.config_keys import config_key

ROOT = Path(__file__).resolve().parent.parent

_lock = threading.Lock()
_lookups: dict[str, dict] = {}


def setting(name: str, default=None, cast=str):
    """Read environment variable `name` (falling back to `default`) and record the lookup."""
    raw = os.environ.get(name)
    source = "env" if raw is not None else "default"
    with _lock:
        _lookups.setdefault(name, {"key": name, "env_var": name, "config_key": config_key(name),
                                   "source": source, "accessed": datetime.now().isoformat()})
    if raw is None:
        return default
    if cast is bool:
        return truthy(raw)
    return cast(raw)


def truthy(raw) -> bool:
    """A boolean setting's text: "1", "true", "yes" or "on" (any case) is true, the rest false."""
    return str(raw).strip().lower() in ("1", "true", "yes", "on")


def lookups() -> list[dict]:
    """Every configuration key read so far in this process, in first-access order."""
    with _lock:
        return [dict(v) for v in _lookups.values()]


def data_dir() -> Path:
    path = Path(setting("INVENTREE_DATA_DIR", str(ROOT / "var")))
    path.mkdir(parents=True, exist_ok=True)
    return path


def amqp_uri() -> str:
    return setting("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")


def database_url(service: str) -> str:
    """A service's own database: `<SERVICE>_DATABASE_URL`, else an SQLite file under var/."""
    default = f"sqlite:///{data_dir() / (service + '.sqlite3')}"
    return setting(f"{service.upper()}_DATABASE_URL", default)


def rpc_timeout() -> float:
    return setting("RPC_TIMEOUT", 10.0, float)
