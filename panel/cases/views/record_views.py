"""Case sections: risk, agencies and rapport, staff safety, insight, and the person's outcomes.

Every page loads the case with need to know (load_case 404s and audits the view). Changes are
for coordinators and the SPoCs and practitioners of involved agencies (view.can_change); for
anyone else, chairs included, a change answers 404 and the page shows no form. Each change goes
through panel.cases.services, which writes the audit trail and the chronology.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from panel import audit, pagination as paging
from panel.cases import services
from panel.cases.access import CaseView, load_case
from panel.cases.forms import (
    YES,
    AgencyAddForm,
    ConfirmForm,
    FlagAddForm,
    InsightForm,
    InvolvementEditForm,
    LeadAgencyForm,
    OutcomeAddForm,
    OutcomeReviewForm,
    RiskLevelForm,
    RiskPlanForm,
    yes_no,
)
from panel.cases.views import bp
from panel.extensions import db
from panel.forms.errors import ServiceError
from panel.models import (
    Agency,
    AuditAction,
    CaseStatus,
    InsightVersion,
    Involvement,
    PersonalOutcome,
    RiskChange,
    StaffSafetyFlag,
    User,
)
from panel.dates import london_today

RISK_PAGE_SIZE = 25
INSIGHT_PAGE_SIZE = 10


CLOSED = "This case is closed, so its record cannot be changed. A coordinator can reopen it."


def _load(reference: str, section: str, *, record_page: bool = False) -> CaseView:
    """The case in full, or 404; a change (POST) by someone who may only read is 404 too, and a
    change to a closed case goes back to the page with a message (pages about one record check
    that once they have found it)."""
    view = load_case(reference, need_full=True, section=section)
    if request.method == "POST":
        _only_if_changeable(view, section)
        if not record_page:
            _not_if_closed(view, None)
    return view


def _not_if_closed(view: CaseView, back: str | None) -> None:
    if view.case.status == CaseStatus.CLOSED:
        flash(CLOSED, "info")
        db.session.commit()  # the audited view
        abort(redirect(url_for(back or request.endpoint, reference=view.case.reference)))


def _only_if_changeable(view: CaseView, section: str) -> None:
    """404 (audited as a refusal) unless this user may change the case."""
    if not view.can_change:
        db.session.rollback()  # not the view: a refused change
        audit.record(AuditAction.DENIED, "case", view.case.reference, summary={"section": section, "change": True})
        db.session.commit()
        abort(404)


def _me() -> User:
    return current_user._get_current_object()


def _render(template: str, view: CaseView, error_form=None, **context: Any):
    """Render a case page; `form` (which the layout's error summary reads) only when it has errors."""
    if error_form is not None and error_form.errors:
        context["form"] = error_form
    context["editable"] = view.can_change and view.case.status != CaseStatus.CLOSED
    context["closed_message"] = CLOSED if view.can_change and view.case.status == CaseStatus.CLOSED else None
    html = render_template(template, view=view, case=view.case, **context)
    db.session.commit()  # the audited view; after rendering, so nothing loaded is expired and loaded again
    return html


def _page(total: int, size: int) -> tuple[int, int]:
    """This page's number (from ?page=, clamped) and the number of pages."""
    pages = max(1, -(-total // size))
    return paging.page_number(pages), pages


def _users(ids: set[int | None]) -> dict[int, User]:
    """Users by id, in one query (for who cleared or reviewed something)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in db.session.execute(sa.select(User).where(User.id.in_(wanted))).scalars()}


def _record_id(raw: str | None) -> int | None:
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        return None
    return int(raw)


# ---- risk -----------------------------------------------------------------------------


@bp.route("/<reference>/risk", methods=["GET", "POST"])
def edit_risk(reference: str):
    view = _load(reference, "risk")
    case = view.case
    level_form = RiskLevelForm(formdata=None, current=case.risk_level, data={"level": case.risk_level})
    plan_form = RiskPlanForm(formdata=None, obj=case)
    error_form = None
    if request.method == "POST":
        if "save_plan" in request.form:
            plan_form = error_form = RiskPlanForm()
            if plan_form.validate_on_submit():
                changed = services.update_risk_plan(case, summary=plan_form.risk_summary.data,
                                                    contingency_plan=plan_form.contingency_plan.data, by=_me())
                db.session.commit()
                flash("The risk summary and contingency plan have been saved." if changed else "No changes were made.",
                      "success" if changed else "info")
                return redirect(url_for("cases.edit_risk", reference=case.reference))
        else:
            level_form = error_form = RiskLevelForm(current=case.risk_level)
            if level_form.validate_on_submit():
                services.change_risk(case, level=level_form.level.data, reason=level_form.reason.data, by=_me())
                db.session.commit()
                flash(f"The risk level has been changed to {case.risk_level.label.lower()}.", "success")
                return redirect(url_for("cases.edit_risk", reference=case.reference))
    total = db.session.execute(sa.select(sa.func.count(RiskChange.id)).where(RiskChange.case_id == case.id)).scalar_one()
    page, pages = _page(total, RISK_PAGE_SIZE)
    changes = db.session.execute(
        sa.select(RiskChange).where(RiskChange.case_id == case.id).options(sa.orm.joinedload(RiskChange.by))
        .order_by(RiskChange.at.desc(), RiskChange.id.desc())
        .limit(RISK_PAGE_SIZE).offset((page - 1) * RISK_PAGE_SIZE)).scalars().all()
    return _render("cases/edit_risk.html", view, error_form, level_form=level_form, plan_form=plan_form,
                   changes=changes, total=total,
                   pagination=paging.pagination("cases.edit_risk", page, pages, label="Risk history pages", reference=case.reference))


# ---- agencies and rapport -------------------------------------------------------------


@bp.route("/<reference>/agencies", methods=["GET", "POST"])
def manage_agencies(reference: str):
    view = _load(reference, "agencies", record_page="edit" in request.args)
    case = view.case
    if "edit" in request.args:
        _only_if_changeable(view, "agencies")
        wanted = _record_id(request.args.get("edit"))
        editing = next((inv for inv in case.involvements if inv.id == wanted), None)
        if editing is None:  # not an involvement of this case
            abort(404)
        _not_if_closed(view, "cases.manage_agencies")
        return _edit_involvement(view, editing)

    agencies = list(db.session.execute(sa.select(Agency).order_by(Agency.name)).scalars())
    involved = {inv.agency_id for inv in case.involvements}
    by_id = {a.id: a for a in agencies}
    not_involved = [a for a in agencies if a.id not in involved]
    lead_form = LeadAgencyForm(formdata=None, agencies=[a for a in agencies if a.id != case.lead_agency_id])
    add_form = AgencyAddForm(formdata=None, agencies=not_involved)
    error_form = None
    if request.method == "POST":
        if "change_lead" in request.form:
            lead_form = error_form = LeadAgencyForm(agencies=[a for a in agencies if a.id != case.lead_agency_id])
            if lead_form.validate_on_submit():
                agency = by_id[lead_form.lead_agency_id.data]
                services.set_lead_agency(case, agency=agency, by=_me())
                db.session.commit()
                flash(f"{agency.name} is now the lead agency.", "success")
                return redirect(url_for("cases.manage_agencies", reference=case.reference))
        else:
            add_form = error_form = AgencyAddForm(agencies=not_involved)
            if add_form.validate_on_submit():
                agency = by_id[add_form.agency_id.data]
                try:
                    services.add_agency(case, agency=agency, named_worker=add_form.named_worker.data,
                                        has_rapport=add_form.has_rapport.data == YES, by=_me())
                    db.session.commit()
                except (ServiceError, IntegrityError):  # added by someone else a moment ago
                    db.session.rollback()
                    flash(f"{agency.name} is already involved.", "info")
                else:
                    flash(f"{agency.name} has been added. Its SPoC has been told by email.", "success")
                return redirect(url_for("cases.manage_agencies", reference=case.reference))
    return _render("cases/manage_agencies.html", view, error_form, lead_form=lead_form, add_form=add_form,
                   editing=None, any_to_add=bool(not_involved))


def _edit_involvement(view: CaseView, inv: Involvement):
    case = view.case
    if request.method == "POST":
        form = InvolvementEditForm()
        if form.validate_on_submit():
            services.update_involvement(inv, case, named_worker=form.named_worker.data,
                                        has_rapport=form.has_rapport.data == YES, by=_me())
            db.session.commit()
            flash(f"The named worker and rapport for {inv.agency.name} have been saved.", "success")
            return redirect(url_for("cases.manage_agencies", reference=case.reference))
    else:
        form = InvolvementEditForm(formdata=None, data={"named_worker": inv.named_worker,
                                                        "has_rapport": yes_no(inv.has_rapport)})
    return _render("cases/manage_agencies.html", view, form, edit_form=form, editing=inv)


# ---- staff safety ---------------------------------------------------------------------


@bp.route("/<reference>/staff-safety", methods=["GET", "POST"])
def add_flag(reference: str):
    view = _load(reference, "staff_safety")
    case = view.case
    form = FlagAddForm(formdata=None)
    if request.method == "POST":
        form = FlagAddForm()
        if form.validate_on_submit():
            flag = services.set_staff_safety_flag(case, kind=form.kind.data, details=form.details.data, by=_me())
            db.session.commit()
            flash(f"The staff-safety warning ‘{flag.kind.label}’ has been added. It shows on every page of the case.",
                  "success")
            return redirect(url_for("cases.add_flag", reference=case.reference))
    flags = db.session.execute(
        sa.select(StaffSafetyFlag).where(StaffSafetyFlag.case_id == case.id)
        .options(sa.orm.joinedload(StaffSafetyFlag.set_by))
        .order_by(StaffSafetyFlag.set_at.desc(), StaffSafetyFlag.id.desc())).scalars().all()
    cleared = [f for f in flags if f.cleared_at is not None]
    return _render("cases/add_flag.html", view, form, form_=form, confirm=ConfirmForm(formdata=None),
                   active=[f for f in flags if f.cleared_at is None], cleared=cleared,
                   cleared_by=_users({f.cleared_by_id for f in cleared}))


@bp.route("/<reference>/staff-safety/<int:flag_id>/clear", methods=["POST"])
def clear_flag(reference: str, flag_id: int):
    view = _load(reference, "staff_safety", record_page=True)
    case = view.case
    flag = db.session.get(StaffSafetyFlag, flag_id)
    if flag is None or flag.case_id != case.id:
        abort(404)
    _not_if_closed(view, "cases.add_flag")
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if flag.cleared_at is None:
        services.clear_staff_safety_flag(flag, case, by=_me())
        flash(f"The staff-safety warning ‘{flag.kind.label}’ has been cleared.", "success")
    else:
        flash("That warning had already been cleared.", "info")
    db.session.commit()
    return redirect(url_for("cases.add_flag", reference=case.reference))


# ---- insight --------------------------------------------------------------------------


def _answers(version: InsightVersion | None) -> dict[str, str]:
    return {key: getattr(version, key) for key in services.INSIGHT_QUESTIONS} if version else {}


@bp.route("/<reference>/insight", methods=["GET", "POST"])
def insight(reference: str):
    view = _load(reference, "insight")
    case = view.case
    newest_first = (InsightVersion.written_at.desc(), InsightVersion.id.desc())
    # the latest version and how many there are, in one query; the earlier ones in another, even
    # when there are none: the same queries whether the case has no version or hundreds
    newest = db.session.execute(
        sa.select(InsightVersion, sa.func.count().over()).where(InsightVersion.case_id == case.id)
        .options(sa.orm.joinedload(InsightVersion.written_by)).order_by(*newest_first).limit(1)).first()
    latest, versions = (newest[0], newest[1]) if newest is not None else (None, 0)
    form = InsightForm(formdata=None, data=_answers(latest))
    if request.method == "POST":
        form = InsightForm()
        if form.validate_on_submit():
            if latest is not None and form.answers() == _answers(latest):
                flash("No changes were made, so no new version was saved.", "info")
            else:
                services.record_insight(case, answers=form.answers(), by=_me())
                flash("The insight record has been saved as a new version.", "success")
            db.session.commit()
            return redirect(url_for("cases.insight", reference=case.reference))
    earlier_total = max(versions - 1, 0)
    page, pages = _page(earlier_total, INSIGHT_PAGE_SIZE)
    earlier = db.session.execute(
        sa.select(InsightVersion).where(InsightVersion.case_id == case.id)
        .options(sa.orm.joinedload(InsightVersion.written_by)).order_by(*newest_first)
        .limit(INSIGHT_PAGE_SIZE).offset(1 + (page - 1) * INSIGHT_PAGE_SIZE)).scalars().all()
    return _render("cases/insight.html", view, form, form_=form, latest=latest, earlier=earlier,
                   earlier_total=earlier_total, questions=services.INSIGHT_QUESTIONS,
                   pagination=paging.pagination("cases.insight", page, pages, label="Earlier versions pages", reference=case.reference))


# ---- the person's outcomes ------------------------------------------------------------


@bp.route("/<reference>/outcomes", methods=["GET", "POST"])
def outcomes(reference: str):
    view = _load(reference, "outcomes")
    case = view.case
    form = OutcomeAddForm(formdata=None)
    if request.method == "POST":
        form = OutcomeAddForm()
        if form.validate_on_submit():
            services.add_outcome(case, words=form.words.data, asked=form.asked.data == YES,
                                 expressed=form.expressed.data == YES, by=_me())
            db.session.commit()
            flash("The desired outcome has been added.", "success")
            return redirect(url_for("cases.outcomes", reference=case.reference))
    rows = db.session.execute(sa.select(PersonalOutcome).where(PersonalOutcome.case_id == case.id)
                              .order_by(PersonalOutcome.id)).scalars().all()
    return _render("cases/outcomes.html", view, form, form_=form, outcomes=rows,
                   reviewers=_users({o.reviewed_by_id for o in rows}))


@bp.route("/<reference>/outcomes/<int:outcome_id>/review", methods=["GET", "POST"])
def review_outcome(reference: str, outcome_id: int):
    view = _load(reference, "outcomes", record_page=True)
    case = view.case
    outcome = db.session.get(PersonalOutcome, outcome_id)
    if outcome is None or outcome.case_id != case.id:
        abort(404)
    _only_if_changeable(view, "outcomes")  # a page only for reviewing; readers see reviews on the outcomes page
    _not_if_closed(view, "cases.outcomes")
    today = london_today()
    if request.method == "POST":
        form = OutcomeReviewForm(today=today)
        if form.validate_on_submit():
            services.review_outcome(outcome, case, review=form.review.data, on=form.reviewed_on.data, by=_me())
            db.session.commit()
            flash(f"The outcome has been reviewed as {form.review.data.label.lower()}.", "success")
            return redirect(url_for("cases.outcomes", reference=case.reference))
    else:
        reviewed = outcome.review.value if outcome.reviewed_on else None
        form = OutcomeReviewForm(formdata=None, today=today, data={"review": reviewed, "reviewed_on": outcome.reviewed_on})
    return _render("cases/review_outcome.html", view, form, form_=form, outcome=outcome)
