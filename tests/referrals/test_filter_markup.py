"""The lists' date filters (components/date_field.html's date_field, used by the referral list,
the action log and the printable chronology) are written out, not drawn with govukDateInput (issue 18: the macro's three
govukInput calls a date were a fifth of those pages' time): the written-out markup must stay the
markup GOV.UK's macro draws for the same field, empty, filled in, and with each kind of error."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from panel.actions.forms import ActionFilterForm
from panel.referrals.triage_forms import ReferralFilterForm
from tests.meetings.markup import elements

QUERIES = [
    [],                                                              # nothing chosen
    [("from", "1"), ("from", "3"), ("from", "2027"), ("to", ""), ("to", ""), ("to", "")],
    [("from", "2027-03-01"), ("to", "2027-03-31")],                  # a hand-made link
    [("from", "31"), ("from", "2"), ("from", "2027")],               # not a real date
    [("from", "1"), ("from", ""), ("from", "2027")],                 # a box left empty
    [("from", "1"), ("from", "3"), ("from", "27"), ("to", "<b>")],  # a short year; markup typed
    [("from", "9"), ("from", "3"), ("from", "2027"), ("to", "1"), ("to", "3"), ("to", "2027")],  # to before from
    [("from", "a"), ("from", "b")],                                  # two boxes only
]


def _forms(query):
    args = MultiDict(query)
    referral = ReferralFilterForm(formdata=args, agencies=None, panels=[])
    referral.chosen()  # validates as the list does
    action = ActionFilterForm(args, agencies=[])
    action.check()
    return [(referral.date_from, "For example, 1 3 2027"), (referral.date_to, "For example, 31 3 2027"),
            (action.date_from, "For example, 1 4 2026"), (action.date_to, "For example, 31 3 2027")]


@pytest.mark.parametrize("query", QUERIES)
def test_the_date_filter_is_the_markup_govuk_date_input_draws(app, query):
    with app.test_request_context("/"):
        date_field = app.jinja_env.get_template("components/date_field.html").module.date_field
        for field, hint in _forms(query):
            ours = elements(str(date_field(field, hint)))
            theirs = elements(str(field(params={"hint": {"text": hint}})))
            assert ours == theirs, (query, field.name)
            assert len(ours) >= 13  # group, fieldset, legend, hint, the date input, three boxes


def test_the_cases_above_include_errors_and_values(app):
    """The comparison above is only worth what it compares: errors and typed values among them."""
    with app.test_request_context("/"):
        seen = [field for query in QUERIES for field, _ in _forms(query)]
    assert any(field.errors for field in seen)
    assert any(field.raw_data and any(field.raw_data) for field in seen)
    assert any(not field.errors and field.data for field in seen)
