"""The period of the Board's reports, read from the query string (?from=YYYY-MM-DD&to=YYYY-MM-DD,
or the day, month and year boxes of the form), so it carries no CSRF token."""

from __future__ import annotations

from datetime import date

from wtforms import Form
from wtforms.validators import ValidationError

from panel.forms.fields import GovukDateField
from panel.reports import periods
from panel.reports.periods import Period


class PeriodForm(Form):
    date_from = GovukDateField("From", name="from", query=True, noun="The start date")
    date_to = GovukDateField("To", name="to", query=True, noun="The end date")

    def __init__(self, formdata, *, today: date) -> None:
        super().__init__(formdata)
        self.today = today

    def validate_date_from(self, field: GovukDateField) -> None:
        if field.data is None and not field.errors:
            raise ValidationError("Enter the start date")

    def validate_date_to(self, field: GovukDateField) -> None:
        if field.data is None:
            if not field.errors:
                raise ValidationError("Enter the end date")
            return
        if self.date_from.data is None:
            return
        problem = periods.problem(self.date_from.data, field.data, self.today)
        if problem is not None:
            name, message = problem
            if name == "from":
                self.date_from.errors = [*self.date_from.errors, message]
            else:
                raise ValidationError(message)

    def validate(self, extra_validators=None) -> bool:
        super().validate(extra_validators)
        return not self.errors

    def period(self) -> Period:
        """The period chosen (call after validate())."""
        return periods.named(self.date_from.data, self.date_to.data, self.today)
