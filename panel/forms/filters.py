"""The base of a list's filter form: read from the query string, never showing an error."""

from __future__ import annotations

from flask_wtf import FlaskForm


class FilterForm(FlaskForm):
    """Filters for a list page, read from the query string (no CSRF: a GET changes nothing).

    A value that is missing or not among the choices (first load, an old bookmark, a hand-edited
    address) is ignored, never shown as "Not a valid choice": the user has done nothing wrong."""

    class Meta:
        csrf = False

    def valid_fields(self) -> set[str]:
        """Validate, keep the names of the fields whose values are good, then clear every error."""
        self.validate()
        good = {name for name, field in self._fields.items() if not field.errors}
        for field in self:
            field.errors = []
        self.form_errors = []
        return good
