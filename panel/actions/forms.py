"""Forms for the action log: its filters, adding an action, an update, escalation by hand and
acknowledging an escalation.

Text is cleaned of control characters (newlines kept in long text) and length-limited with the
services' limits; HTML is kept as typed and escaped when shown. The forms check what they can
(lengths, real dates, dates not in the past, a reason for a new due date) so the user sees the
message on the right field; the services check the same rules again and the view puts any
ServiceError it raises on the field the error names.
"""

from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import BooleanField, RadioField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import InputRequired, ValidationError

from panel.actions.services import DESCRIPTION_MAX, NOT_DONE_REASON, NOTE_MAX, REASON_MAX, ActionFilters
from panel.dates import DateRange, govuk_date
from panel.forms.fields import GovukDateField, optional_int, text_area as _area
from panel.forms.text import one_line
from panel.forms.validators import PlainText, fail as _fail
from panel.models import ActionStatus, ActionUpdate, Agency, User

ESCALATION_REASON_MAX = 1000   # as services.escalate_by_hand
COMMENT_MAX = 1000             # as services.acknowledge
REFERENCE_MAX = 20             # as panel.cases.access.load_case
TO_AGENCY, TO_CHAIR = "agency", "chair"


# ---- the dates an export covers ---------------------------------------------------------------


# ---- the action log's filters (query string) -------------------------------------------------


class ActionFilterForm(FlaskForm):
    """Filters for the action log and its CSV export. A choice that is not offered is ignored
    (shown and applied as "All"); a case reference that cannot be one is a GOV.UK error.

    The dates are the export's only (the actions agreed from, to; by the date each was created):
    none gives the last 12 months, or every date with ``all=y``. A date that is not a real one
    is a GOV.UK error on the log, where the export sends it back."""

    class Meta:
        csrf = False

    agency = SelectField("Agency", widget=GovSelect(), coerce=optional_int)
    case = StringField("Case reference", widget=GovTextInput(), filters=[lambda v: one_line(v).upper()],
                       validators=[PlainText("Case reference")])
    status = SelectField("Status", widget=GovSelect(), default="")
    overdue = BooleanField("Overdue", widget=GovCheckboxInput())
    due_this_week = BooleanField("Due this week", widget=GovCheckboxInput())
    escalated = BooleanField("Escalated", widget=GovCheckboxInput())
    escalated_today = BooleanField("Escalated today", widget=GovCheckboxInput())
    awaiting_chair = BooleanField("Awaiting the chair", widget=GovCheckboxInput())
    date_from = GovukDateField("Agreed from", name="from", query=True)
    date_to = GovukDateField("Agreed to", name="to", query=True)
    all_dates = StringField("All dates", name="all")  # "y": every date, when none is given

    def __init__(self, *args, agencies: list[Agency], **kwargs):
        super().__init__(*args, **kwargs)
        self.agency.choices = [SelectChoice("", "All agencies")] + [SelectChoice(str(a.id), a.name) for a in agencies]
        self.status.choices = [SelectChoice("", "All statuses")] + [SelectChoice(s.value, s.label) for s in ActionStatus]

    def validate_case(self, field) -> None:
        if len(field.data or "") > REFERENCE_MAX:
            raise ValidationError(f"Case reference must be {REFERENCE_MAX} characters or fewer, like CASPA-2027-001")

    def validate_date_to(self, field: GovukDateField) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("Agreed to must be the same as or after agreed from")

    def check(self) -> bool:
        """Validate; drop bad choices. True when the filters can be applied."""
        self.validate()
        for field in (self.agency, self.status):
            if field.errors:
                field.data, field.errors, field.raw_data = (None if field is self.agency else ""), [], []
        return not self.errors

    def chosen(self) -> ActionFilters:
        return ActionFilters(agency_id=self.agency.data, case_reference=self.case.data or "",
                             status=ActionStatus(self.status.data) if self.status.data else None,
                             overdue=bool(self.overdue.data), due_this_week=bool(self.due_this_week.data),
                             escalated=bool(self.escalated.data), escalated_today=bool(self.escalated_today.data),
                             awaiting_chair=bool(self.awaiting_chair.data))

    def filters(self) -> dict[str, str]:
        """The applied filters as query-string values (for pagination and the export link)."""
        chosen: dict[str, str] = {}
        if self.agency.data is not None:
            chosen["agency"] = str(self.agency.data)
        if self.case.data:
            chosen["case"] = self.case.data
        if self.status.data:
            chosen["status"] = self.status.data
        for name in ("overdue", "due_this_week", "escalated", "escalated_today", "awaiting_chair"):
            if getattr(self, name).data:
                chosen[name] = "y"
        return chosen

    def export_range(self, today: date) -> DateRange:
        """The dates the export covers (valid form only)."""
        return DateRange.of(self.date_from.data, self.date_to.data, everything=self.all_dates.data == "y",
                            today=today)

    def export_args(self) -> dict[str, str]:
        """The filters and the export's dates as query-string values (for the export link)."""
        chosen = self.filters()
        if self.date_from.data:
            chosen["from"] = self.date_from.data.isoformat()
        if self.date_to.data:
            chosen["to"] = self.date_to.data.isoformat()
        if not (self.date_from.data or self.date_to.data) and self.all_dates.data == "y":
            chosen["all"] = "y"
        return chosen


