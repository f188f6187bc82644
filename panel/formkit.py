"""Pieces the feature forms share: text cleaned of control characters (newlines kept in long
text), a length (and presence) check with the services' limits, a GOV.UK textarea field, and
adding an error to a field after validation (when a service refuses)."""

from __future__ import annotations

from govuk_frontend_wtf.wtforms_widgets import GovTextArea
from wtforms import StringField
from wtforms.validators import ValidationError

from panel.referrals.rules import clean_text


def one_line(value: str | None) -> str:
    return clean_text(value)


def multiline(value: str | None) -> str:
    return clean_text(value, multiline=True)


class Limit:
    """Length (and optionally presence) of cleaned text."""

    def __init__(self, label: str, limit: int, *, required: str = "") -> None:
        self.label, self.limit, self.required = label, limit, required

    def __call__(self, form, field) -> None:
        text = field.data or ""
        if self.required and not text:
            raise ValidationError(self.required)
        if len(text) > self.limit:
            raise ValidationError(f"{self.label} must be {self.limit:,} characters or fewer")


def text_area(label: str, what: str, limit: int, *, required: str = "", hint: str = "") -> StringField:
    """A GOV.UK textarea whose text is cleaned and limited (`what` names it in messages)."""
    return StringField(label, widget=GovTextArea(), description=hint, filters=[multiline],
                       validators=[Limit(what, limit, required=required)])


def fail(field, message: str) -> None:
    """Add an error to a field after validation (a service refused the value)."""
    field.errors = [*field.errors, message]
