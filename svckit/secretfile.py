"""A secret generated once into a file that processes starting together share."""
import os
import secrets
from pathlib import Path


def shared_secret(path: Path) -> str:
    """The secret in `path`, created (32 random bytes, hex, mode 0600) if missing. Creation is
    atomic: of processes starting at the same moment, the first link wins and every one
    reads the winner's secret."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        tmp.write_text(secrets.token_hex(32))
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # fails if another process made it first: theirs wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()
