"""The case list and the case summary page (/cases/<reference>)."""

from __future__ import annotations


import sqlalchemy as sa
from flask import render_template
from flask_login import current_user

from panel.actions.services import open_action_count
from panel.auth.policy import OPERATIONS, can_access_case_records
from panel.cases.access import load_case
from panel.cases.views import bp
from panel.extensions import db
from panel.meetings.mdt import next_meeting
from panel.models import OPEN_CASE_STATUSES, Case, Involvement, Role
from panel.dates import london_today


@bp.route("")
def list_cases():
    """Open cases the user may see: all for coordinators and chairs, their agency's for others
    (a SPoC also sees, restricted, the cases their agency is not involved in)."""
    user = current_user._get_current_object()
    cases: list[Case] = []
    involved_ids: set[int] = set()
    if can_access_case_records(user, london_today()):
        query = (sa.select(Case).where(Case.status.in_(OPEN_CASE_STATUSES))
                 .options(sa.orm.joinedload(Case.person), sa.orm.joinedload(Case.lead_agency))
                 .order_by(Case.reference))
        mine = sa.select(Involvement.case_id).where(Involvement.agency_id == user.agency_id,
                                                    Involvement.case_id.is_not(None))
        if user.role == Role.PRACTITIONER:
            query = query.where(Case.id.in_(mine))
        cases = list(db.session.execute(query).scalars())
        involved_ids = set(db.session.execute(mine).scalars())
    full_for_all = user.role in OPERATIONS
    return render_template("cases/list_cases.html", cases=cases, involved_ids=involved_ids, full_for_all=full_for_all)


@bp.route("/<reference>")
def view_case(reference: str):
    view = load_case(reference, section="summary")
    open_actions = open_action_count(view.case.id) if view.full else 0
    upcoming = next_meeting(view.case) if view.full else None
    db.session.commit()
    in_pathway = (london_today() - view.case.accepted_on).days
    return render_template("cases/view_case.html", view=view, case=view.case, in_pathway_days=in_pathway,
                           open_actions=open_actions, next_meeting=upcoming)
