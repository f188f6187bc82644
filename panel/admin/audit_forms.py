"""The audit trail's filter form: read from the query string, so it carries no CSRF token."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from govuk_frontend_wtf.wtforms_widgets import GovSelect, GovTextInput
from wtforms import Form, SelectChoice, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from panel.dates import LONDON
from panel.forms.fields import GovukDateField
from panel.models import AuditAction

ACTION_LABELS = {
    AuditAction.VIEW: "Viewed",
    AuditAction.CREATE: "Created",
    AuditAction.UPDATE: "Changed",
    AuditAction.DELETE: "Deleted",
    AuditAction.EXPORT: "Exported",
    AuditAction.LOGIN: "Signed in",
    AuditAction.LOGIN_FAILED: "Failed sign-in",
    AuditAction.LOCKOUT: "Account locked",
    AuditAction.DENIED: "Access refused",
    AuditAction.LOGOUT: "Signed out",
}


def _clean(value: Any) -> Any:
    """Trim, and drop control characters (PostgreSQL refuses NUL in a query parameter)."""
    if not isinstance(value, str):
        return value
    return "".join(ch for ch in value if ch >= " " and ch != "\x7f").strip()


class AuditFilterForm(Form):
    """Filters for the audit trail page and its CSV export (the same query string)."""

    user = StringField(
        "User’s email address contains",
        widget=GovTextInput(),
        filters=[_clean],
        validators=[Optional(), Length(max=254, message="User’s email address must be 254 characters or fewer")],
    )
    action = SelectField(
        "Action",
        widget=GovSelect(),
        choices=[SelectChoice("", "Any action")] + [SelectChoice(a.value, ACTION_LABELS[a]) for a in AuditAction],
        default="",
        invalid_choice_message="Select an action from the list",
    )
    object_type = StringField(
        "Object type",
        widget=GovTextInput(),
        description="For example, user, agency or endpoint",
        filters=[_clean, lambda v: v.lower() if isinstance(v, str) else v],
        validators=[Optional(), Length(max=40, message="Object type must be 40 characters or fewer")],
    )
    object_id = StringField(
        "Object ID",
        widget=GovTextInput(),
        filters=[_clean],
        validators=[Optional(), Length(max=64, message="Object ID must be 64 characters or fewer")],
    )
    date_from = GovukDateField("Date from", name="from", query=True)
    date_to = GovukDateField("Date to", name="to", query=True)

    def validate_date_to(self, field: GovukDateField) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("Date to must be the same as or after date from")

    # -- what the view needs -------------------------------------------------------------

    def filters(self) -> dict[str, str]:
        """The filters in use, as plain strings (for links and the export's audit entry)."""
        out = {}
        for name, value in (("user", self.user.data), ("action", self.action.data),
                            ("object_type", self.object_type.data), ("object_id", self.object_id.data)):
            if value:
                out[name] = value
        if self.date_from.data:
            out["from"] = self.date_from.data.isoformat()
        if self.date_to.data:
            out["to"] = self.date_to.data.isoformat()
        return out

    def start_utc(self) -> datetime | None:
        """Midnight at the start of "date from", London time, in UTC."""
        return _london_midnight(self.date_from.data) if self.date_from.data else None

    def end_utc(self) -> datetime | None:
        """Midnight at the end of "date to", London time, in UTC (exclusive)."""
        if not self.date_to.data or self.date_to.data == date.max:
            return None
        return _london_midnight(self.date_to.data + timedelta(days=1))


def _london_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LONDON).astimezone(timezone.utc)
