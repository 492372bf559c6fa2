"""Password hashing (PBKDF2-SHA256 in Django's encoded format) and Django's usual checks."""
import base64
import gzip
import hashlib
import hmac
import re
import secrets
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path

ALGORITHM = "pbkdf2_sha256"


def hash_password(password: str, rounds: int, salt: str | None = None) -> str:
    """The encoded hash of `password` with `rounds` PBKDF2 rounds (PASSWORD_ITERATIONS for
    a new one)."""
    salt = salt or secrets.token_hex(11)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), rounds)
    return f"{ALGORITHM}${rounds}${salt}${base64.b64encode(digest).decode()}"


def check_password(password: str, encoded: str | None) -> bool:
    if not encoded or encoded.count("$") != 3:
        return False
    algorithm, rounds, salt, _ = encoded.split("$")
    if algorithm != ALGORITHM:
        return False
    return hmac.compare_digest(hash_password(password, int(rounds), salt), encoded)


COMMON_FILE = Path(__file__).resolve().parent / "data" / "common-passwords.txt.gz"


@lru_cache(maxsize=1)
def common_passwords() -> frozenset:
    """Django 4.2's list of 20,000 common passwords (django/contrib/auth, BSD licence)."""
    return frozenset(gzip.decompress(COMMON_FILE.read_bytes()).decode().split())


def _exceeds_length_ratio(password: str, max_similarity: float, value: str) -> bool:
    pwd_len = len(password)
    return pwd_len >= 10 * len(value) and len(value) < max_similarity / 2 * pwd_len


def _too_similar(password: str, attributes: dict) -> str | None:
    """Django's UserAttributeSimilarityValidator (similarity 0.7)."""
    password = password.lower()
    for label, value in attributes.items():
        if not value or not isinstance(value, str):
            continue
        value = value.lower()
        for part in re.split(r"\W+", value) + [value]:
            if _exceeds_length_ratio(password, 0.7, part):
                continue
            matcher = SequenceMatcher(a=password, b=part)
            if matcher.quick_ratio() >= 0.7 and matcher.ratio() >= 0.7:
                return f"The password is too similar to the {label}."
    return None


def validate_password(password: str, username: str = "", first_name: str = "",
                      last_name: str = "", email: str = "") -> list[str]:
    """Django's default validators and messages: similarity to the user's attributes,
    length 8, common, entirely numeric."""
    problems = []
    similar = _too_similar(password, {"username": username, "first name": first_name,
                                      "last name": last_name, "email address": email})
    if similar:
        problems.append(similar)
    if len(password) < 8:
        problems.append("This password is too short. It must contain at least 8 characters.")
    if password.lower().strip() in common_passwords():
        problems.append("This password is too common.")
    if password.isdigit():
        problems.append("This password is entirely numeric.")
    return problems
