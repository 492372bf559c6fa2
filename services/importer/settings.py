"""Every setting an importer service process reads (README, "Configuration")."""
from datetime import timedelta

from svckit.settings import IncomingSettings, ServiceSettings, comma_list

from .datafile import Limits
from .scanner import Budget


class ImporterSettings(ServiceSettings, IncomingSettings):
    IMPORTER_DATABASE_URL: str | None = None
    # data files (services.importer.datafile) and their scans (services.importer.scanner)
    IMPORT_MAX_ROWS: int = 5000000
    IMPORT_MAX_COLUMNS: int = 1000
    IMPORT_MAX_CELL_CHARS: int = 65536
    IMPORT_MAX_JSON_DEPTH: int = 32
    IMPORT_MAX_SHARED_STRINGS: int = 250000
    IMPORT_SCAN_MEMORY_MB: int = 1024
    IMPORT_SCAN_SECONDS: float = 240
    IMPORT_SCAN_PROCESSES: int = 4
    # target services (services.importer.targets)
    IMPORT_TARGET_SERVICES: str = "status,system"
    IMPORT_TARGET_TIMEOUT: float = 60
    IMPORT_TARGET_PROBE_TIMEOUT: float = 3
    IMPORT_TARGETS_CACHE_SECONDS: float = 30
    # background work (services.importer.processing) and housekeeping
    IMPORT_BATCH_ROWS: int = 1000
    IMPORT_CREATE_BATCH_ROWS: int = 200
    IMPORT_ACCEPT_WAIT_SECONDS: float = 5
    IMPORT_LEASE_SECONDS: float = 30
    IMPORT_POLL_SECONDS: float = 2
    IMPORT_SESSION_DAYS: int = 5
    IMPORT_SWEEP_SECONDS: int = 3600

    def limits(self) -> Limits:
        return Limits(max_rows=self.IMPORT_MAX_ROWS, max_columns=self.IMPORT_MAX_COLUMNS,
                      max_cell_chars=self.IMPORT_MAX_CELL_CHARS,
                      max_json_depth=self.IMPORT_MAX_JSON_DEPTH,
                      max_shared_strings=self.IMPORT_MAX_SHARED_STRINGS)

    def budget(self) -> Budget:
        return Budget(memory_mb=self.IMPORT_SCAN_MEMORY_MB, seconds=self.IMPORT_SCAN_SECONDS,
                      processes=self.IMPORT_SCAN_PROCESSES)

    def target_services(self) -> list[str]:
        return comma_list(self.IMPORT_TARGET_SERVICES)

    def lease(self) -> timedelta:
        return timedelta(seconds=self.IMPORT_LEASE_SECONDS)
