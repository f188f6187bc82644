"""The retention list writes its rows in the view (retention_views.due_rows) rather than with the
`records`, `why` and `due` macros and govukTag for each row (issue 18: fifty rows of macros were
most of the page's time at ten years): the rows must be the markup the macros draw."""

from __future__ import annotations

from datetime import date

import pytest

from panel.models import LegalHold, RetentionRule
from panel.reports import retention
from panel.reports.views import retention_views
from tests.meetings.markup import elements

TODAY = date(2031, 5, 14)

# the list's rows as reports/retention.html wrote them with the macros
MACROS = """
{% from "govuk_frontend_jinja/components/tag/macro.html" import govukTag %}
{% from "components/table.html" import data_table %}
{% from "reports/_retention_macros.html" import records, why, due %}
{% set due_rows = [] %}
{% for adult in overview.due %}
  {% set action %}
    {%- if adult.hold -%}
      <a class="govuk-link" href="{{ url_for('retention.lift_hold', hold_id=adult.hold.id) }}">Lift the legal hold<span class="govuk-visually-hidden"> on {{ adult.references | join(', ') }}</span></a>
    {%- else -%}
      <a class="govuk-link" href="{{ url_for('retention.place_hold', person_id=adult.person_id) }}">Place a legal hold<span class="govuk-visually-hidden"> on {{ adult.references | join(', ') }}</span></a>
    {%- endif -%}
  {% endset %}
  {% set hold %}{% if adult.hold %}{{ govukTag({'text': 'Legal hold', 'classes': 'govuk-tag--yellow'}) }}{% else %}None{% endif %}{% endset %}
  {% set _ = due_rows.append({'attributes': {'id': 'person-' ~ adult.person_id}, 'cells': [
    records(adult), adult.initials or '–', why(adult), due(adult, overview.today), hold, action]}) %}
{% endfor %}
{{ data_table(['Records'], due_rows) }}
"""
WRITTEN = """
{% from "components/table.html" import data_table %}
{{ data_table(['Records'], due_rows) }}
"""


def _record(referral_id: int, reference: str, case_reference: str | None = None, *,
            ended_on: date | None = None, rule: RetentionRule | None = None) -> retention.Record:
    return retention.Record(referral_id, reference, referral_id + 100 if case_reference else None, case_reference,
                            ended_on, rule)


ADULTS = [
    [],
    [retention.Due(person_id=7, person_ids=(7,), initials="AB",
                   records=[_record(3, "R-2024-0003", "CASPA-2024-0001", ended_on=date(2025, 1, 2),
                                    rule=RetentionRule.CASE_CLOSED)],
                   ended_on=date(2025, 1, 2), rule=RetentionRule.CASE_CLOSED, due_on=date(2031, 1, 2))],
    [retention.Due(person_id=8, person_ids=(8, 12), initials="",
                   records=[_record(4, "", ended_on=date(2025, 6, 1), rule=RetentionRule.REFERRAL_DECLINED),
                            _record(5, "R-2025-<&>", "CASPA-2025-\"9\"", ended_on=date(2025, 6, 3),
                                    rule=RetentionRule.CASE_CLOSED)],
                   ended_on=date(2025, 6, 3), rule=RetentionRule.REFERRAL_WITHDRAWN, due_on=date(2031, 6, 3),
                   hold=LegalHold(id=41, person_id=8)),
     retention.Due(person_id=9, person_ids=(9,), initials="C&D", records=[_record(6, "R-2025-0006")]),
     retention.Due(person_id=10, person_ids=(10,), initials="EF",
                   records=[_record(7, "R-2025-0007", ended_on=date(2025, 5, 14), rule=RetentionRule.REFERRAL_DECLINED)],
                   ended_on=date(2025, 5, 14), rule=RetentionRule.REFERRAL_DECLINED, due_on=TODAY)],
]


@pytest.mark.parametrize("adults", ADULTS)
def test_the_lists_rows_are_the_markup_the_macros_draw(app, adults):
    found = retention.Overview(today=TODAY, due=adults, held=[])
    with app.test_request_context("/"):
        theirs = elements(app.jinja_env.from_string(MACROS).render(overview=found))
        ours = elements(app.jinja_env.from_string(WRITTEN).render(due_rows=retention_views.due_rows(found)))
    assert ours == theirs
    assert sum(1 for name, _, _ in ours if name == "tr") == 1 + len(adults)
