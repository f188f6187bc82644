"""The one error a service raises for the user to see, and the view helper that shows it.

A service refuses a change by raising ServiceError with the message the user reads (GOV.UK
wording) and the name of the form field it is about. The view catches it, calls
show_service_error(form, error) and renders the page again: the layout's error summary links to
the field, and the field shows the message beside it. No view finds a field by reading the text.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_wtf import FlaskForm


class ServiceError(ValueError):
    """A rule refused the change; nothing the service did should be kept (the view rolls back).

    `message` is shown to the user as it is. `field` names the form field it belongs to, or is
    None when it is about the form as a whole (the view then says which field to show it on).
    A ValueError, so code that refuses bad values in general also catches it."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __repr__(self) -> str:
        return f"{type(self).__name__}(field={self.field!r}, message={self.message!r})"


def show_service_error(form: FlaskForm, error: ServiceError, *, default: str | None = None,
                       fields: Mapping[str, str] | None = None) -> None:
    """Show the error on its field, so the error summary links to it and the field shows it.

    `fields` maps a service's field name to this form's name for it, where they differ (a page
    with two forms that both have a reason). An error with no field, or one this form does not
    have, goes on `default`; without one, on the form's first field, where the summary's link
    still lands on the form."""
    name = error.field
    if name is not None and fields:
        name = fields.get(name, name)
    if name is None or name not in form._fields:
        name = default if default is not None else _first_field(form)
    field = form[name]
    field.errors = [*field.errors, error.message]


def _first_field(form: FlaskForm) -> str:
    return next(name for name in form._fields if name != "csrf_token")
