"""What the operator's scripts under scripts/ read (`make run`, `make cluster`)."""
from svckit.layout import ROOT
from svckit.settings import RecordedSettings


class StackSettings(RecordedSettings):
    """scripts/run_stack.py: where the gateway of `make run` listens, and the format of its
    processes' logs (human lines unless the operator asks for JSON)."""

    GATEWAY_BIND: str = "127.0.0.1:8000"
    LOG_FORMAT: str = "text"


class ClusterSettings(RecordedSettings):
    """scripts/run_cluster.py: where `make cluster` keeps its data, and its port."""

    CLUSTER_DATA_DIR: str = str(ROOT / "var" / "cluster")
    CLUSTER_PORT: int = 8000
