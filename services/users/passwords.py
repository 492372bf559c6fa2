"""Password hashing (PBKDF2-SHA256 in Django's encoded format) and Django's usual checks."""
import base64
import hashlib
import hmac
import secrets

from svckit import config

ALGORITHM = "pbkdf2_sha256"


def iterations() -> int:
    return config.setting("PASSWORD_ITERATIONS", 600_000, int)


def hash_password(password: str, salt: str | None = None, rounds: int | None = None) -> str:
    salt = salt or secrets.token_hex(11)
    rounds = rounds or iterations()
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), rounds)
    return f"{ALGORITHM}${rounds}${salt}${base64.b64encode(digest).decode()}"


def check_password(password: str, encoded: str | None) -> bool:
    if not encoded or encoded.count("$") != 3:
        return False
    algorithm, rounds, salt, _ = encoded.split("$")
    if algorithm != ALGORITHM:
        return False
    return hmac.compare_digest(hash_password(password, salt, int(rounds)), encoded)


COMMON = {"password", "123456", "12345678", "123456789", "qwerty", "abc123", "password1",
          "111111", "iloveyou", "admin", "letmein", "welcome", "monkey", "dragon", "inventree",
          "qwertyuiop", "passw0rd", "1234567890", "changeme", "secret123"}


def validate_password(password: str, username: str = "") -> list[str]:
    """Django's default validators' messages (length 8, common, numeric, like the username)."""
    problems = []
    if username and len(username) >= 3 and username.lower() in password.lower():
        problems.append("The password is too similar to the username.")
    if len(password) < 8:
        problems.append("This password is too short. It must contain at least 8 characters.")
    if password.lower().strip() in COMMON:
        problems.append("This password is too common.")
    if password.isdigit():
        problems.append("This password is entirely numeric.")
    return problems
