"""Secret keys (API tokens, session cookies, login links) are stored only as hashes."""
import hashlib


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
