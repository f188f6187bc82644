"""Forms of the subject-access pages: the search for a person, opening a request, withholding
an entry, and closing the request with the date sent."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSubmitInput, GovTextInput
from wtforms import RadioField, SelectChoice, StringField, SubmitField
from wtforms.validators import InputRequired

from panel.forms.fields import GovukDateField, text_area
from panel.forms.text import one_line
from panel.forms.validators import Limit, PlainText
from panel.models import WithholdingReason
from panel.reports.subject_access import NOTE_MAX, PASSAGE_MAX, QUERY_MAX

ALL, PART = "all", "part"


class PersonSearchForm(FlaskForm):
    """Sent by POST, so what was searched for never appears in an address or a log."""

    q = StringField("Name, NHS number or case reference", widget=GovTextInput(), filters=[one_line],
                    description="For example Sam Example, 943 476 5919 or CASPA-2027-004. Open and closed records "
                                "are searched.",
                    validators=[Limit("the search", QUERY_MAX), PlainText("The search")])
    date_of_birth = GovukDateField("Date of birth (optional)", query=True, noun="Date of birth",
                                   description="For example, 27 3 1984")
    search = SubmitField("Search", widget=GovSubmitInput())

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if ok and not self.q.data and self.date_of_birth.data is None:
            self.q.errors = [*self.q.errors, "Enter a name, NHS number or case reference, or a date of birth"]
        return ok and not self.errors


class OpenRequestForm(FlaskForm):
    received_on = GovukDateField("When was the request received?", noun="The date the request was received",
                                 description="The date it reached the council or the panel, by any means: letter, "
                                             "email, phone or in person. For example, 14 1 2027")
    open_request = SubmitField("Open the request", widget=GovSubmitInput())

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if ok and self.received_on.data is None:
            self.received_on.errors = ["Enter the date the request was received"]
        return ok and not self.errors


class WithholdForm(FlaskForm):
    part = RadioField("How much of it is withheld?", widget=GovRadioInput(), choices=[
        SelectChoice(ALL, "All of it"),
        SelectChoice(PART, "A passage of it"),
    ], validators=[InputRequired("Select how much of it is withheld")],
        invalid_choice_message="Select how much of it is withheld")
    passage = text_area("The passage to withhold (only for a passage)", "the passage", PASSAGE_MAX,
                        hint="Copy it exactly from the entry above.")
    reason = RadioField("Why is it withheld?", widget=GovRadioInput(), coerce=lambda v: WithholdingReason(v) if v else None,
                        choices=[SelectChoice(r.value, r.label) for r in WithholdingReason],
                        validators=[InputRequired("Select why it is withheld")],
                        invalid_choice_message="Select why it is withheld",
                        invalid_value_message="Select why it is withheld")
    note = text_area("Anything more about why (optional)", "the note", NOTE_MAX,
                     hint="Kept with the decision for the record. It is not released.")
    withhold = SubmitField("Withhold", widget=GovSubmitInput())

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if ok and self.part.data == PART and not self.passage.data:
            self.passage.errors = ["Enter the passage to withhold, copied from the entry"]
        return ok and not self.errors


class ConfirmForm(FlaskForm):
    """A button with nothing to fill in: the CSRF token only."""


class CloseRequestForm(FlaskForm):
    sent_on = GovukDateField("When was the release sent to the person?", noun="The date the release was sent",
                             description="For example, 10 2 2027")
    close_request = SubmitField("Close the request", widget=GovSubmitInput())

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if ok and self.sent_on.data is None:
            self.sent_on.errors = ["Enter the date the release was sent"]
        return ok and not self.errors
