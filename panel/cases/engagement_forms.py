"""Forms for the engagement log (recording an attempt, filtering the log and the chronology)
and for closure with step-down (propose, the chair's decision, reopen).

Times typed by users are London local time; panel.dates.london_to_utc turns them into the UTC
instant that is stored.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import BooleanField, RadioField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from panel.dates import LONDON, DateRange, SkippedTime, london_to_utc, parse_time
from panel.forms.fields import GovukDateField, optional_int
from panel.forms.text import multiline, one_line
from panel.forms.validators import PlainText, fail as _fail
from panel.models import Agency, EngagementMethod, EngagementOutcome, NonEngagementKind

LONG = 5000
PRINT_MONTHS = 3  # the printable chronology's dates unless others are asked for (see ChronologyPrintForm)
NAME = 120
REASON = 2000


def _long(label: str, what: str, *, required: str = "", hint: str = "", limit: int = LONG) -> StringField:
    validators = [Length(max=limit, message=f"{what} must be {limit:,} characters or fewer")]
    if required:
        validators.insert(0, DataRequired(required))
    return StringField(label, widget=GovTextArea(), description=hint, filters=[multiline], validators=validators)


def _non_engagement(value) -> NonEngagementKind | None:
    if value is None or value == "" or isinstance(value, NonEngagementKind):
        return value or None
    return NonEngagementKind(str(value))


class AttemptForm(FlaskForm):
    """One attempt to reach the person."""

    agency_id = RadioField(
        "Which agency made the attempt?",
        widget=GovRadioInput(),
        coerce=optional_int,
        invalid_value_message="Select the agency that made the attempt",
        invalid_choice_message="Select the agency that made the attempt",
        validators=[InputRequired("Select the agency that made the attempt")],
    )
    method = RadioField(
        "How did they try to reach the person?",
        widget=GovRadioInput(),
        choices=[SelectChoice(m.value, m.label) for m in EngagementMethod],
        invalid_value_message="Select how they tried to reach the person",
        invalid_choice_message="Select how they tried to reach the person",
        validators=[InputRequired("Select how they tried to reach the person")],
    )
    occurred_on = GovukDateField("Date of the attempt", noun="Date of the attempt",
                                 description="For example, 27 3 2026")
    occurred_time = StringField(
        "Time of the attempt",
        widget=GovTextInput(),
        description="Use the 24-hour clock, UK time, for example 14:30",
        filters=[one_line],
        validators=[Length(max=10, message="Enter a real time, like 14:30")],
    )
    planned = BooleanField(
        "This was a planned contact",
        widget=GovCheckboxInput(),
        description="Home visits, joint visits and office appointments always count as planned.",
    )
    outcome = RadioField(
        "What happened?",
        widget=GovRadioInput(),
        choices=[SelectChoice(o.value, o.label) for o in EngagementOutcome],
        invalid_value_message="Select what happened",
        invalid_choice_message="Select what happened",
        validators=[InputRequired("Select what happened")],
    )
    persons_words = _long("In the person’s own words (optional)", "The person’s own words",
                          hint="What they said, as they said it.")
    worker_view = _long("Worker’s view (optional)", "The worker’s view",
                        hint="What the worker saw and thinks. Keep it apart from the person’s own words.")
    non_engagement = RadioField(
        "Kind of non-engagement seen (optional)",
        widget=GovRadioInput(),
        coerce=_non_engagement,
        default="",
        choices=[SelectChoice("", "None seen")] + [SelectChoice(k.value, k.label) for k in NonEngagementKind],
        invalid_value_message="Select the kind of non-engagement seen, or none seen",
        invalid_choice_message="Select the kind of non-engagement seen, or none seen",
    )
    small_step = BooleanField(
        "This was a small step",
        widget=GovCheckboxInput(),
        description="For example, opened the door today.",
    )
    submit = SubmitField("Save the attempt", widget=GovSubmitInput())

    def __init__(self, *args, agencies: list[Agency], now: datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self.agency_id.choices = [SelectChoice(str(a.id), a.name) for a in agencies]
        self.now = now
        self.occurred_at: datetime | None = None

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        day, text = self.occurred_on, self.occurred_time
        today = self.now.astimezone(LONDON).date()
        if not day.errors:
            if day.data is None:
                _fail(day, "Enter the date of the attempt")
            elif day.data > today:
                _fail(day, "Date of the attempt must be today or in the past")
        at = None
        if not text.errors:
            if not text.data:
                _fail(text, "Enter the time of the attempt")
            elif (at := parse_time(text.data)) is None:
                _fail(text, "Enter a real time, like 14:30")
        if at is not None and day.data is not None and not day.errors:
            try:
                self.occurred_at = london_to_utc(day.data, at)
            except SkippedTime as skipped:
                _fail(text, f"Enter a real time: {skipped}")
            else:
                if self.occurred_at > self.now:
                    _fail(text, "Time of the attempt must be in the past")
        return ok and not self.errors


# ---- filters (query string; bad values are ignored) ------------------------------------


def _ignore_bad_values(form: FlaskForm) -> None:
    """A filter given a value it does not offer is shown, and applied, as "All"."""
    form.validate()
    for field in form:
        if field.errors:
            field.data, field.errors, field.raw_data = (None if field.coerce is optional_int else ""), [], []


class EngagementFilterForm(FlaskForm):
    class Meta:
        csrf = False

    agency = SelectField("Agency", widget=GovSelect(), coerce=optional_int)
    outcome = SelectField("Outcome", widget=GovSelect(), default="")

    def __init__(self, *args, agencies: list[Agency], **kwargs):
        super().__init__(*args, **kwargs)
        self.agency.choices = [SelectChoice("", "All agencies")] + [SelectChoice(str(a.id), a.name) for a in agencies]
        self.outcome.choices = [SelectChoice("", "All outcomes")] + [
            SelectChoice(o.value, o.label) for o in EngagementOutcome]

    def chosen(self) -> tuple[int | None, EngagementOutcome | None]:
        _ignore_bad_values(self)
        outcome = EngagementOutcome(self.outcome.data) if self.outcome.data else None
        return self.agency.data, outcome

    def filters(self) -> dict[str, str]:
        agency, outcome = self.chosen()
        return {k: str(v) for k, v in (("agency", agency), ("outcome", outcome)) if v is not None}


class ChronologyFilterForm(FlaskForm):
    class Meta:
        csrf = False

    kind = SelectField("Type", widget=GovSelect(), default="")
    agency = SelectField("Agency", widget=GovSelect(), coerce=optional_int)

    def __init__(self, *args, kinds: dict[str, str], agencies: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = [SelectChoice("", "All types")] + [SelectChoice(k, v) for k, v in kinds.items()]
        self.agency.choices = [SelectChoice("", "All agencies")] + [SelectChoice(str(i), n) for i, n in agencies]

    def chosen(self) -> tuple[str | None, int | None]:
        _ignore_bad_values(self)
        return self.kind.data or None, self.agency.data


class ChronologyPrintForm(FlaskForm):
    """The dates the printable chronology covers (query string, London dates, both inclusive):
    none gives the last PRINT_MONTHS months of the chronology, up to its newest entry; ``all=y``
    every entry. A date that is not a real one is a GOV.UK error on the chronology page."""

    class Meta:
        csrf = False

    date_from = GovukDateField("Print from", name="from", query=True)
    date_to = GovukDateField("Print to", name="to", query=True)
    all_dates = StringField("Every entry", name="all")  # "y": every entry, when no dates are given

    def validate_date_to(self, field: GovukDateField) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("Print to must be the same as or after print from")

    def dates(self, last_day: date) -> DateRange | None:
        """The dates asked for (valid form only); with none, every date if ``all=y`` (None), else
        the PRINT_MONTHS months to `last_day` (the newest entry's day)."""
        if self.date_from.data or self.date_to.data:
            return DateRange(self.date_from.data, self.date_to.data)
        if self.all_dates.data == "y":
            return None
        return DateRange(months_before(last_day, PRINT_MONTHS), last_day)

    def args(self) -> dict[str, str]:
        """The dates asked for as query-string values (for the links that keep them)."""
        chosen = {}
        if self.date_from.data:
            chosen["from"] = self.date_from.data.isoformat()
        if self.date_to.data:
            chosen["to"] = self.date_to.data.isoformat()
        if not chosen and self.all_dates.data == "y":
            chosen["all"] = "y"
        return chosen


def months_before(day: date, months: int) -> date:
    """The first day of the `months` months that end on `day`: the day after the same date
    `months` months earlier (the month's last day where it is shorter)."""
    month = day.month - 1 - months
    year, month = day.year + month // 12, month % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last)) + timedelta(days=1)


# ---- closure and step-down -------------------------------------------------------------


class ProposeClosureForm(FlaskForm):
    rationale = _long("Why should the case close?", "The rationale", required="Enter the rationale for closure",
                      hint="What has changed, what the step-down agency will carry on, and what the person wants.")
    for_non_engagement = BooleanField(
        "The reason is that the person would not engage",
        widget=GovCheckboxInput(),
        description="The checklist then needs the persistence record: at least three phone attempts, "
                    "one out of hours, a letter and a home visit.",
    )
    step_down_agency_id = SelectField(
        "Step-down agency",
        widget=GovSelect(),
        coerce=optional_int,
        description="The agency that takes over ongoing case management.",
        invalid_value_message="Select the step-down agency",
        invalid_choice_message="Select the step-down agency",
    )
    step_down_accepted_by = StringField(
        "Who at the step-down agency accepted the case?",
        widget=GovTextInput(),
        description="Their name and role, for example, Sam Smith, team manager.",
        filters=[one_line],
        validators=[Length(max=NAME, message=f"Who accepted must be {NAME} characters or fewer"),
                    PlainText("Who accepted")],
    )
    step_down_accepted_on = GovukDateField("When did they accept it?", noun="Date the step-down agency accepted",
                                           description="For example, 27 3 2026")
    submit = SubmitField("Propose closure", widget=GovSubmitInput())

    def __init__(self, *args, agencies: list[Agency], today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.step_down_agency_id.choices = [SelectChoice("", "Not agreed yet")] + [
            SelectChoice(str(a.id), a.name) for a in agencies]
        self.today = today

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        agency, who, when = self.step_down_agency_id, self.step_down_accepted_by, self.step_down_accepted_on
        if not when.errors and when.data is not None and when.data > self.today:
            _fail(when, "Date the step-down agency accepted must be today or in the past")
        if not who.errors and not when.errors:
            if who.data and when.data is None:
                _fail(when, "Enter the date the step-down agency accepted")
            elif when.data is not None and not who.data:
                _fail(who, "Enter who at the step-down agency accepted the case")
        if not agency.errors and agency.data is None and (who.data or when.data is not None):
            _fail(agency, "Select the step-down agency that accepted the case")
        return ok and not self.errors


APPROVE, RETURN = "approve", "return"


class DecideClosureForm(FlaskForm):
    decision = RadioField(
        "What did the panel decide?",
        widget=GovRadioInput(),
        choices=[SelectChoice(APPROVE, "Approve closure"), SelectChoice(RETURN, "Return it to the coordinator")],
        invalid_value_message="Select whether the panel approved the closure",
        invalid_choice_message="Select whether the panel approved the closure",
        validators=[InputRequired("Select whether the panel approved the closure")],
    )
    panel_date = GovukDateField("If approving: date of the panel that agreed it", noun="Date of the panel",
                                description="For example, 27 3 2026")
    reason = _long("If returning: why is it being returned?", "The reason", limit=REASON,
                   hint="The coordinator sees this in the chronology.")
    submit = SubmitField("Save the decision", widget=GovSubmitInput())

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.decision.data == APPROVE and not self.panel_date.errors:
            if self.panel_date.data is None:
                _fail(self.panel_date, "Enter the date of the panel that agreed the closure")
            elif self.panel_date.data > self.today:
                _fail(self.panel_date, "Date of the panel must be today or in the past")
        if self.decision.data == RETURN and not self.reason.errors and not self.reason.data:
            _fail(self.reason, "Enter why the closure is being returned")
        return ok and not self.errors


class ReopenForm(FlaskForm):
    reason = _long("Why is the case being reopened?", "The reason", required="Enter why the case is being reopened",
                   limit=REASON)
    submit = SubmitField("Reopen the case", widget=GovSubmitInput())
