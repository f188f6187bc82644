"""Forms for the referral list filters, triage, the panel decision, withdrawal, linking and promotion."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSelect, GovSubmitInput, GovTextArea
from wtforms import HiddenField, RadioField, SelectChoice, SelectField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from panel.forms.fields import GovukDateField, optional_int
from panel.forms.filters import FilterForm
from panel.dates import govuk_date
from panel.forms.text import clean_text
from panel.models import Agency, DeclineReason, Meeting, ReferralStatus
from panel.referrals import rules
from panel.referrals.linking import Difference

LONG = rules.LONG

# Triage outcomes and the status each leads to (a repeated POST finds it already there).
TO_PANEL, REQUEST_INFORMATION, DECLINE = "to_panel", "request_information", "decline"
TRIAGE_TARGETS = {
    TO_PANEL: ReferralStatus.AWAITING_PANEL,
    REQUEST_INFORMATION: ReferralStatus.INFO_REQUESTED,
    DECLINE: ReferralStatus.DECLINED,
}
# What triage offers for a referral in each status (the services enforce the same rules).
TRIAGE_OPTIONS = {
    ReferralStatus.SUBMITTED: (TO_PANEL, REQUEST_INFORMATION, DECLINE),
    ReferralStatus.AWAITING_PANEL: (REQUEST_INFORMATION, DECLINE),
    ReferralStatus.INFO_REQUESTED: (DECLINE,),
    ReferralStatus.WAITING: (DECLINE,),
}
ACCEPT = "accept"
DECISION_TARGETS = {ACCEPT: ReferralStatus.ACCEPTED, DECLINE: ReferralStatus.DECLINED}


def clean_long(value: str | None) -> str:
    """Free text as typed, less control characters (PostgreSQL refuses NUL)."""
    return clean_text(value, multiline=True)


def _text(label: str, what: str) -> TextAreaField:
    return TextAreaField(
        label,
        widget=GovTextArea(),
        filters=[clean_long],
        validators=[Length(max=LONG, message=f"{what} must be {LONG:,} characters or fewer")],
    )


def _require(field, message: str) -> None:
    if not field.data and not field.errors:
        field.errors = [*field.errors, message]


class ReferralFilterForm(FilterForm):
    """Filters for the referral list, read from the query string: status, referring agency
    (coordinators and chairs), the dates submitted between, and the panel whose agenda it is on.
    Bad choices are ignored; a date that is not a real one is shown as an error."""

    status = SelectField("Status", widget=GovSelect())
    agency = SelectField("Referring agency", widget=GovSelect(), coerce=optional_int)
    panel = SelectField("Panel", widget=GovSelect(), coerce=optional_int)
    date_from = GovukDateField("Submitted from", name="from", query=True)
    date_to = GovukDateField("Submitted to", name="to", query=True)

    def __init__(self, *args, agencies: list[Agency] | None, panels: list[Meeting], **kwargs):
        super().__init__(*args, **kwargs)
        self.status.choices = [SelectChoice("", "All statuses")] + [
            SelectChoice(s.value, s.label) for s in ReferralStatus if s != ReferralStatus.DRAFT]
        self.agency.choices = [SelectChoice("", "All agencies")] + [
            SelectChoice(str(a.id), a.name) for a in agencies or []]
        self.panel.choices = [SelectChoice("", "Any panel")] + [
            SelectChoice(str(m.id), f"Panel on {govuk_date(m.starts_at)}") for m in panels]
        if agencies is None:
            del self.agency

    def validate_date_to(self, field: GovukDateField) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("Submitted to must be the same as or after submitted from")

    def valid_fields(self) -> set[str]:
        """As FilterForm's, but a date typed wrongly keeps its message: the user should know."""
        self.validate()
        good = {name for name, field in self._fields.items() if not field.errors}
        for field in self:
            if field.name not in ("from", "to"):
                field.errors = []
        self.form_errors = []
        return good

    def chosen(self) -> dict[str, Any]:
        """What to filter by ("status", "agency", "panel", "from", "to"), leaving out what did not validate."""
        good = self.valid_fields()
        out: dict[str, Any] = {}
        if self.status.data and "status" in good:
            out["status"] = ReferralStatus(self.status.data)
        for name in ("agency", "panel"):
            field = getattr(self, name, None)
            if field is not None and name in good and field.data is not None:
                out[name] = field.data
        for name, field in (("from", self.date_from), ("to", self.date_to)):
            if field.data is not None and f"date_{name}" in good:
                out[name] = field.data
        return out

    def filters(self) -> dict[str, str]:
        """The filters in use as plain strings, for links (pagination, "Clear filters")."""
        return {name: (value.isoformat() if isinstance(value, date) else str(value))
                for name, value in self.chosen().items()}


def _reason_kind() -> SelectField:
    """The kind of reason a referral is declined, counted in the Board's reports (optional)."""
    return SelectField(
        "What kind of reason is it? (optional)", widget=GovSelect(),
        description="Counted, without the reason itself, in the Safeguarding Adults Board’s reports.",
        choices=[SelectChoice("", "Not chosen")] + [SelectChoice(k.value, k.label) for k in DeclineReason],
        validate_choice=True, default="")


def reason_kind_of(form) -> DeclineReason | None:
    return DeclineReason(form.reason_kind.data) if form.reason_kind.data else None


