"""The search page (/search?q=...), for every role but board and admin."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user
from govuk_frontend_wtf.wtforms_widgets import GovTextInput
from wtforms import Form, StringField

from panel.extensions import db
from panel.forms.errors import ServiceError, show_service_error
from panel.forms.text import one_line
from panel.search import services

bp = Blueprint("search", __name__)


class SearchForm(Form):
    """Read from the query string: a search changes nothing, so it carries no CSRF token."""

    q = StringField("Search for a person, case or referral", widget=GovTextInput(), filters=[one_line])


@bp.route("/search")
def search():
    form = SearchForm(request.args)
    results = None
    if "q" in request.args:
        try:
            results = services.search(text=form.q.data or "", user=current_user._get_current_object())
        except ServiceError as error:
            show_service_error(form, error)  # type: ignore[arg-type]
    html = render_template("search/search.html", form=form, results=results, max_results=services.MAX_RESULTS)
    if results is not None:
        db.session.commit()  # the audit entry; after rendering, so nothing shown is loaded again
    return html
