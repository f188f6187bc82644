"""The case list and the case summary page (/cases/<reference>)."""

from __future__ import annotations


import sqlalchemy as sa
from flask import render_template, request
from flask_login import current_user

from panel.actions.services import open_action_count
from panel import pagination as paging
from panel.auth.policy import OPERATIONS, can_access_case_records
from panel.cases.access import load_case
from panel.cases.forms import SHOW_ALL, SHOW_CLOSED, SHOW_OPEN, CaseFilterForm
from panel.cases.views import bp
from panel.extensions import db
from panel.meetings.mdt import next_meeting
from panel.models import OPEN_CASE_STATUSES, Case, CaseStatus, Involvement, Role
from panel.dates import london_today


PAGE_SIZE = 50
CASE_STATUSES = {SHOW_OPEN: OPEN_CASE_STATUSES, SHOW_CLOSED: (CaseStatus.CLOSED,), SHOW_ALL: tuple(CaseStatus)}


@bp.route("")
def list_cases():
    """Cases the user may see: all for coordinators and chairs, their agency's for others
    (a SPoC also sees, restricted, the cases their agency is not involved in). Open cases by
    default; closed cases (newest closure first) or both behind the filter, fifty a page."""
    user = current_user._get_current_object()
    filters = CaseFilterForm(formdata=request.args)
    show = filters.chosen()
    cases: list[Case] = []
    involved_ids: set[int] = set()
    total = 0
    page = pages = 1
    if can_access_case_records(user, london_today()):
        where = [Case.status.in_(CASE_STATUSES[show])]
        mine = sa.select(Involvement.case_id).where(Involvement.agency_id == user.agency_id,
                                                    Involvement.case_id.is_not(None))
        if user.role == Role.PRACTITIONER:
            where.append(Case.id.in_(mine))
        total = db.session.execute(sa.select(sa.func.count(Case.id)).where(*where)).scalar_one()
        pages = max(1, -(-total // PAGE_SIZE))
        page = paging.page_number(pages)
        order = (Case.reference,) if show != SHOW_CLOSED else (Case.closed_on.desc().nulls_last(), Case.reference)
        cases = list(db.session.execute(
            sa.select(Case).where(*where)
            .options(sa.orm.joinedload(Case.person), sa.orm.joinedload(Case.lead_agency),
                     sa.orm.joinedload(Case.step_down_agency))
            .order_by(*order).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).scalars())
        involved_ids = set(db.session.execute(mine.where(Involvement.case_id.in_([c.id for c in cases]))).scalars())
    full_for_all = user.role in OPERATIONS
    chosen = {} if show == SHOW_OPEN else {"show": show}
    return render_template(
        "cases/list_cases.html", cases=cases, involved_ids=involved_ids, full_for_all=full_for_all,
        filters=filters, show=show, total=total, first=(page - 1) * PAGE_SIZE + 1, pages=pages,
        pagination=paging.pagination("cases.list_cases", page, pages, label="Case list pages", **chosen))


@bp.route("/<reference>")
def view_case(reference: str):
    view = load_case(reference, section="summary")
    open_actions = open_action_count(view.case.id) if view.full else 0
    upcoming = next_meeting(view.case) if view.full else None
    in_pathway = (london_today() - view.case.accepted_on).days
    html = render_template("cases/view_case.html", view=view, case=view.case, in_pathway_days=in_pathway,
                           open_actions=open_actions, next_meeting=upcoming)
    db.session.commit()  # the audited view; after rendering, so nothing loaded is read again
    return html
