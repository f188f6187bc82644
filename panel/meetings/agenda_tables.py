"""The agenda's tables of actions (templates/meetings/_agenda_macros.html's actions_table),
written here rather than by macros: a panel's agenda has a table for each case on it and two
more, and the macros (a cell, an owner, a status and data_table's header cells, each a macro
call, and url_for for every action's link) were a large part of the meeting page's time at ten
years (issue 18). The markup is data_table's (components/table.html): tests/meetings/
test_agenda_tables.py renders both and compares them.
"""

from __future__ import annotations

from datetime import date
from typing import Callable, Iterable

from markupsafe import Markup, escape

from panel.dates import govuk_date
from panel.filters import table_row
from panel.models import Action

OVERDUE = Markup('<strong class="govuk-tag govuk-tag--red">Overdue</strong>')


def address_of(url_for: Callable[..., str], endpoint: str, name: str) -> Callable[[int], str]:
    """id -> the address url_for gives `endpoint` for it, url_for asked once (not once a row)."""
    marker = 2**31 - 1
    head, _, tail = url_for(endpoint, **{name: marker}).partition(str(marker))
    return lambda value: f"{head}{int(value)}{tail}"


def _owner(action: Action) -> Markup:
    owner = escape(action.agency.name)
    if action.assignee:
        owner += Markup(" (%s)") % action.assignee.name
    return owner


def actions_table(actions: Iterable[Action], today: date, caption: str, *, case_column: bool = False,
                  empty: str = "None", action_url: Callable[[int], str] | None = None) -> Markup:
    """The table of `actions` (each linked to its page when `action_url` is given), or `empty`
    in a paragraph when there are none."""
    actions = list(actions)
    if not actions:
        return Markup('<p class="govuk-body">%s</p>') % empty
    head = (["Case"] if case_column else []) + ["Action", "Owner", "Due", "Status"]
    rows = []
    for action in actions:
        description = (Markup('<a class="govuk-link" href="%s">%s</a>') % (action_url(action.id), action.description)
                       if action_url else escape(action.description))
        status = OVERDUE if action.is_overdue(today) else escape(action.status.label)
        cells = ([action.case.reference] if case_column else []) + [description, _owner(action),
                                                                     govuk_date(action.due_on), status]
        rows.append(table_row(cells))
    label = escape(escape(caption).striptags())  # as data_table's `caption | striptags`
    header = "".join(f'<th scope="col" class="govuk-table__header">{escape(text)}</th>' for text in head)
    # bandit B704: every part was escaped above, or is markup written here
    return Markup(  # nosec B704
        f'<div class="panel-table-container" role="region" aria-label="{label}" tabindex="0">'
        f'<table class="govuk-table"><caption class="govuk-table__caption govuk-table__caption--s">'
        f'{escape(caption)}</caption><thead class="govuk-table__head"><tr class="govuk-table__row">{header}</tr>'
        f'</thead><tbody class="govuk-table__body">{"".join(rows)}</tbody></table></div>')
