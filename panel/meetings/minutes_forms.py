"""Forms for attendance and minutes. The decision forms reuse the referral and case forms
(panel.referrals.triage_forms.DecisionForm, panel.cases.forms.RiskLevelForm) and the action
log's AddActionForm, so the same questions get the same messages everywhere.

Text is cleaned of control characters (newlines kept in long text) and length-limited with
the services' limits; HTML is kept as typed and escaped when shown. A choice that is not on
the list gets a GOV.UK message, never a 500.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import BooleanField, RadioField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import InputRequired

from panel.forms.fields import optional_int, text_area as _area
from panel.forms.text import one_line
from panel.forms.validators import Limit, fail as _fail
from panel.meetings.minutes import (
    AMENDMENT_MAX,
    AMENDMENT_REASON_MAX,
    LAST_ACTION_OUTCOMES,
    NAME_MAX,
    NOTES_MAX,
    UPDATE_MAX,
)
from panel.models import Action, AgendaItem, AttendanceStatus

APPROVE, RETURN = "approve", "return"
NOTE_MAX = 2000  # as panel.actions.services.NOTE_MAX


def _line(label: str, what: str, limit: int, *, hint: str = "") -> StringField:
    return StringField(label, widget=GovTextInput(), description=hint, filters=[one_line],
                       validators=[Limit(what, limit)])


# ---- attendance ---------------------------------------------------------------------------


class AttendanceForm(FlaskForm):
    status = RadioField("Did the agency attend?", widget=GovRadioInput(), coerce=str,
                        invalid_value_message="Select whether the agency attended",
                        invalid_choice_message="Select whether the agency attended",
                        validators=[InputRequired("Select whether the agency attended")])
    attendee_name = _line("Who attended", "Who attended", NAME_MAX,
                          hint="Their name and role. Only for an agency that attended.")
    deputised_by = _line("Who deputised for the SPoC (if anyone)", "Who deputised", NAME_MAX,
                         hint="The name of the person who came in the SPoC’s place.")
    confidentiality_acknowledged = BooleanField(
        "The attendee acknowledged the confidentiality statement", widget=GovCheckboxInput())
    written_update = _area("Written update", "The written update", UPDATE_MAX,
                           hint="Only for apologies with a written update. The coordinator and the chair read it "
                                "at the panel.")
    submit = SubmitField("Save attendance", widget=GovSubmitInput())

    def __init__(self, *args, statuses: tuple[AttendanceStatus, ...], spoc: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.statuses = statuses
        self.status.choices = [SelectChoice(s.value, s.label) for s in statuses]
        if spoc:
            message = "Select whether you are sending a written update"
            self.status.label.text = "Your agency’s apologies"
            self.status.validators = [InputRequired(message)]
            self.status.invalid_choice_message = self.status.invalid_value_message = message
            self.written_update.description = "What the panel should know from your agency about the cases on the agenda."

    @property
    def chosen(self) -> AttendanceStatus | None:
        values = {s.value: s for s in self.statuses}
        return values.get(self.status.data) if isinstance(self.status.data, str) else None

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        chosen = self.chosen
        if chosen == AttendanceStatus.PRESENT and not self.attendee_name.errors and not self.deputised_by.errors \
                and not (self.attendee_name.data or self.deputised_by.data):
            _fail(self.attendee_name, "Enter who attended, or who deputised for the SPoC")
        if chosen == AttendanceStatus.APOLOGIES_WITH_UPDATE and not self.written_update.errors \
                and not self.written_update.data:
            _fail(self.written_update, "Enter the written update")
        return ok and not self.errors


class AttendanceSheetForm(FlaskForm):
    """Every expected agency's attendance on one page (the CSRF token and the button; the rows,
    named "<field>-<agency id>", are read by the view and checked by record_attendance_sheet)."""
    save_attendance = SubmitField("Save attendance", widget=GovSubmitInput())


class SheetErrors:
    """The attendance sheet's problems in the shape the layout's error summary reads (ids as the
    fields' ids, "status-<agency id>" and so on)."""
    _fields: dict = {}

    def __init__(self, problems: dict[str, str]) -> None:
        self.errors = {key: [message] for key, message in problems.items()}


# ---- minutes of an item ---------------------------------------------------------------------


class NotesForm(FlaskForm):
    notes = _area("Notes", "The notes", NOTES_MAX,
                  hint="What the panel discussed. Decisions and actions are recorded below.")
    save_notes = SubmitField("Save notes", widget=GovSubmitInput())


class ClosureDecisionForm(FlaskForm):
    closure_decision = RadioField(
        "What did the panel decide?", widget=GovRadioInput(),
        choices=[SelectChoice(APPROVE, "Approve closure"), SelectChoice(RETURN, "Return it to the coordinator")],
        invalid_value_message="Select whether the panel approved the closure",
        invalid_choice_message="Select whether the panel approved the closure",
        validators=[InputRequired("Select whether the panel approved the closure")])
    closure_reason = _area("If returning: why is it being returned?", "The reason", 1000,
                           hint="The coordinator sees this in the chronology.")
    save_closure = SubmitField("Record the closure decision", widget=GovSubmitInput())

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.closure_decision.data == RETURN and not self.closure_reason.errors and not self.closure_reason.data:
            _fail(self.closure_reason, "Enter why the closure is being returned")
        return ok and not self.errors


# ---- the last panel's actions ----------------------------------------------------------------


def last_actions_form(actions: list[Action], formdata=None, meta: dict | None = None) -> FlaskForm:
    """One optional radio group and note per action: outcome_<id>, note_<id>."""
    fields = {}
    choices = [SelectChoice("", "Still open")] + [SelectChoice(s.value, s.label) for s in LAST_ACTION_OUTCOMES]
    for action in actions:
        fields[f"outcome_{action.id}"] = RadioField(
            f"What happened to action {action.id}?", widget=GovRadioInput(), choices=choices, default="",
            invalid_value_message=f"Select what happened to action {action.id}, or still open",
            invalid_choice_message=f"Select what happened to action {action.id}, or still open")
        fields[f"note_{action.id}"] = _area(f"Note on action {action.id} (optional)", "The note", NOTE_MAX)
    fields["submit"] = SubmitField("Save outcomes", widget=GovSubmitInput())
    form_class = type("LastActionsForm", (FlaskForm,), fields)
    extra = {"meta": meta} if meta else {}
    return form_class(formdata=formdata, **extra) if formdata is not None else form_class(**extra)


# ---- finalising and amendments --------------------------------------------------------------


class FinaliseForm(FlaskForm):
    submit = SubmitField("Finalise the minutes", widget=GovSubmitInput())


class AmendForm(FlaskForm):
    item_id = SelectField("What does the amendment correct?", widget=GovSelect(), coerce=optional_int,
                          invalid_value_message="Select the part of the minutes the amendment corrects",
                          invalid_choice_message="Select the part of the minutes the amendment corrects")
    text = _area("The amendment", "The amendment", AMENDMENT_MAX, required="Enter the amendment",
                 hint="The correct wording. The original stays in the minutes, with this amendment beneath it.")
    reason = _area("Why are the minutes being amended?", "The reason", AMENDMENT_REASON_MAX,
                   required="Enter why the minutes are being amended")
    submit = SubmitField("Record the amendment", widget=GovSubmitInput())

    def __init__(self, *args, items: list[tuple[AgendaItem, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.item_id.choices = [SelectChoice("", "The minutes as a whole")] + [
            SelectChoice(str(item.id), title) for item, title in items]
