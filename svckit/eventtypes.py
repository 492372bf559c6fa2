"""Event type patterns (`attachment.*`, `import_row.completed`, `*`): checked, matched and
turned into AMQP topic bindings. Webhook subscriptions (services/audit/webhooks.py) and
`python -m svckit.subscribe` share them.

Event types are `<stream>.<verb>` words of lowercase letters, digits and underscores. A
pattern is such a type with `*` standing for any run of characters (`attachment.*`,
`*.deleted`, `*`); matching is case-sensitive and whole-string."""
import re
from fnmatch import fnmatchcase

PATTERN = re.compile(r"^[a-z0-9_*]+(\.[a-z0-9_*]+)*$")
MAX_PATTERNS = 50
MAX_PATTERN_CHARS = 100


def pattern_problems(patterns) -> list[str]:
    """What is wrong with a list of patterns (empty list: nothing)."""
    if not isinstance(patterns, list) or not patterns:
        return ["Give a non-empty list of event type patterns, such as [\"attachment.*\"]."]
    if len(patterns) > MAX_PATTERNS:
        return [f"Give at most {MAX_PATTERNS} patterns."]
    problems = []
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern:
            problems.append("Each pattern must be a non-empty string.")
        elif len(pattern) > MAX_PATTERN_CHARS:
            problems.append(f"Pattern longer than {MAX_PATTERN_CHARS} characters.")
        elif not PATTERN.match(pattern):
            problems.append(f"{pattern!r} is not an event type pattern: words of lowercase "
                            "letters, digits, '_' and '*', joined by '.'.")
    return problems


def matches(patterns, type_: str) -> bool:
    """Whether an event type matches any of the patterns."""
    return any(fnmatchcase(type_, p) for p in patterns)


def topic_bindings(patterns) -> list[str]:
    """AMQP topic routing keys that receive at least every event a pattern matches (the
    relay routes by event type, svckit.relay): a word that is exactly `*` stays `*` (one
    word), any other pattern with a `*` in it becomes `#` (everything; `matches` filters)."""
    keys = []
    for pattern in patterns:
        words = pattern.split(".")
        if pattern == "*" or any("*" in w and w != "*" for w in words):
            return ["#"]
        keys.append(pattern)
    return list(dict.fromkeys(keys))
