"""Validators the feature forms share: length and presence of cleaned text, plain short text."""

from __future__ import annotations

import unicodedata

from wtforms.validators import ValidationError

from panel.forms.text import text_problem

# Characters that can reorder or hide text on screen (bidirectional overrides, zero-width).
_INVISIBLE = frozenset("\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")


class Limit:
    """Length (and optionally presence) of cleaned text, in the GOV.UK words.

    ``label`` names the text in messages ("the address" gives "Enter the address" and "The
    address must be 300 characters or fewer"). ``required`` is True for "Enter <label>", or the
    message itself when the form words it differently.
    """

    def __init__(self, label: str, limit: int, *, required: bool | str = False) -> None:
        self.label, self.limit, self.required = label, limit, required

    def __call__(self, form, field) -> None:
        text = field.data or ""
        if isinstance(self.required, str) and self.required and not text:
            raise ValidationError(self.required)
        problem = text_problem(text, self.label, self.limit, required=self.required is True)
        if problem:
            raise ValidationError(problem)


class PlainText:
    """Refuse control characters, invisible direction marks and angle brackets in short text."""

    def __init__(self, label: str) -> None:
        self.label = label

    def __call__(self, form, field) -> None:
        text = field.data or ""
        if any(unicodedata.category(ch) == "Cc" or ch in _INVISIBLE for ch in text):
            raise ValidationError(f"{self.label} must not include tabs, line breaks or other control characters")
        if "<" in text or ">" in text:
            raise ValidationError(f"{self.label} must not include the characters < or >")


def fail(field, message: str) -> None:
    """Add an error to a field after validation (a service refused the value)."""
    field.errors = [*field.errors, message]
