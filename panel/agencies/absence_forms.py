"""The absence form (first and last day away, an optional note), for a SPoC's own account page
and for the coordinator's page of SPoC cover, and the button that ends or cancels one."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextInput
from wtforms import StringField, SubmitField

from panel.agencies.absence import NOTE_MAX
from panel.forms.fields import GovukDateField
from panel.forms.text import one_line
from panel.forms.validators import Limit, PlainText


class AbsenceForm(FlaskForm):
    starts_on = GovukDateField("First day away", noun="The first day away", description="For example, 3 3 2027")
    ends_on = GovukDateField("Last day away", noun="The last day away",
                             description="They are back the day after. For example, 14 3 2027")
    note = StringField("Note (optional)", widget=GovTextInput(), filters=[one_line],
                       validators=[Limit("the note", NOTE_MAX), PlainText("The note")],
                       description="For example, annual leave. The SPoC, their deputy, coordinators and administrators "
                                   "see it. Write nothing about the people the panel supports.")
    submit = SubmitField("Record the absence", widget=GovSubmitInput())

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.starts_on.data is None and not self.starts_on.errors:
            self.starts_on.errors = ["Enter the first day away"]
        if self.ends_on.data is None and not self.ends_on.errors:
            self.ends_on.errors = ["Enter the last day away"]
        return ok and not self.errors


class EndAbsenceForm(FlaskForm):
    """The button that ends an absence under way, or cancels one to come."""
