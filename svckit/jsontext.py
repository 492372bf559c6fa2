"""JSON text from clients, read as DRF's parser reads it (no NaN or Infinity) and at most
MAX_DEPTH levels deep: json's C parser recurses (a RecursionError, not a ValueError, past
Python's limit) and so does everything that walks the result afterwards."""
import json
import re

MAX_DEPTH = 64  # nesting levels of arrays and objects
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.S)  # a whole string, or a bracket


def _strict_constant(name):
    raise ValueError(f"Out of range float values are not JSON compliant: {name}")


def check_depth(raw: bytes, limit: int = MAX_DEPTH):
    """ValueError when arrays and objects nest deeper than `limit` (brackets inside strings
    do not count); checked before parsing, in one pass without recursion."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return
    depth = 0
    for match in _TOKENS.finditer(raw):
        char = match.group()
        if char in (b"[", b"{"):
            depth += 1
            if depth > limit:
                raise ValueError(f"Nesting deeper than {limit} levels")
        elif char in (b"]", b"}"):
            depth -= 1


def without_nul(data):
    """`data` with every null character removed from its strings and keys (PostgreSQL can
    store none; CleanMixin strips them from most strings anyway)."""
    if isinstance(data, str):
        return data.replace("\x00", "")
    if isinstance(data, list):
        return [without_nul(v) for v in data]
    if isinstance(data, dict):
        return {without_nul(k): without_nul(v) for k, v in data.items()}
    return data


def loads(text: str | bytes):
    """`json.loads` that raises only ValueError (UnicodeDecodeError is one) for bad input;
    null characters (`\\u0000`) are removed from the result."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    check_depth(raw)
    try:
        data = json.loads(text, parse_constant=_strict_constant)
    except RecursionError:  # cannot happen within MAX_DEPTH; kept as a last guard
        raise ValueError(f"Nesting deeper than {MAX_DEPTH} levels")
    return without_nul(data) if b"\\u0000" in raw else data
