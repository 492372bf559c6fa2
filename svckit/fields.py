"""Field descriptions in DRF's OPTIONS metadata shape (SEMANTICS §1.10).

A service lists its resource's fields once; the same description answers OPTIONS (through
the gateway) and the import-target protocol's `describe` call.
"""
import re
from dataclasses import dataclass, field as dc_field
from typing import Any


@dataclass
class Field:
    type: str
    label: str
    help_text: str = ""
    required: bool = False
    read_only: bool = False
    max_length: int | None = None
    min_value: int | None = None
    max_value: int | None = None
    choices: list | None = None  # [(value, display_name)]
    default: object = None
    model: str | None = None
    api_url: str | None = None
    extra: dict = dc_field(default_factory=dict)

    def meta(self) -> dict:
        info = {"type": self.type, "required": self.required, "read_only": self.read_only,
                "label": self.label}
        if self.help_text:
            info["help_text"] = self.help_text
        for key in ("max_length", "min_value", "max_value"):
            value = getattr(self, key)
            if value is not None:
                info[key] = value
        if self.default is not None:
            info["default"] = self.default
        if self.choices is not None:
            info["choices"] = [{"value": v, "display_name": d} for v, d in self.choices]
        if self.model:
            info["model"] = self.model
            info["api_url"] = self.api_url
            info["pk_field"] = "pk"
        info.update(self.extra)
        return info


def describe(fields: dict[str, Field], *, writable_only=False) -> dict:
    return {name: f.meta() for name, f in fields.items()
            if not (writable_only and f.read_only)}


def options_document(name: str, description: str, fields: dict[str, Field],
                     methods: list[str], model: str | None = None) -> dict:
    """The body of an OPTIONS answer; `methods` are the write methods the caller may use."""
    doc: dict[str, Any] = {"name": name, "description": description,
                           "renders": ["application/json"],
                           "parses": ["application/json", "application/x-www-form-urlencoded",
                                      "multipart/form-data"]}
    actions = {m: describe(fields) for m in methods}
    if actions:
        doc["actions"] = actions
    if model:
        doc["model"] = model
    return doc


_REQUIRED = "This field is required."
INT32_MIN, INT32_MAX = -2**31, 2**31 - 1  # Django's IntegerField range (our Integer columns)
_PK = re.compile(r"-?[0-9]+")


def _as_int(value, name):
    if isinstance(value, bool):
        raise ValueError("A valid integer is required.")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip()
    if text.endswith(".0"):
        text = text[:-2]
    try:
        return int(text)
    except ValueError:
        if len(text) > 1000:
            raise ValueError("String value too large.")
        raise ValueError("A valid integer is required.")


def _clean_value(f: Field, value):
    """DRF's field-level conversion; raises ValueError with DRF's message."""
    if value is None:
        if f.extra.get("allow_null"):
            return None
        raise ValueError("This field may not be null.")
    if f.type == "integer":
        number = _as_int(value, f.label)
        low = INT32_MIN if f.min_value is None else f.min_value
        high = INT32_MAX if f.max_value is None else f.max_value
        if number < low:
            raise ValueError(f"Ensure this value is greater than or equal to {low}.")
        if number > high:
            raise ValueError(f"Ensure this value is less than or equal to {high}.")
        return number
    if f.type == "related field":
        text = str(value).strip()
        if isinstance(value, (bool, list, dict, float)) or (
                isinstance(value, str) and not _PK.fullmatch(text)):
            raise ValueError(f"Incorrect type. Expected pk value, received {type(value).__name__}.")
        if len(text) > 20 or not INT32_MIN <= int(text) <= INT32_MAX:  # no such row can exist
            raise ValueError(f'Invalid pk "{text[:40]}" - object does not exist.')
        return int(text)
    if f.type == "boolean":
        text = str(value).strip().lower()
        if value is True or text in ("true", "1", "yes", "on", "y", "t"):
            return True
        if value is False or text in ("false", "0", "no", "off", "n", "f", ""):
            return False
        raise ValueError("Must be a valid boolean.")
    if f.type == "choice":
        for choice, _ in f.choices or ():
            if str(value) == str(choice):
                return choice
        raise ValueError(f'"{value}" is not a valid choice.')
    if f.type == "string":
        if isinstance(value, (dict, list, bool)):
            raise ValueError("Not a valid string.")
        text = str(value).strip()
        if not text and not f.extra.get("allow_blank"):
            raise ValueError("This field may not be blank.")
        if f.max_length is not None and len(text) > f.max_length:
            raise ValueError(f"Ensure this field has no more than {f.max_length} characters.")
        return text
    return value


def validate(fields: dict[str, Field], data, *, partial=False) -> dict:
    """Check a request body against the writable fields, as a DRF serializer does: unknown
    and read-only keys are ignored, every field error is collected, then raised together."""
    from svckit.errors import ValidationFailed
    if not isinstance(data, dict):
        raise ValidationFailed({"non_field_errors": [
            f"Invalid data. Expected a dictionary, but got {type(data).__name__}."]})
    cleaned, errors = {}, {}
    for name, f in fields.items():
        if f.read_only:
            continue
        if name not in data:
            if not partial:
                if f.required:
                    errors[name] = [_REQUIRED]
                elif f.default is not None:
                    cleaned[name] = f.default
            continue
        try:
            cleaned[name] = _clean_value(f, data[name])
        except ValueError as exc:
            errors[name] = [str(exc)]
    if errors:
        raise ValidationFailed(errors)
    return cleaned
