"""Metadata endpoints (SEMANTICS §1.12): `{"metadata": {...}}`; PATCH merges, PUT replaces."""
from svckit.errors import ValidationFailed


def merged_metadata(current, body, partial: bool) -> dict:
    if not isinstance(body, dict) or "metadata" not in body:
        raise ValidationFailed({"metadata": ["This field is required."]})
    value = body["metadata"]
    if not isinstance(value, dict):
        raise ValidationFailed({"metadata": ["Metadata must be a python dict object"]})
    return {**(current or {}), **value} if partial else dict(value)
