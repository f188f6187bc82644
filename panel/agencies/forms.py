"""The agency form: details, SPoC, deputy and escalation contact, absence, and ISA dates."""

from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxInput, GovSelect, GovSubmitInput, GovTextInput
from wtforms import BooleanField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Regexp, ValidationError

from panel.agencies import services
from panel.forms.fields import GovukDateField, optional_int
from panel.forms.text import lower_text, strip_text
from panel.forms.validators import PlainText
from panel.models import AgencyKind, User

NAME_MAX = 120


def _person_field(label: str, message: str) -> SelectField:
    return SelectField(label, widget=GovSelect(), coerce=optional_int,
                       invalid_value_message=message, invalid_choice_message=message)


def person_choices(users: list[User]) -> list[SelectChoice]:
    return [SelectChoice("", "None")] + [SelectChoice(str(u.id), f"{u.name} ({u.email})") for u in users]


class AgencyForm(FlaskForm):
    name = StringField(
        "Agency name",
        widget=GovTextInput(),
        filters=[strip_text],
        validators=[
            DataRequired("Enter the agency name"),
            Length(max=NAME_MAX, message=f"Agency name must be {NAME_MAX} characters or fewer"),
            PlainText("Agency name"),
        ],
    )
    code = StringField(
        "Short code",
        widget=GovTextInput(),
        description="2 to 40 lower-case letters, numbers and hyphens, like ‘mental-health’. "
                    "It cannot be changed once the agency has users.",
        filters=[lower_text],
        validators=[
            DataRequired("Enter a short code for the agency"),
            Length(min=2, max=40, message="Short code must be between 2 and 40 characters"),
            Regexp(r"^[a-z0-9]+(-[a-z0-9]+)*$",
                   message="Short code must only include lower-case letters, numbers and hyphens, "
                           "and must not start or end with a hyphen"),
        ],
    )
    kind = SelectField(
        "Kind of agency",
        widget=GovSelect(),
        choices=[SelectChoice("", "Choose the kind of agency")] + [SelectChoice(k.value, k.label) for k in AgencyKind],
        invalid_choice_message="Select the kind of agency",
        validators=[DataRequired("Select the kind of agency")],
    )
    spoc_id = _person_field("SPoC", "Select a SPoC from this agency’s users, or None")
    deputy_spoc_id = _person_field("Deputy SPoC", "Select a deputy SPoC from this agency’s users, or None")
    escalation_contact_id = _person_field(
        "Escalation contact", "Select an escalation contact from this agency’s users, or None")
    spoc_absent = BooleanField(
        "The SPoC is absent",
        widget=GovCheckboxInput(),
        description="Ticked, the SPoC is away from today until you clear this (ticked already: an absence is under "
                    "way), and the deputy SPoC acts for them. For an absence with dates, use SPoCs and their cover.",
    )
    isa_signed_on = GovukDateField(
        "Date the information sharing agreement (ISA) was signed",
        noun="Date the ISA was signed",
        description="For example, 27 3 2026. Leave blank if it has not been signed yet.",
    )
    isa_review_due = GovukDateField(
        "ISA review date",
        noun="ISA review date",
        description="The agency cannot open case records after this date until the ISA is renewed.",
    )
    submit = SubmitField("Save agency", widget=GovSubmitInput())

    def __init__(self, *args, spoc_users: list[User], contact_users: list[User], today: date, adding: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.spoc_id.choices = person_choices(spoc_users)
        self.deputy_spoc_id.choices = person_choices(spoc_users)
        self.escalation_contact_id.choices = person_choices(contact_users)
        if adding:
            hint = "The agency has no users yet. You can choose this once you have added them."
            for field in (self.spoc_id, self.deputy_spoc_id, self.escalation_contact_id):
                field.description = hint
        else:
            self.spoc_id.description = ("Only this agency’s active users with the SPoC role are listed. "
                                        "Give someone the SPoC role on their user page first.")
            self.deputy_spoc_id.description = "Acts as SPoC while the SPoC is away. Also from this agency’s SPoCs."
            self.escalation_contact_id.description = "The agency’s strategic lead, for escalations. Any of its active users."
        self.editing = kwargs.get("obj")

    def validate_name(self, field) -> None:
        if field.data and not field.errors and services.name_in_use(field.data, other_than=self.editing):
            raise ValidationError(services.DUPLICATE_NAME)

    def validate_code(self, field) -> None:
        if field.data and not field.errors and services.code_in_use(field.data, other_than=self.editing):
            raise ValidationError(services.DUPLICATE_CODE)

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        spoc, deputy = self.spoc_id, self.deputy_spoc_id
        people_ok = not (spoc.errors or deputy.errors)
        if people_ok and deputy.data is not None and deputy.data == spoc.data:
            self._fail(deputy, "The deputy SPoC must be a different person from the SPoC")
        if people_ok and self.spoc_absent.data:
            if deputy.data is None:
                self._fail(self.spoc_absent, "Choose a deputy SPoC before marking the SPoC absent")
            elif spoc.data is None:
                self._fail(self.spoc_absent, "Choose a SPoC before marking the SPoC absent")
        signed, review = self.isa_signed_on, self.isa_review_due
        if not signed.errors and not review.errors:
            if signed.data is None and review.data is not None:
                self._fail(signed, "Enter the date the ISA was signed")
            elif signed.data is not None and review.data is None:
                self._fail(review, "Enter the ISA review date")
            elif signed.data is not None and review.data is not None and review.data <= signed.data:
                self._fail(review, "ISA review date must be after the date the ISA was signed")
        if not signed.errors and signed.data is not None and signed.data > self.today:
            self._fail(signed, "Date the ISA was signed must be today or in the past")
        return ok and not self.errors

    @staticmethod
    def _fail(field, message: str) -> None:
        field.errors = [*field.errors, message]
