"""Forms for adding and changing users, filtering the user list, and confirming a password reset."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSelect, GovSubmitInput, GovTextInput
from wtforms import RadioField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, InputRequired, Length, ValidationError

from panel.admin import services
from panel.forms.fields import optional_int
from panel.forms.filters import FilterForm
from panel.forms.text import lower_text, strip_text
from panel.forms.validators import PlainText
from panel.models import Agency, Role

NAME_MAX = 120
EMAIL_MAX = 254


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


class UserFilterForm(FilterForm):
    """Filters for the user list, read from the query string. Bad values are ignored."""

    agency = SelectField("Agency", widget=GovSelect(), coerce=optional_int)
    role = SelectField("Role", widget=GovSelect())

    def __init__(self, *args, agencies: list[Agency], **kwargs):
        super().__init__(*args, **kwargs)
        self.agency.choices = agency_choices(agencies, "All agencies")
        self.role.choices = [SelectChoice("", "All roles")] + role_choices()

    def chosen(self) -> tuple[int | None, Role | None]:
        """The agency id and role to filter by, leaving out any that did not validate."""
        good = self.valid_fields()
        agency_id = self.agency.data if "agency" in good else None
        role = Role(self.role.data) if self.role.data and "role" in good else None
        return agency_id, role


class ConfirmForm(FlaskForm):
    """A bare form for a confirmation button: it carries only the CSRF token."""

    submit = SubmitField("Continue", widget=GovSubmitInput())
