"""Forms for the case record's sections: risk, agencies and rapport, staff safety, insight and
the person's outcomes.

Text is cleaned of control characters (newlines kept in long text) and length-limited with the
referral rules' wording; HTML is kept as typed and escaped when shown. Choices that are not on
the list get a GOV.UK "Select ..." message, never a 500.
"""

from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSelect, GovSubmitInput, GovTextArea, GovTextInput
from wtforms import RadioField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import InputRequired, ValidationError

from panel.cases.services import INSIGHT_QUESTIONS
from panel.forms.fields import GovukDateField, optional_int
from panel.forms.filters import FilterForm
from panel.forms.text import multiline, one_line
from panel.forms.validators import Limit
from panel.models import Agency, OutcomeReview, RiskLevel, StaffSafetyKind
from panel.referrals import rules

YES, NO = "yes", "no"
LONG = rules.LONG            # 5,000 characters
NAME = rules.NAME            # 120, as the column
OUTCOME = rules.OUTCOME      # 500, as on the referral form
FLAG_DETAILS = 1000          # shown in the warning banner on every page of the case


def _area(label: str, problem_label: str, limit: int = LONG, *, required: bool = False, hint: str = "") -> StringField:
    return StringField(label, widget=GovTextArea(), description=hint, filters=[multiline],
                       validators=[Limit(problem_label, limit, required=required)])


def _radios(label: str, choices: list[SelectChoice], message: str, *, coerce=str, hint: str = "") -> RadioField:
    return RadioField(label, widget=GovRadioInput(), description=hint, choices=choices, coerce=coerce,
                      invalid_choice_message=message, invalid_value_message=message,
                      validators=[InputRequired(message)])


def _yes_no(label: str, message: str, hint: str = "") -> RadioField:
    return _radios(label, [SelectChoice(YES, "Yes"), SelectChoice(NO, "No")], message, hint=hint)


def _fail(field, message: str) -> None:
    field.errors = [*field.errors, message]


# ---- risk -----------------------------------------------------------------------------


class RiskLevelForm(FlaskForm):
    """Change the risk level; a reason is needed when the level changes."""

    level = _radios("Risk level", [SelectChoice(r.value, r.label) for r in RiskLevel], "Select the risk level",
                    coerce=RiskLevel)
    reason = _area("Reason for the change", "reason for the change",
                   hint="What has changed, and the evidence for it. This is kept in the risk history.")
    change_level = SubmitField("Change risk level", widget=GovSubmitInput())

    def __init__(self, *args, current: RiskLevel, **kwargs):
        super().__init__(*args, **kwargs)
        self.current = current

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if not self.level.errors and self.level.data is not None:
            if self.level.data == self.current:
                _fail(self.level, f"The risk level is already {self.current.label.lower()}. Select a different level")
            elif not self.reason.errors and not self.reason.data:
                _fail(self.reason, "Enter the reason for changing the risk level")
        return ok and not self.errors


class RiskPlanForm(FlaskForm):
    risk_summary = _area("Risk summary", "the risk summary",
                         hint="The main risks to the person and to others, as the panel understands them now.")
    contingency_plan = _area("Contingency plan", "the contingency plan",
                             hint="What anyone involved should do if things get worse, and who to contact.")
    save_plan = SubmitField("Save summary and plan", widget=GovSubmitInput())


# ---- agencies and rapport -------------------------------------------------------------


def agency_choices(agencies: list[Agency], placeholder: str) -> list[SelectChoice]:
    return [SelectChoice("", placeholder)] + [SelectChoice(str(a.id), a.name) for a in agencies]


def _agency_select(label: str, message: str, hint: str = "") -> SelectField:
    return SelectField(label, widget=GovSelect(), description=hint, coerce=optional_int,
                       invalid_value_message=message, invalid_choice_message=message,
                       validators=[InputRequired(message)])


class LeadAgencyForm(FlaskForm):
    lead_agency_id = _agency_select(
        "Lead agency", "Select the lead agency",
        hint="An agency not yet involved is added to the case, and its SPoC is told by email.")
    change_lead = SubmitField("Change lead agency", widget=GovSubmitInput())

    def __init__(self, *args, agencies: list[Agency], **kwargs):
        super().__init__(*args, **kwargs)
        self.lead_agency_id.choices = agency_choices(agencies, "Choose an agency")

    def validate_lead_agency_id(self, field) -> None:
        if field.data is None:
            raise ValidationError("Select the lead agency")


class _WorkerFields(FlaskForm):
    named_worker = StringField("Named worker", widget=GovTextInput(), filters=[one_line],
                               description="The person at the agency who works with them. Leave blank if not known yet.",
                               validators=[Limit("named worker", NAME)])
    has_rapport = _yes_no("Does this worker or agency have rapport with the person?",
                          "Select yes if they have rapport with the person")


class AgencyAddForm(_WorkerFields):
    agency_id = _agency_select("Agency", "Select the agency to add",
                               hint="Its SPoC can then see the full record, and is told by email.")
    add_agency = SubmitField("Add agency", widget=GovSubmitInput())

    def __init__(self, *args, agencies: list[Agency], **kwargs):
        super().__init__(*args, **kwargs)
        self.agency_id.choices = agency_choices(agencies, "Choose an agency")

    def validate_agency_id(self, field) -> None:
        if field.data is None:
            raise ValidationError("Select the agency to add")


