"""Forms for retention: placing a legal hold on a person's records, and lifting it.

Text is cleaned of control characters (line breaks kept) and length-limited with the service's
limit; HTML is kept as typed and escaped when shown. The service checks the same again.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSubmitInput
from wtforms import RadioField, SelectChoice, SubmitField
from wtforms.validators import InputRequired, ValidationError

from panel.forms.fields import text_area
from panel.models import LegalHoldKind
from panel.reports.retention import DETAILS_MAX

KIND_MESSAGE = "Select why the records must be kept"


class LegalHoldForm(FlaskForm):
    kind = RadioField("Why must these records be kept?", widget=GovRadioInput(),
                      choices=[SelectChoice(k.value, k.label) for k in LegalHoldKind],
                      invalid_value_message=KIND_MESSAGE, invalid_choice_message=KIND_MESSAGE,
                      validators=[InputRequired(KIND_MESSAGE)])
    details = text_area("Details (optional for a review or a court case)", "the details", DETAILS_MAX,
                        hint="For example, the review’s or the court’s reference. For another legal reason, say "
                             "what it is. Only coordinators see this.")
    submit = SubmitField("Place the legal hold", widget=GovSubmitInput())

    def validate_details(self, field) -> None:
        if self.kind.data == LegalHoldKind.OTHER and not field.data:
            raise ValidationError("Enter the legal reason for the hold")


class LiftHoldForm(FlaskForm):
    reason = text_area("Why is the hold being lifted?", "why the hold is being lifted", DETAILS_MAX,
                       required="Enter why the hold is being lifted",
                       hint="For example, that the review has finished. The records are then anonymised when due.")
    submit = SubmitField("Lift the legal hold", widget=GovSubmitInput())
