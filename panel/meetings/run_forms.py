"""Forms of run mode (panel.meetings.views.run_views): one post saves everything on an item's
page, so the page is made of the minutes pages' own forms without their CSRF tokens, under the
one token of RunForm. The new actions' rows carry a prefix ("action1-description", ...) so the
same questions can be asked twice; a row left blank is not an action.
"""

from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm

from panel.actions.forms import AddActionForm
from panel.models import Agency, User

ACTION_ROWS = 2  # blank rows for new actions on each case item ("Save" gives two more)
NEXT, PREVIOUS, STAY = "next", "previous", "stay"
SUB_FORM = {"csrf": False}


class RunForm(FlaskForm):
    """The page's CSRF token; the buttons (name "go": next, previous, stay) are read by the view."""


def action_rows(*, agencies: list[Agency], people: list[User], today: date, sent: bool) -> list[AddActionForm]:
    """The new actions' rows, as sent (`sent`) or blank."""
    rows = []
    for number in range(1, ACTION_ROWS + 1):
        kwargs = {} if sent else {"formdata": None}
        rows.append(AddActionForm(prefix=f"action{number}", meta=SUB_FORM, agencies=agencies, people=people,
                                  today=today, **kwargs))
    return rows


def row_is_blank(row: AddActionForm) -> bool:
    """Nothing typed or chosen in a new action's row."""
    return not any(str(value).strip() for f in (row.description, row.agency_id, row.assignee_id, row.due_on)
                   for value in (f.raw_data or []))