class InvolvementEditForm(_WorkerFields):
    save_involvement = SubmitField("Save changes", widget=GovSubmitInput())


def yes_no(value: bool) -> str:
    return YES if value else NO


# ---- staff safety ---------------------------------------------------------------------


class FlagAddForm(FlaskForm):
    kind = _radios("What is the concern?", [SelectChoice(k.value, k.label) for k in StaffSafetyKind],
                   "Select the kind of staff-safety concern", coerce=StaffSafetyKind)
    details = _area("Details", "the details", FLAG_DETAILS,
                    hint="What staff need to know before contact. Required for another concern. "
                         "Shown on every page of the case.")
    add_flag = SubmitField("Add warning", widget=GovSubmitInput())

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.kind.data == StaffSafetyKind.OTHER and not self.kind.errors and not self.details.errors \
                and not self.details.data:
            _fail(self.details, "Enter the details of the staff-safety concern")
        return ok and not self.errors


class ConfirmForm(FlaskForm):
    """A button with nothing to fill in (clearing a warning): the CSRF token only."""


# ---- insight --------------------------------------------------------------------------

INSIGHT_HINTS = {
    "most_settled": "The time of day, and routines that help them feel safe or calm.",
    "upsets": "Topics, actions or situations that tend to upset or distress them.",
    "responds_to": "For example humour, tone of voice, familiar staff, quiet places.",
    "engages_best_with": "Kinds of staff or settings that have helped or hindered before.",
    "matters_and_trust": "And how trust can be rebuilt.",
}


class InsightForm(FlaskForm):
    most_settled = _area(INSIGHT_QUESTIONS["most_settled"], "when they are most settled",
                         hint=INSIGHT_HINTS["most_settled"])
    upsets = _area(INSIGHT_QUESTIONS["upsets"], "what upsets or distresses them", hint=INSIGHT_HINTS["upsets"])
    responds_to = _area(INSIGHT_QUESTIONS["responds_to"], "what they respond well to",
                        hint=INSIGHT_HINTS["responds_to"])
    engages_best_with = _area(INSIGHT_QUESTIONS["engages_best_with"], "who and what setting they engage with best",
                              hint=INSIGHT_HINTS["engages_best_with"])
    matters_and_trust = _area(INSIGHT_QUESTIONS["matters_and_trust"], "what matters most and what breaks trust",
                              hint=INSIGHT_HINTS["matters_and_trust"])
    submit = SubmitField("Save as a new version", widget=GovSubmitInput())

    def answers(self) -> dict[str, str]:
        return {key: getattr(self, key).data or "" for key in INSIGHT_QUESTIONS}

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if ok and not any(self.answers().values()):
            _fail(self.most_settled, "Answer at least one question")
        return ok and not self.errors


# ---- the person's outcomes ------------------------------------------------------------


class OutcomeAddForm(FlaskForm):
    words = _area("The outcome, in the person’s own words", "the outcome", OUTCOME, required=True,
                  hint="Write what they said, as they said it. For example, ‘I want to feel safe in my flat’.")
    asked = _yes_no("Was the person asked what they want?", "Select yes if the person was asked what they want")
    expressed = _yes_no("Did the person express this outcome themselves?",
                        "Select yes if the person expressed this outcome themselves",
                        hint="Select no if someone else expressed it for them, such as an advocate or family member.")
    submit = SubmitField("Add outcome", widget=GovSubmitInput())


class OutcomeReviewForm(FlaskForm):
    review = _radios("Was the outcome achieved?",
                     [SelectChoice(r.value, r.label) for r in OutcomeReview if r != OutcomeReview.OPEN],
                     "Select whether the outcome was achieved", coerce=OutcomeReview)
    reviewed_on = GovukDateField("Date of the review", noun="Date of the review", description="For example, 27 3 2026")
    submit = SubmitField("Save review", widget=GovSubmitInput())

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if not self.reviewed_on.errors:
            if self.reviewed_on.data is None:
                _fail(self.reviewed_on, "Enter the date of the review")
            elif self.reviewed_on.data > self.today:
                _fail(self.reviewed_on, "Date of the review must be today or in the past")
        return ok and not self.errors


SHOW_OPEN, SHOW_CLOSED, SHOW_ALL = "open", "closed", "all"


class CaseFilterForm(FilterForm):
    """The case list's filter, read from the query string: open cases (the default), closed
    cases (with the closure date and the step-down agency), or both. A bad value means open."""

    show = SelectField("Show", widget=GovSelect(), default=SHOW_OPEN, choices=[
        SelectChoice(SHOW_OPEN, "Open cases"), SelectChoice(SHOW_CLOSED, "Closed cases"),
        SelectChoice(SHOW_ALL, "Open and closed cases")])

    def chosen(self) -> str:
        return self.show.data if "show" in self.valid_fields() and self.show.data else SHOW_OPEN
