"""Cells of exported files that a spreadsheet would run as a formula, neutralised.

Text starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`;
numbers, and text that is only a number such as "-5", stay as they are (harmless, and
what a reader expects). Used by every export (the gateway's list exports, the audit
trail's CSV)."""
import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def safe(value):
    """`value`, with text a spreadsheet would evaluate turned into plain text."""
    if (isinstance(value, str) and value.startswith(FORMULA_STARTS)
            and not PLAIN_NUMBER.fullmatch(value)):
        return "'" + value
    return value
