"""Where the project's parts are: its root, its services and their settings classes."""
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def service_names() -> list[str]:
    """Every package under services/ that has a models module."""
    return sorted(p.parent.name for p in (ROOT / "services").glob("*/models.py"))


def settings_class(service: str) -> type:
    """The settings class of a service's processes: `<Name>Settings` of
    `services/<name>/settings.py` (e.g. `services.status.settings.StatusSettings`)."""
    module = importlib.import_module(f"services.{service}.settings")
    return getattr(module, f"{service.capitalize()}Settings")
