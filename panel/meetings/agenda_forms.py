"""Forms for preparing a panel: an item of the coordinator's own, a time box, moving and
cancelling the panel, and the plain buttons (reorder, publish) that only need a CSRF token.

Text is cleaned of control characters and length-limited; HTML is kept as typed and escaped
when shown. Numbers and times are parsed here, so anything typed gets a GOV.UK message, never
a 500, and the page shows back what was typed.
"""

from __future__ import annotations

from datetime import datetime, time

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextArea, GovTextInput
from wtforms import StringField, SubmitField
from wtforms.validators import ValidationError

from panel.dates import SkippedTime, london_to_utc, parse_time
from panel.forms.fields import GovukDateField
from panel.forms.text import multiline, one_line, text_problem
from panel.forms.validators import Limit, PlainText, fail as _fail
from panel.meetings.mdt import LOCATION_MAX, URL_MAX, url_problem

TITLE_MAX = 200
REASON_MAX = 500
MINUTES_MAX = 180


class Text:
    """Presence and length of cleaned text, in the GOV.UK words."""

    def __init__(self, label: str, limit: int) -> None:
        self.label, self.limit = label, limit

    def __call__(self, form, field) -> None:
        problem = text_problem(field.data or "", self.label, self.limit, required=True)
        if problem:
            raise ValidationError(problem)


class Minutes:
    """A whole number of minutes, 1 to 180; the parsed number is left in field.minutes."""

    def __call__(self, form, field) -> None:
        text = (field.data or "").strip()
        field.minutes = None
        if not text:
            raise ValidationError("Enter the time box in minutes")
        if not text.isascii() or not text.isdigit() or len(text) > 4:
            raise ValidationError("The time box must be a whole number of minutes, like 15")
        value = int(text)
        if not 1 <= value <= MINUTES_MAX:
            raise ValidationError(f"The time box must be between 1 and {MINUTES_MAX} minutes")
        field.minutes = value


def _minutes_field(label: str = "Time box") -> StringField:
    return StringField(label, widget=GovTextInput(), filters=[one_line], validators=[Minutes()],
                       description=f"In minutes, from 1 to {MINUTES_MAX}.")


class ButtonForm(FlaskForm):
    """A button that changes something: only the CSRF token is checked."""


class AddItemForm(FlaskForm):
    title = StringField("Title of the item", widget=GovTextInput(), filters=[one_line],
                        validators=[Text("the title of the item", TITLE_MAX)],
                        description="Shown on the agenda SPoCs are sent, so do not include anyone’s name or "
                                    "other personal details.")
    minutes = _minutes_field()
    submit = SubmitField("Add the item", widget=GovSubmitInput())


class TimeBoxForm(FlaskForm):
    minutes = _minutes_field()
    submit = SubmitField("Save the time box", widget=GovSubmitInput())


class MovePanelForm(FlaskForm):
    """A new date with start and end times (UK time), and the reason."""

    new_date = GovukDateField("New date", noun="The new date", description="For example, 17 3 2027")
    start_time = StringField("Start time", widget=GovTextInput(), filters=[one_line],
                             description="Use the 24-hour clock, UK time, for example 10:00")
    end_time = StringField("End time", widget=GovTextInput(), filters=[one_line],
                           description="Use the 24-hour clock, UK time, for example 12:30")
    reason = StringField("Reason for moving the panel", widget=GovTextArea(), filters=[multiline],
                         validators=[Text("the reason for moving the panel", REASON_MAX)],
                         description="Kept with the panel’s record. The email to attendees gives only the new date "
                                     "and a link.")
    submit = SubmitField("Move the panel", widget=GovSubmitInput())

    starts_at: datetime | None = None
    ends_at: datetime | None = None

    def _time(self, field, what: str) -> time | None:
        text = field.data or ""
        if not text:
            _fail(field, f"Enter the {what} time")
            return None
        parsed = parse_time(text) if len(text) <= 10 else None
        if parsed is None:
            _fail(field, f"Enter a real {what} time, like {'10:00' if what == 'start' else '12:30'}")
        return parsed

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if not self.new_date.errors and self.new_date.data is None:
            _fail(self.new_date, "Enter the new date")
        start = self._time(self.start_time, "start")
        end = self._time(self.end_time, "end")
        day = self.new_date.data
        if day is not None and start is not None and end is not None:
            if end <= start:
                _fail(self.end_time, "The end time must be after the start time")
            else:
                try:
                    self.starts_at = london_to_utc(day, start)
                except SkippedTime as exc:
                    _fail(self.start_time, str(exc))
                try:
                    self.ends_at = london_to_utc(day, end)
                except SkippedTime as exc:
                    _fail(self.end_time, str(exc))
        return ok and not self.errors


class CancelPanelForm(FlaskForm):
    reason = StringField("Reason for cancelling the panel", widget=GovTextArea(), filters=[multiline],
                         validators=[Text("the reason for cancelling the panel", REASON_MAX)],
                         description="Kept with the panel’s record. The email to attendees gives only the date "
                                     "and a link.")
    submit = SubmitField("Cancel the panel", widget=GovSubmitInput())


class PanelPlaceForm(FlaskForm):
    """Where a panel meets: a place, an online link, or both (the service checks them again)."""

    location = StringField("Place (optional if there is an online link)", widget=GovTextInput(), filters=[one_line],
                           validators=[Limit("The place", LOCATION_MAX), PlainText("The place")],
                           description="A building and room. It goes in the calendar invitations.")
    online_url = StringField("Online meeting link (optional)", widget=GovTextInput(), filters=[one_line],
                             validators=[Limit("The online link", URL_MAX)],
                             description="A full address starting with https://. It goes in the calendar "
                                         "invitations.")
    submit = SubmitField("Save the place", widget=GovSubmitInput())

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if not self.online_url.errors and self.online_url.data and (problem := url_problem(self.online_url.data)):
            _fail(self.online_url, problem)
        if not self.errors and not self.location.data and not self.online_url.data:
            _fail(self.location, "Enter where the panel will be, an online link, or both")
        return ok and not self.errors
