"""Where the project's parts are: its root and its services."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def service_names() -> list[str]:
    """Every package under services/ that has a models module."""
    return sorted(p.parent.name for p in (ROOT / "services").glob("*/models.py"))