# ---- adding an action -------------------------------------------------------------------------


def person_label(user: User) -> str:
    return f"{user.name} ({user.agency.name})"


class AddActionForm(FlaskForm):
    description = _area("What will the agency do?", "The action", DESCRIPTION_MAX,
                        required="Enter what the agency will do",
                        hint="As agreed at panel. Say what will be done, not just who will do it.")
    agency_id = SelectField("Agency responsible", widget=GovSelect(), coerce=optional_int,
                            description="Only agencies involved in the case are listed.",
                            invalid_value_message="Select the agency responsible",
                            invalid_choice_message="Select the agency responsible")
    assignee_id = SelectField("Named person (optional)", widget=GovSelect(), coerce=optional_int,
                              description="A SPoC or practitioner of the agency responsible. Leave as ‘No named "
                                          "person’ and the agency’s SPoC has it.",
                              invalid_value_message="Select a named person from the list, or no named person",
                              invalid_choice_message="Select a named person from the list, or no named person")
    due_on = GovukDateField("Due date", noun="Due date", description="For example, 27 3 2027")
    submit = SubmitField("Add action", widget=GovSubmitInput())

    def __init__(self, *args, agencies: list[Agency], people: list[User], today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.agency_id.choices = [SelectChoice("", "Choose an agency")] + [
            SelectChoice(str(a.id), a.name) for a in agencies]
        self.assignee_id.choices = [SelectChoice("", "No named person")] + [
            SelectChoice(str(u.id), person_label(u)) for u in people]
        self.people = {u.id: u for u in people}
        self.today = today

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        agency, person, due = self.agency_id, self.assignee_id, self.due_on
        if not agency.errors and agency.data is None:
            _fail(agency, "Select the agency responsible")
        if not person.errors and person.data is not None and agency.data is not None and not agency.errors:
            if self.people[person.data].agency_id != agency.data:
                _fail(person, "Select a named person who works for the agency responsible, or no named person")
        if not due.errors:
            if due.data is None:
                _fail(due, "Enter the due date")
            elif due.data < self.today:
                _fail(due, "Due date must be today or in the future")
        return ok and not self.errors


# ---- updating an action -----------------------------------------------------------------------


class UpdateActionForm(FlaskForm):
    note = _area("Update (optional)", "The update", NOTE_MAX,
                 hint="What has been done since the last update, or what is in the way. If the agency did not "
                      "do the action, say why: it is needed to mark it ‘Not done by the agency’.")
    status = RadioField("Status", widget=GovRadioInput(), coerce=ActionStatus,
                        choices=[SelectChoice(s.value, s.label) for s in ActionStatus],
                        invalid_value_message="Select the status of the action",
                        invalid_choice_message="Select the status of the action",
                        validators=[InputRequired("Select the status of the action")])
    due_on = GovukDateField("New due date (optional)", noun="New due date", description="For example, 27 3 2027")
    reason = _area("Reason for changing the due date", "The reason for changing the due date", REASON_MAX,
                   hint="Needed only if you give a new due date. The escalation reminders start again from it.")
    submit = SubmitField("Save update", widget=GovSubmitInput())

    def __init__(self, *args, current_due: date, current_status: ActionStatus, today: date,
                 previous: ActionUpdate | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.current_due, self.current_status, self.today = current_due, current_status, today
        self.previous = previous  # this user's last update, if made in the last few minutes
        self.repeat = False
        self.due_on.description = f"Now due {govuk_date(current_due)}. Leave blank to keep it. For example, 27 3 2027"

    @property
    def new_due(self) -> date | None:
        """The due date given, if it differs from the current one."""
        return self.due_on.data if self.due_on.data is not None and self.due_on.data != self.current_due else None

    def repeats_previous(self) -> bool:
        """The same form sent again (a double click, or back and resend): the note is the same,
        and the status and due date asked for are what the action has now or what the previous
        update set."""
        last = self.previous
        if last is None or self.note.data != last.note:
            return False
        status_ok = self.status.data in (self.current_status, last.new_status)
        due_ok = self.due_on.data is None or self.due_on.data in (self.current_due, last.new_due_on)
        return status_ok and due_ok

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if ok and self.repeats_previous():
            self.repeat = True
            return True
        if self.new_due is not None and not self.due_on.errors:
            if self.new_due < self.today:
                _fail(self.due_on, "New due date must be today or in the future")
            if not self.reason.errors and not self.reason.data:
                _fail(self.reason, "Enter the reason for changing the due date")
        if ok and not self.errors and not self.note.data and self.new_due is None \
                and self.status.data == ActionStatus.OPEN:
            _fail(self.note, "Write an update, or change the status or the due date")
        if not self.note.errors and not self.note.data and self.status.data == ActionStatus.NOT_DONE \
                and self.current_status != ActionStatus.NOT_DONE:
            _fail(self.note, NOT_DONE_REASON)
        return ok and not self.errors


# ---- escalation by hand and acknowledgement ---------------------------------------------------


class EscalateForm(FlaskForm):
    to = RadioField("Who should it be escalated to?", widget=GovRadioInput(),
                    choices=[SelectChoice(TO_AGENCY, "The agency’s escalation contact"),
                             SelectChoice(TO_CHAIR, "The panel chair")],
                    invalid_value_message="Select who to escalate the action to",
                    invalid_choice_message="Select who to escalate the action to",
                    validators=[InputRequired("Select who to escalate the action to")])
    reason = _area("Why are you escalating it?", "The reason", ESCALATION_REASON_MAX,
                   required="Enter why you are escalating this action",
                   hint="The people told see this on the action’s page, not in the email.")
    submit = SubmitField("Escalate action", widget=GovSubmitInput())


class AcknowledgeForm(FlaskForm):
    comment = _area("What will your agency do?", "The comment", COMMENT_MAX,
                    required="Enter a comment: what your agency will do",
                    hint="The coordinator sees this on the action’s page.")
    submit = SubmitField("Acknowledge escalation", widget=GovSubmitInput())


class ChairAcknowledgeForm(AcknowledgeForm):
    """The chair acknowledges for the panel, not for an agency of their own."""

    comment = _area("What will happen next?", "The comment", COMMENT_MAX,
                    required="Enter what will happen next",
                    hint="For example, that the action is on the next panel’s agenda. The coordinator sees this "
                         "on the action’s page.")


class ChaseForm(FlaskForm):
    """"Chase now": the CSRF token and the button (what is chased is in the URL)."""
    submit = SubmitField("Chase now", widget=GovSubmitInput())
