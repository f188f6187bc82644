"""Forms for adding and changing users, filtering the user list, and confirming a password reset."""

from __future__ import annotations

import unicodedata

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSelect, GovSubmitInput, GovTextInput
from wtforms import RadioField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, InputRequired, Length, ValidationError

from panel.admin import services
from panel.models import Agency, Role

NAME_MAX = 120
EMAIL_MAX = 254
# Characters that can reorder or hide text on screen (bidirectional overrides, zero-width).
_INVISIBLE = frozenset("\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")


def strip_text(value: str | None) -> str:
    """Trim surrounding whitespace from a submitted text value (None becomes "")."""
    return (value or "").strip()


def lower_text(value: str | None) -> str:
    return (value or "").strip().lower()


class PlainText:
    """Refuse control characters, invisible direction marks and angle brackets in short text."""

    def __init__(self, label: str) -> None:
        self.label = label

    def __call__(self, form, field) -> None:
        text = field.data or ""
        if any(unicodedata.category(ch) == "Cc" or ch in _INVISIBLE for ch in text):
            raise ValidationError(f"{self.label} must not include tabs, line breaks or other control characters")
        if "<" in text or ">" in text:
            raise ValidationError(f"{self.label} must not include the characters < or >")


def optional_int(value) -> int | None:
    """Coerce a select's value: "" means none chosen; anything else must be a whole number."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise ValueError("not an id")
    return int(text)


def role_choices() -> list[SelectChoice]:
    return [SelectChoice(role.value, role.label) for role in Role]


def agency_choices(agencies: list[Agency], placeholder: str) -> list[SelectChoice]:
    return [SelectChoice("", placeholder)] + [SelectChoice(str(a.id), a.name) for a in agencies]


def _name_field() -> StringField:
    return StringField(
        "Full name",
        widget=GovTextInput(),
        filters=[strip_text],
        validators=[
            DataRequired("Enter the user’s name"),
            Length(max=NAME_MAX, message=f"Name must be {NAME_MAX} characters or fewer"),
            PlainText("Name"),
        ],
    )


def _role_field() -> RadioField:
    return RadioField(
        "Role",
        widget=GovRadioInput(),
        coerce=Role,
        choices=role_choices(),
        invalid_value_message="Select a role",
        invalid_choice_message="Select a role",
        validators=[InputRequired("Select a role")],
    )


def _agency_field() -> SelectField:
    return SelectField(
        "Agency",
        widget=GovSelect(),
        coerce=optional_int,
        invalid_value_message="Select an agency",
        invalid_choice_message="Select an agency",
        validators=[DataRequired("Select an agency")],
    )


class UserAddForm(FlaskForm):
    name = _name_field()
    email = StringField(
        "Email address",
        widget=GovTextInput(),
        description="Their work email address. They sign in with it.",
        filters=[lower_text],
        validators=[
            DataRequired("Enter an email address"),
            Length(max=EMAIL_MAX, message=f"Email address must be {EMAIL_MAX} characters or fewer"),
            Email("Enter an email address in the correct format, like name@example.com",
                  check_deliverability=False, allow_smtputf8=False),
        ],
    )
    role = _role_field()
    agency_id = _agency_field()
    submit = SubmitField("Add user", widget=GovSubmitInput())

    def __init__(self, *args, agencies: list[Agency], **kwargs):
        super().__init__(*args, **kwargs)
        self.agency_id.choices = agency_choices(agencies, "Choose an agency")

    def validate_email(self, field) -> None:
        if not field.errors and services.email_in_use(field.data):  # only well-formed input reaches the database
            raise ValidationError(services.DUPLICATE_EMAIL)


ACTIVE, DEACTIVATED = "active", "deactivated"


class UserEditForm(FlaskForm):
    name = _name_field()
    role = _role_field()
    agency_id = _agency_field()
    status = RadioField(
        "Account status",
        widget=GovRadioInput(),
        choices=[
            SelectChoice(ACTIVE, "Active – they can sign in"),
            SelectChoice(DEACTIVATED, "Deactivated – they cannot sign in"),
        ],
        invalid_value_message="Select whether the account is active",
        invalid_choice_message="Select whether the account is active",
        validators=[InputRequired("Select whether the account is active")],
    )
    submit = SubmitField("Save changes", widget=GovSubmitInput())

    def __init__(self, *args, agencies: list[Agency], **kwargs):
        super().__init__(*args, **kwargs)
        self.agency_id.choices = agency_choices(agencies, "Choose an agency")


class UserFilterForm(FlaskForm):
    """Filters for the user list, read from the query string. Bad values are ignored."""

    class Meta:
        csrf = False

    agency = SelectField("Agency", widget=GovSelect(), coerce=optional_int)
    role = SelectField("Role", widget=GovSelect())

    def __init__(self, *args, agencies: list[Agency], **kwargs):
        super().__init__(*args, **kwargs)
        self.agency.choices = agency_choices(agencies, "All agencies")
        self.role.choices = [SelectChoice("", "All roles")] + role_choices()

    def chosen(self) -> tuple[int | None, Role | None]:
        """The agency id and role to filter by, leaving out any that did not validate."""
        self.validate()
        agency_id = self.agency.data if not self.agency.errors else None
        role = Role(self.role.data) if self.role.data and not self.role.errors else None
        return agency_id, role


class ConfirmForm(FlaskForm):
    """A bare form for a confirmation button: it carries only the CSRF token."""

    submit = SubmitField("Continue", widget=GovSubmitInput())
