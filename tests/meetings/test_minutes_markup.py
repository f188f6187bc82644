"""The minutes page writes each item's summary out (meetings/_facts.html) rather than calling
govukSummaryList for it (issue 18: the macro was a quarter of the page's rendering at ten years):
the written-out list must be the markup the macro draws for the same rows."""

from __future__ import annotations

import pytest

from tests.meetings.markup import elements

GOVUK = """
{% from "govuk_frontend_jinja/components/summary-list/macro.html" import govukSummaryList %}
{% set list_rows = [] %}
{% for key, value in rows %}{% set _ = list_rows.append({'key': {'text': key}, 'value': {'text': value}}) %}{% endfor %}
{{ govukSummaryList({'rows': list_rows, 'classes': 'govuk-summary-list--no-border'}) }}
"""

ROWS = [
    [],
    [("Person", "A. B.")],
    [("Person", "S & E"), ("Risk level at the panel", "High"), ("Lead agency", "Police <North>"),
     ("Involved agencies", 'Housing, "Health" & Co')],
    [("Person", "JS"), ("Referred by", "Probation"), ("Status", "Awaiting panel")],
]


@pytest.mark.parametrize("rows", ROWS)
def test_an_items_facts_are_the_markup_govuk_summary_list_draws(app, rows):
    with app.test_request_context("/"):
        facts = app.jinja_env.get_template("meetings/_facts.html").module.facts
        ours = elements(str(facts(rows)))
        theirs = elements(app.jinja_env.from_string(GOVUK).render(rows=rows))
    assert ours == theirs
    assert len(ours) == 1 + 3 * len(rows)
