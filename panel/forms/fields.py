"""Fields the feature forms share: the GOV.UK date input, a select's optional id, a cleaned textarea."""

from __future__ import annotations

import re
from datetime import date

from govuk_frontend_wtf.wtforms_widgets import GovDateInput, GovTextArea
from wtforms import DateField, StringField

from panel.forms.text import multiline
from panel.forms.validators import Limit

_DAY_MONTH = re.compile(r"[0-9]{1,2}")
_YEAR = re.compile(r"[0-9]{4}")
_PARTS = ("day", "month", "year")


class GovukDateField(DateField):
    """A day, month and year date (GOV.UK date input, three boxes sharing one name), optional.

    All three boxes empty gives None; the form decides whether the date is needed. ``noun`` is
    how messages name the date, e.g. "Date the ISA was signed" (the label when not given).

    ``query=True`` is for a filter read from the query string, where a page has two dates
    ("Date from", "Date to"): a single ISO date is accepted too, so hand-made links work
    (``?from=2027-01-14``); anything but one value or three boxes is not a date; the year
    message names the date; any year is allowed. Otherwise a date is between 1990 and 2200.
    """

    widget = GovDateInput()

    def __init__(self, label=None, validators=None, *, noun: str | None = None, query: bool = False, **kwargs):
        super().__init__(label, validators, format="%d %m %Y", **kwargs)
        self.noun = noun or self.label.text
        self.query = query

    def process_formdata(self, valuelist):
        values = [str(v).strip() for v in valuelist]
        self.data = None
        if self.query and len(values) == 1 and values[0]:
            self._from_iso(values[0])
            return
        if self.query and len(values) != 3:
            self.raw_data = ["", "", ""]  # the widget shows exactly three boxes, whatever was sent
            if any(values):
                raise ValueError(f"{self.noun} must be a real date")
            return
        parts = [v[:10] for v in values[:3]]
        parts += [""] * (3 - len(parts))
        self.raw_data = parts
        day, month, year = parts
        if not (day or month or year):
            return
        missing = [name for name, value in zip(_PARTS, parts, strict=True) if not value]
        if missing:
            # Both wordings are GOV.UK's; the filter keeps the Design System's shorter one.
            joiner = " and " if self.query else " and a "
            raise ValueError(f"{self.noun} must include a {joiner.join(missing)}")
        if not _DAY_MONTH.fullmatch(day) or not _DAY_MONTH.fullmatch(month):
            raise ValueError(f"{self.noun} must be a real date")
        if not _YEAR.fullmatch(year):
            if self.query:
                raise ValueError(f"Year in {self.noun.lower()} must include 4 numbers")
            raise ValueError("Year must include 4 numbers")
        try:
            self.data = date(int(year), int(month), int(day))
        except ValueError:
            raise ValueError(f"{self.noun} must be a real date") from None
        if not self.query and not 1990 <= self.data.year <= 2200:
            self.data = None
            raise ValueError(f"{self.noun} must be a real date")

    def _from_iso(self, value: str) -> None:
        try:
            self.data = date.fromisoformat(value)
        except ValueError:
            self.raw_data = [value[:10], "", ""]
            raise ValueError(f"{self.noun} must be a real date") from None
        self.raw_data = [str(self.data.day), str(self.data.month), str(self.data.year)]


def optional_int(value) -> int | None:
    """Coerce a select's value: "" means none chosen; anything else must be a whole number."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise ValueError("not an id")
    return int(text)


def text_area(label: str, what: str, limit: int, *, required: bool | str = "", hint: str = "") -> StringField:
    """A GOV.UK textarea whose text is cleaned and limited (`what` names it in messages)."""
    return StringField(label, widget=GovTextArea(), description=hint, filters=[multiline],
                       validators=[Limit(what, limit, required=required)])