class TriageForm(FlaskForm):
    outcome = RadioField(
        "What do you want to do with this referral?",
        widget=GovRadioInput(),
        choices=[
            SelectChoice(TO_PANEL, "Put it on the next panel’s agenda"),
            SelectChoice(REQUEST_INFORMATION, "Ask the referrer for more information"),
            SelectChoice(DECLINE, "Decline it"),
        ],
        invalid_value_message="Select what you want to do with this referral",
        invalid_choice_message="Select what you want to do with this referral",
        validators=[InputRequired("Select what you want to do with this referral")],
    )
    request = _text("What information do you need?", "The information you need")
    rationale = _text("Why is it declined?", "The reason")
    reason_kind = _reason_kind()
    signposting = _text("Where could the referrer go instead? (optional)", "Signposting")
    submit = SubmitField("Save and tell the referrer", widget=GovSubmitInput())

    def validate(self, extra_validators=None) -> bool:
        super().validate(extra_validators)
        # Only the boxes shown for the chosen answer count; the others keep what was typed.
        if self.outcome.data == REQUEST_INFORMATION:
            _require(self.request, "Enter the information you need from the referrer")
        else:
            self.request.errors = []
        if self.outcome.data == DECLINE:
            _require(self.rationale, "Enter why the referral is declined")
        else:
            self.rationale.errors = self.signposting.errors = self.reason_kind.errors = []
        return not self.errors


class DecisionForm(FlaskForm):
    decision = RadioField(
        "What did the panel decide?",
        widget=GovRadioInput(),
        choices=[
            SelectChoice(ACCEPT, "Accept into the pathway"),
            SelectChoice(DECLINE, "Decline"),
        ],
        invalid_value_message="Select the panel’s decision",
        invalid_choice_message="Select the panel’s decision",
        validators=[InputRequired("Select the panel’s decision")],
    )
    lead_agency_id = SelectField(
        "Lead agency",
        widget=GovSelect(),
        coerce=optional_int,
        invalid_value_message="Select the lead agency",
        invalid_choice_message="Select the lead agency",
    )
    rationale = _text("Why did the panel decline it?", "The reason")
    reason_kind = _reason_kind()
    signposting = _text("Where could the referrer go instead? (optional)", "Signposting")
    submit = SubmitField("Record the decision", widget=GovSubmitInput())

    def __init__(self, *args, agencies: list[Agency], **kwargs):
        super().__init__(*args, **kwargs)
        self.lead_agency_id.choices = [SelectChoice("", "Choose the lead agency")] + [
            SelectChoice(str(a.id), a.name) for a in agencies]

    def validate(self, extra_validators=None) -> bool:
        super().validate(extra_validators)
        # Only the questions shown for the chosen answer count; the others keep what was typed.
        if self.decision.data == ACCEPT:
            _require(self.lead_agency_id, "Select the lead agency")
        else:
            self.lead_agency_id.errors = []
        if self.decision.data == DECLINE:
            _require(self.rationale, "Enter why the panel declined the referral")
        else:
            self.rationale.errors = self.signposting.errors = self.reason_kind.errors = []
        return not self.errors


class WithdrawForm(FlaskForm):
    reason = TextAreaField(
        "Why is the referral being withdrawn?",
        widget=GovTextArea(),
        filters=[clean_long],
        validators=[
            DataRequired("Enter why the referral is being withdrawn"),
            Length(max=LONG, message=f"The reason must be {LONG:,} characters or fewer"),
        ],
    )
    submit = SubmitField("Withdraw referral", widget=GovSubmitInput())


class LinkPersonForm(FlaskForm):
    person_id = HiddenField(filters=[lambda v: v if v is None else str(v)[:20]])
    submit = SubmitField("Link to this person", widget=GovSubmitInput())
    differences: list[Difference] = []

    def person(self) -> int | None:
        try:
            return optional_int(self.person_id.data)
        except ValueError:
            return None

    def taken(self) -> list[str]:
        """The details the coordinator chose to take from the referral into the person record."""
        return [d.name for d in self.differences if self[d.name].data == TAKE_REFERRAL]


KEEP_RECORD, TAKE_REFERRAL = "record", "referral"


def shown(value: Any) -> str:
    """How one of the person's details reads in the comparison."""
    if value is None or value == "":
        return "Not given"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, date):
        return govuk_date(value)
    return str(value)


def link_person_form(differences: list[Difference], **kwargs: Any) -> LinkPersonForm:
    """The link form with one required choice per differing detail: what the person record keeps."""

    class ChooseDetailsForm(LinkPersonForm):
        pass

    for d in differences:
        message = f"Select what the person record keeps for {d.label.lower()}"
        setattr(ChooseDetailsForm, d.name, RadioField(
            d.label, widget=GovRadioInput(), validators=[InputRequired(message)],
            invalid_choice_message=message, invalid_value_message=message,
            choices=[SelectChoice(KEEP_RECORD, f"Keep the person record’s: {shown(d.record_value)}"),
                     SelectChoice(TAKE_REFERRAL, f"Use this referral’s: {shown(d.referral_value)}")]))
    form = ChooseDetailsForm(**kwargs)
    form.differences = differences
    return form


class ConfirmForm(FlaskForm):
    """A bare form for a button (promote): it carries only the CSRF token."""

    submit = SubmitField("Continue", widget=GovSubmitInput())
