"""The text kit: submitted text cleaned of control characters, and the GOV.UK length and presence wording."""

from __future__ import annotations

import re

# Control characters, zero-width and bidirectional marks: they hide or reorder text on screen.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
# Line breaks other than \n: one-line text (and an email subject) must not carry them either.
_OTHER_BREAKS = str.maketrans({"\x85": " ", "\u2028": " ", "\u2029": " "})


def clean_text(value: str | None, *, multiline: bool = False) -> str:
    """Strip surrounding space and remove control characters (keeping newlines in long text)."""
    value = (value or "").replace("\r\n", "\n").replace("\r", "\n")
    if not multiline:
        value = value.replace("\n", " ").replace("\t", " ").translate(_OTHER_BREAKS)
    return _CONTROL.sub("", value).strip()


def one_line(value: str | None) -> str:
    """Short text as one line: line breaks and tabs become spaces (a WTForms filter)."""
    return clean_text(value)


def multiline(value: str | None) -> str:
    """Long text, its line breaks kept (a WTForms filter)."""
    return clean_text(value, multiline=True)


def strip_text(value: str | None) -> str:
    """Trim surrounding whitespace from a submitted text value (None becomes "")."""
    return (value or "").strip()


def lower_text(value: str | None) -> str:
    return (value or "").strip().lower()


def text_problem(value: str, label: str, limit: int, *, required: bool = False) -> str | None:
    """What is wrong with cleaned text, in GOV.UK words ("Enter the address"), or None."""
    if required and not value:
        return f"Enter {label}"
    if len(value) > limit:
        return f"{label[0].upper()}{label[1:]} must be {limit:,} characters or fewer"
    return None
