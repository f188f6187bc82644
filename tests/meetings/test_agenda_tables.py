"""The agenda's tables of actions are written in Python (panel.meetings.agenda_tables, issue 18):
the written-out table must be the markup components/table.html's data_table drew for the same
rows with the macros the agenda used before (each action linked to its page, its owner, and
"Overdue" in words), so the meeting page and a SPoC's agenda keep their semantics."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from panel.models import ActionStatus
from tests.meetings.markup import elements

TODAY = date(2027, 3, 10)

# templates/meetings/_agenda_macros.html's actions_table as it was, drawn by the macros
MACROS = """
{% from "meetings/_agenda_macros.html" import owner, action_status %}
{% from "components/table.html" import data_table %}
{% if actions %}
{% set table_rows = [] %}
{% set linked = 'actions.view_action' in url_map_endpoints() %}
{% for action in actions %}
  {% set description %}{% if linked %}<a class="govuk-link" href="{{ url_for('actions.view_action', action_id=action.id) }}">{{ action.description }}</a>{% else %}{{ action.description }}{% endif %}{% endset %}
  {% set _ = table_rows.append(([action.case.reference] if case_column else []) + [description, owner(action), action.due_on | govuk_date, action_status(action, today)]) %}
{% endfor %}
{{ data_table((['Case'] if case_column else []) + ['Action', 'Owner', 'Due', 'Status'], table_rows,
  caption=caption, caption_classes='govuk-table__caption--s') }}
{% else %}
<p class="govuk-body">{{ empty }}</p>
{% endif %}
"""
WRITTEN = """
{% from "meetings/_agenda_macros.html" import actions_table %}
{{ actions_table(actions, today, caption, case_column=case_column, empty=empty) }}
"""


def _action(number: int, *, description: str, due_on: date, assignee: str | None, status=ActionStatus.OPEN):
    return SimpleNamespace(
        id=number, description=description, due_on=due_on, status=status,
        agency=SimpleNamespace(name="Police & Probation <North>"),
        assignee=SimpleNamespace(name=assignee) if assignee else None,
        case=SimpleNamespace(reference=f"C-2027-{number:04d}"),
        is_overdue=lambda today, due_on=due_on, status=status: status == ActionStatus.OPEN and due_on < today)


ACTIONS = [
    _action(7, description="Visit & check the <door> locks", due_on=date(2027, 3, 1), assignee="Sam O'Neill"),
    _action(12, description="Safety plan “agreed”", due_on=date(2027, 4, 2), assignee=None),
    _action(31, description="Refer to housing", due_on=date(2027, 2, 2), assignee="Kim",
            status=ActionStatus.DONE),
]


@pytest.mark.parametrize("case_column", [True, False])
@pytest.mark.parametrize("actions", [ACTIONS, ACTIONS[:1], []], ids=["three", "one", "none"])
def test_the_actions_table_is_the_markup_data_table_and_the_macros_draw(app, case_column, actions):
    values = {"actions": actions, "today": TODAY, "caption": "3 open actions, 1 overdue & more",
              "case_column": case_column, "empty": "No open actions <yet>."}
    with app.test_request_context("/"):
        drawn = app.jinja_env.from_string(MACROS).render(**values)
        written = app.jinja_env.from_string(WRITTEN).render(**values)
    assert elements(written) == elements(drawn)
    if actions:
        assert all(f'href="/actions/{a.id}"' in written for a in actions)
        assert "Overdue" in written and "&lt;door&gt;" in written
    else:
        assert "No open actions &lt;yet&gt;." in written


def test_an_address_is_url_for_s_for_every_id(app):
    from flask import url_for

    from panel.meetings.agenda_tables import address_of

    with app.test_request_context("/"):
        address = address_of(url_for, "actions.view_action", "action_id")
        assert [address(n) for n in (1, 42, 2**31 - 1)] == \
            [url_for("actions.view_action", action_id=n) for n in (1, 42, 2**31 - 1)]
