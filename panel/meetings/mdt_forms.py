"""Forms for case MDTs: scheduling (date, times, place, purpose, who to invite), changing the
details, the attendee list and replies, cancelling, and the notes with decisions and actions.

Times are typed as 24-hour UK (Europe/London) times and turned into UTC by the form, which
also checks what the service will check (end after start, not in the past, a plain https://
link, the place or a link), so each message lands on its field; the service checks again and
the view puts anything it raises on the field it names. Text is cleaned of control
characters; names, places and emails refuse angle brackets; everything typed is kept when the
form is shown again with its errors.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import RadioField, SelectChoice, SelectField, SelectMultipleField, StringField, SubmitField

from panel.actions.services import DESCRIPTION_MAX
from panel.dates import LONDON, SkippedTime, london_to_utc, parse_time
from panel.forms.fields import GovukDateField, optional_int, text_area as _area
from panel.forms.text import clean_text, one_line
from panel.forms.validators import Limit, PlainText, fail as _fail
from panel.meetings import mdt
from panel.meetings.invitations import EMAIL_MAX, NAME_MAX, Person
from panel.models import Agency, AttendeeResponse, MeetingAttendee, RiskLevel, User

EXTERNAL_ROWS = 3
_EMAIL = re.compile(r"[^@\s<>\",;:()\[\]\\]+@[^@\s<>\",;:()\[\]\\]+\.[^@\s<>\",;:()\[\]\\.]+")


def lower_email(value: str | None) -> str:
    return clean_text(value).lower()


def _text(label: str, what: str, limit: int, *, hint: str = "", filters=(one_line,), plain: bool = True) -> StringField:
    validators = [Limit(what, limit)] + ([PlainText(what)] if plain else [])
    return StringField(label, widget=GovTextInput(), description=hint, filters=list(filters), validators=validators)


def email_problem(email: str) -> str | None:
    if len(email) > EMAIL_MAX or not _EMAIL.fullmatch(email):
        return "Enter an email address in the correct format, like name@example.gov.uk"
    return None


# ---- the date, times and place ------------------------------------------------------------------


class DetailsForm(FlaskForm):
    """When and where the MDT is, and what it is for."""

    day = GovukDateField("Date", noun="Date of the MDT", description="For example, 27 3 2027")
    start = _text("Start time", "Start time", 10, hint="Use the 24-hour clock, UK time, for example 14:00")
    end = _text("End time", "End time", 10, hint="For example, 15:30")
    location = _text("Place (optional if there is an online link)", "The place", mdt.LOCATION_MAX,
                     hint="A building and room. It goes in the calendar invitation, so do not write the "
                          "person’s name or address.")
    online_url = _text("Online meeting link (optional)", "The online link", mdt.URL_MAX, plain=False,
                       hint="A full address starting with https://. It goes in the calendar invitation.")
    purpose = _area("Purpose of the MDT", "The purpose", mdt.PURPOSE_MAX, required="Enter the purpose of the MDT",
                    hint="What the meeting needs to decide. Only people who can see this case read it: it is "
                         "not put in the invitations.")

    def __init__(self, *args, now: datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now
        self.starts_at: datetime | None = None
        self.ends_at: datetime | None = None

    def times(self) -> tuple[date, time, time] | None:
        if self.day.data is None or self.starts_at is None:
            return None
        return self.day.data, parse_time(self.start.data), parse_time(self.end.data)

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        self._check_day()
        start, end = self._time(self.start, "start"), self._time(self.end, "end")
        if start and end and not self.day.errors and self.day.data is not None:
            self._check_instants(start, end)
        self._check_place()
        ok = ok and not self.errors
        if not ok:
            self.starts_at = self.ends_at = None
        return ok

    def _check_day(self) -> None:
        day = self.day
        if not day.errors:
            if day.data is None:
                _fail(day, "Enter the date of the MDT")
            elif day.data < self.now.astimezone(LONDON).date():
                _fail(day, "Date of the MDT must be today or in the future")

    @staticmethod
    def _time(field: StringField, name: str) -> time | None:
        """The start or end time as typed, or None (with the error on the field)."""
        if field.errors:
            return None
        if not field.data:
            _fail(field, f"Enter the {name} time")
            return None
        at = parse_time(field.data)
        if at is None:
            _fail(field, f"Enter a real {name} time, like {'14:00' if name == 'start' else '15:30'}")
        return at

    def _check_instants(self, start: time, end: time) -> None:
        """The London wall-clock times as instants: real (not skipped by the clocks going forward),
        the end after the start, the start still to come."""
        for field, name, at in ((self.start, "start", start), (self.end, "end", end)):
            try:
                setattr(self, f"{name}s_at", london_to_utc(self.day.data, at))
            except SkippedTime as skipped:
                _fail(field, f"Enter a real {name} time: {skipped}")
        if self.starts_at is not None and self.ends_at is not None:
            if self.ends_at <= self.starts_at:
                _fail(self.end, "The end time must be after the start time")
            elif self.starts_at <= self.now:
                _fail(self.start, "The start time has passed: enter a later time or another date")

    def _check_place(self) -> None:
        if not self.online_url.errors and self.online_url.data and (problem := mdt.url_problem(self.online_url.data)):
            _fail(self.online_url, problem)
        if not self.location.errors and not self.online_url.errors and not self.location.data \
                and not self.online_url.data:
            _fail(self.location, "Enter where the MDT will be, an online link, or both")


# ---- who to invite ---------------------------------------------------------------------------------


class ExternalRows:
    """Up to EXTERNAL_ROWS people from outside the service: name, agency and email, all three
    or none. Mixed into a form with `external_rows` set; fields ext<n>_name, _agency, _email."""

    external_rows = EXTERNAL_ROWS

    def external_fields(self, n: int):
        return (getattr(self, f"ext{n}_name"), getattr(self, f"ext{n}_agency"), getattr(self, f"ext{n}_email"))

    def check_externals(self, taken: set[str]) -> list[Person]:
        """The filled-in rows as people; errors on the fields of a row that is half filled, has a
        bad email, or repeats someone (in `taken`, the emails already chosen or invited)."""
        people = []
        for n in range(1, self.external_rows + 1):
            name, agency, email = self.external_fields(n)
            if not (name.data or agency.data or email.data):
                continue
            if any(f.errors for f in (name, agency, email)):
                continue
            label = f"external attendee {n}" if self.external_rows > 1 else "the external attendee"
            if not name.data:
                _fail(name, f"Enter the name of {label}")
            if not agency.data:
                _fail(agency, f"Enter the agency or organisation of {label}")
            if not email.data:
                _fail(email, f"Enter the email address of {label}")
            elif problem := email_problem(email.data):
                _fail(email, f"{problem} (for {label})")
            elif email.data in taken:
                _fail(email, f"{email.data} is already on the list: remove the repeat (for {label})")
            if name.errors or agency.errors or email.errors:
                continue
            taken.add(email.data)
            people.append(Person(email=email.data, name=name.data, agency_name=agency.data))
        return people


def _add_external_fields(form_class: type, rows: int) -> type:
    for n in range(1, rows + 1):
        setattr(form_class, f"ext{n}_name", _text("Name", "The name", NAME_MAX))
        setattr(form_class, f"ext{n}_agency", _text("Agency or organisation", "The agency or organisation", NAME_MAX))
        setattr(form_class, f"ext{n}_email", _text("Email address", "The email address", EMAIL_MAX,
                                                   filters=(lower_email,)))
    return form_class


def _user_id(value) -> int:
    text = str(value)
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise ValueError("not a person")
    return int(text)


def _users_field(label: str, hint: str) -> SelectMultipleField:
    return SelectMultipleField(label, widget=GovCheckboxesInput(), coerce=_user_id, description=hint,
                               invalid_choice_message="Select people from the list",
                               invalid_value_message="Select people from the list")


class ScheduleForm(ExternalRows, DetailsForm):
    users = _users_field("Who to invite from the involved agencies",
                         "Each agency’s SPoC and the named workers who have an account. Select all that apply.")
    submit = SubmitField("Schedule the MDT and send the invitations", widget=GovSubmitInput())

    def __init__(self, *args, invitable: list[mdt.Invitable], now: datetime, **kwargs):
        super().__init__(*args, now=now, **kwargs)
        self.invitable = {i.user.id: i for i in invitable}
        self.users.choices = [SelectChoice(str(i.user.id), i.label) for i in invitable]
        self.people: list[Person] = []

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        chosen = [self.invitable[i].user for i in (self.users.data or []) if i in self.invitable] \
            if not self.users.errors else []
        taken = {u.email.lower() for u in chosen}
        externals = self.check_externals(taken)
        self.people = [Person.of(u) for u in chosen] + externals
        if not self.users.errors and not self.people and not any(
                f.errors for n in range(1, self.external_rows + 1) for f in self.external_fields(n)):
            _fail(self.users, "Choose at least one person to invite, or enter an external attendee’s details")
        return ok and not self.errors


_add_external_fields(ScheduleForm, EXTERNAL_ROWS)


class RescheduleForm(DetailsForm):
    submit = SubmitField("Save the changes", widget=GovSubmitInput())


class AddAttendeesForm(ExternalRows, FlaskForm):
    external_rows = 1
    users = _users_field("Invite people from the involved agencies",
                         "Those not invited yet. Select all that apply.")
    add = SubmitField("Invite and send the invitations", widget=GovSubmitInput())

    def __init__(self, *args, invitable: list[mdt.Invitable], invited: set[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.invited = invited
        available = [i for i in invitable if i.user.email.lower() not in invited]
        self.invitable = {i.user.id: i for i in available}
        self.users.choices = [SelectChoice(str(i.user.id), i.label) for i in available]
        self.people: list[Person] = []

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        chosen = [self.invitable[i].user for i in (self.users.data or []) if i in self.invitable] \
            if not self.users.errors else []
        taken = set(self.invited) | {u.email.lower() for u in chosen}
        self.people = [Person.of(u) for u in chosen] + self.check_externals(taken)
        name, agency, email = self.external_fields(1)
        if not self.errors and not self.people:
            _fail(self.users if self.users.choices else name,
                  "Choose someone to invite, or enter an external attendee’s details")
        return ok and not self.errors


_add_external_fields(AddAttendeesForm, 1)


def replies_form(attendees: list[MeetingAttendee], formdata=None) -> FlaskForm:
    """One select per person on the list: their reply (no reply yet, attending, not attending,
    tentative). Field names are reply_<attendee id>."""

    class RepliesForm(FlaskForm):
        save_replies = SubmitField("Save the replies", widget=GovSubmitInput())

    choices = [SelectChoice(r.value, r.label) for r in AttendeeResponse]
    for attendee in attendees:
        setattr(RepliesForm, f"reply_{attendee.id}", SelectField(
            f"Reply from {attendee.name}", widget=GovSelect(), choices=choices, default=attendee.response.value,
            # bandit B608: a message, not SQL
            invalid_choice_message=f"Select the reply from {attendee.name} from the list",  # nosec B608
            # bandit B608: a message
            invalid_value_message=f"Select the reply from {attendee.name} from the list"))  # nosec B608
        # no InputRequired: its "required" attribute on a select whose first option is a real
        # reply is invalid HTML; a missing or unknown value already fails as not a choice
    return RepliesForm(formdata=formdata)


class CancelForm(FlaskForm):
    reason = _area("Why is the MDT cancelled?", "The reason", mdt.REASON_MAX, required="Enter why the MDT is cancelled",
                   hint="Kept with the case. The invitations say only that the meeting is cancelled.")
    submit = SubmitField("Cancel the MDT and tell the attendees", widget=GovSubmitInput())


# ---- notes, decisions and actions ------------------------------------------------------------------


def _level(value) -> RiskLevel | None:
    if value is None or value == "" or isinstance(value, RiskLevel):
        return value or None
    return RiskLevel(str(value))


class NotesForm(FlaskForm):
    notes = _area("Notes of the discussion", "The notes", mdt.NOTES_MAX,
                  hint="What each agency said and what the MDT considered.")
    decision = _area("Decisions", "The decisions", mdt.DECISION_MAX, hint="What the MDT agreed.")
    risk_level = RadioField("Risk level after the MDT", widget=GovRadioInput(), coerce=_level,
                            invalid_value_message="Select the risk level from the list",
                            invalid_choice_message="Select the risk level from the list")
    risk_reason = _area("Reason for changing the risk level", "The reason", mdt.PURPOSE_MAX,
                        hint="Needed only if the MDT changed the risk level.")
    action_description = _area("What will the agency do?", "The action", DESCRIPTION_MAX,
                               hint="Leave the action blank if none was agreed, or to add it later.")
    action_agency_id = SelectField("Agency responsible", widget=GovSelect(), coerce=optional_int,
                                   description="Only agencies involved in the case are listed.",
                                   invalid_value_message="Select the agency responsible",
                                   invalid_choice_message="Select the agency responsible")
    action_assignee_id = SelectField("Named person (optional)", widget=GovSelect(), coerce=optional_int,
                                     description="A SPoC or practitioner of the agency responsible.",
                                     invalid_value_message="Select a named person from the list, or no named person",
                                     invalid_choice_message="Select a named person from the list, or no named person")
    action_due_on = GovukDateField("Due date", noun="Due date", description="For example, 27 3 2027")
    submit = SubmitField("Save", widget=GovSubmitInput())

    def __init__(self, *args, current_level: RiskLevel, agencies: list[Agency], people: list[User], today: date,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.current_level = current_level
        self.risk_level.choices = [SelectChoice(level.value, level.label + (" (as now)" if level == current_level else ""))
                                   for level in RiskLevel]
        if self.risk_level.data is None:
            self.risk_level.data = current_level
        self.action_agency_id.choices = [SelectChoice("", "Choose an agency")] + [
            SelectChoice(str(a.id), a.name) for a in agencies]
        self.action_assignee_id.choices = [SelectChoice("", "No named person")] + [
            SelectChoice(str(u.id), f"{u.name} ({u.agency.name})") for u in people]
        self.agencies = {a.id: a for a in agencies}
        self.people = {u.id: u for u in people}
        self.today = today

    @property
    def has_action(self) -> bool:
        return bool(self.action_description.data or self.action_agency_id.data is not None
                    or self.action_assignee_id.data is not None or self.action_due_on.data is not None
                    or any(self.action_due_on.raw_data or []))

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        level, reason = self.risk_level, self.risk_reason
        if not level.errors and level.data is None:
            level.data = self.current_level
        if not level.errors and level.data != self.current_level and not reason.errors and not reason.data:
            _fail(reason, "Enter the reason for changing the risk level")
        if self.has_action:
            what, agency, person, due = (self.action_description, self.action_agency_id, self.action_assignee_id,
                                         self.action_due_on)
            if not what.errors and not what.data:
                _fail(what, "Enter what the agency will do")
            if not agency.errors and agency.data is None:
                _fail(agency, "Select the agency responsible for the action")
            if not person.errors and person.data is not None and agency.data is not None and not agency.errors \
                    and self.people[person.data].agency_id != agency.data:
                _fail(person, "Select a named person who works for the agency responsible, or no named person")
            if not due.errors:
                if due.data is None:
                    _fail(due, "Enter the due date of the action")
                elif due.data < self.today:
                    _fail(due, "Due date must be today or in the future")
        return ok and not self.errors
