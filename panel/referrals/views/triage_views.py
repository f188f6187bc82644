"""Referral lists, the referral page with the person's history, triage, panel decisions,
withdrawal, linking to an earlier person, and the waiting list with promotion."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload

from panel import audit, pathway, pagination as paging
from panel.auth import policy
from panel.extensions import db
from panel.forms.errors import ServiceError, show_service_error
from panel.models import (
    NEED_LABELS,
    OPEN_REFERRAL_STATUSES,
    AgendaItem,
    Agency,
    AuditAction,
    Case,
    Involvement,
    Meeting,
    MeetingKind,
    MeetingStatus,
    Referral,
    ReferralDecision,
    ReferralStatus,
    Role,
    User,
    utcnow,
)
from panel.referrals import linking, matching, services
from panel.referrals.panel_for import panel_for, panel_words, triage_hint
from panel.referrals.views import bp
from panel.referrals.services import DECISION_STATUSES
from panel.referrals.triage_forms import (
    ACCEPT,
    DECISION_TARGETS,
    REQUEST_INFORMATION,
    TO_PANEL,
    TRIAGE_OPTIONS,
    TRIAGE_TARGETS,
    ConfirmForm,
    DecisionForm,
    LinkPersonForm,
    ReferralFilterForm,
    TriageForm,
    WithdrawForm,
    reason_kind_of,
    link_person_form,
    shown,
)
from panel.dates import london_to_utc, london_today

PAGE_SIZE = 50
SUBMITTED_STATUSES = tuple(s for s in ReferralStatus if s != ReferralStatus.DRAFT)  # the lists show no drafts
PANEL_CHOICES = 40  # the panels offered in the list's filter, newest first
# A referral can be linked to an earlier person until the panel has decided it.
LINKABLE = (*OPEN_REFERRAL_STATUSES, ReferralStatus.WAITING)
ALREADY = {
    ReferralStatus.AWAITING_PANEL: "This referral is already on the next panel’s agenda.",
    ReferralStatus.INFO_REQUESTED: "The referrer has already been asked for more information.",
    ReferralStatus.DECLINED: "This referral has already been declined.",
    ReferralStatus.ACCEPTED: "This referral has already been accepted into the pathway.",
    ReferralStatus.WITHDRAWN: "This referral has already been withdrawn.",
}

# Why an outcome cannot be recorded now, in words for the status (the services' own message otherwise).
STATE_PROBLEMS = {
    ReferralStatus.INFO_REQUESTED: "The referrer has been asked for more information about this referral. "
                                   "It can go further when they send it back.",
    ReferralStatus.AWAITING_PANEL: "This referral is already on the next panel’s agenda.",
    ReferralStatus.WAITING: "This referral is on the waiting list. Take it off the waiting list first.",
}


def _user() -> User:
    return current_user._get_current_object()


def _visible(referral_id: int, *options: Any) -> Referral:
    """The submitted referral if this user may see it; otherwise 404, so existence does not leak."""
    referral = db.session.execute(
        sa.select(Referral).where(Referral.id == referral_id).options(joinedload(Referral.person), *options)
    ).unique().scalar_one_or_none()
    if (referral is None or referral.status == ReferralStatus.DRAFT
            or not policy.can_view_referral(_user(), referral, london_today())):
        abort(404)
    return referral


def _to_referral(referral: Referral):
    return redirect(url_for("referrals.view_referral", referral_id=referral.id))


def _isa_message(user: User) -> str | None:
    return policy.isa_block_reason(user.agency, london_today())


# ---- lists --------------------------------------------------------------------------


def _scope(user: User) -> list[sa.ColumnElement[bool]]:
    """The referrals this user may see (as policy.can_view_referral), drafts left out."""
    # IN over the submitted states, not "!= draft", which no index serves: the list reads the
    # index on (status, submitted_at) and sorts only its entries
    where: list[sa.ColumnElement[bool]] = [Referral.status.in_(SUBMITTED_STATUSES)]
    if user.role == Role.SPOC:
        where.append(Referral.referring_agency_id == user.agency_id)
    elif user.role not in policy.OPERATIONS:
        where.append(Referral.created_by_id == user.id)
    return where


def _filter_panels() -> list[Meeting]:
    """The panels a referral list can be filtered by: held, and the next few (one query)."""
    return list(db.session.scalars(
        sa.select(Meeting).where(Meeting.kind == MeetingKind.PANEL, Meeting.status != MeetingStatus.CANCELLED,
                                 Meeting.starts_at < utcnow() + timedelta(days=100))
        .order_by(Meeting.starts_at.desc()).limit(PANEL_CHOICES)))


def _filtered(chosen: dict[str, Any]) -> list[sa.ColumnElement[bool]]:
    """Conditions for the filters chosen: a panel means on its agenda (kept in step with the data
    by the agenda-sync job until the panel is held, then as it was); dates are London days."""
    where: list[sa.ColumnElement[bool]] = []
    if "status" in chosen:
        where.append(Referral.status == chosen["status"])
    if "agency" in chosen:
        where.append(Referral.referring_agency_id == chosen["agency"])
    if "panel" in chosen:
        where.append(Referral.id.in_(sa.select(AgendaItem.referral_id).where(
            AgendaItem.meeting_id == chosen["panel"], AgendaItem.referral_id.is_not(None))))
    if "from" in chosen:
        where.append(Referral.submitted_at >= london_to_utc(chosen["from"], time(0)))
    if "to" in chosen and chosen["to"] < date.max:
        where.append(Referral.submitted_at < london_to_utc(chosen["to"] + timedelta(days=1), time(0)))
    return where


@bp.route("")
def list_referrals():
    user = _user()
    isa_message = _isa_message(user)
    operations = user.role in policy.OPERATIONS
    agencies = list(db.session.execute(sa.select(Agency).order_by(Agency.name)).scalars()) if operations else None
    form = ReferralFilterForm(formdata=request.args, agencies=agencies, panels=_filter_panels())
    chosen = form.chosen()
    filters = form.filters()
    referrals: list[Referral] = []
    total = page = 0
    pages = 1
    if isa_message is None:
        where = _scope(user) + _filtered(chosen)
        total = db.session.execute(sa.select(sa.func.count(Referral.id)).where(*where)).scalar_one()
        pages = max(1, -(-total // PAGE_SIZE))
        page = paging.page_number(pages)
        newest_first = (Referral.submitted_at.desc(), Referral.id.desc())
        shown = (sa.select(Referral.id).where(*where).order_by(*newest_first)
                 .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE).subquery())
        referrals = list(db.session.execute(  # the page's referrals chosen first, then joined to their people
            sa.select(Referral).join(shown, shown.c.id == Referral.id)
            .options(joinedload(Referral.person), joinedload(Referral.referring_agency))
            .order_by(*newest_first)
        ).scalars())
    return render_template(
        "referrals/list_referrals.html", form=form if form.errors else None, filters=form, referrals=referrals, total=total,
        first=(page - 1) * PAGE_SIZE + 1, pages=pages, pagination=paging.pagination("referrals.list_referrals", page, pages, label="Referral list pages", **filters),
        filtered=bool(filters), isa_message=isa_message, operations=operations)


@bp.route("/triage")
def triage():
    user = _user()
    isa_message = _isa_message(user)
    referrals: list[Referral] = []
    flags: dict[int, matching.Flags] = {}
    if isa_message is None:
        referrals = list(db.session.execute(
            sa.select(Referral).where(Referral.status.in_(OPEN_REFERRAL_STATUSES))
            .options(joinedload(Referral.person), joinedload(Referral.referring_agency))
            .order_by(Referral.submitted_at, Referral.id)
        ).scalars())
        flags = matching.flags(referrals)
    groups = [
        ("to-triage", "New referrals to triage", [r for r in referrals if r.status == ReferralStatus.SUBMITTED]),
        ("awaiting-panel", "On the next panel’s agenda",
         [r for r in referrals if r.status == ReferralStatus.AWAITING_PANEL]),
        ("info-requested", "Waiting for more information from the referrer",
         [r for r in referrals if r.status == ReferralStatus.INFO_REQUESTED]),
    ]
    waiting = db.session.execute(sa.select(sa.func.count(Referral.id)).where(
        Referral.status == ReferralStatus.WAITING)).scalar_one()
    return render_template("referrals/triage.html", groups=groups, flags=flags, occupancy=pathway.occupancy(),
                           waiting=waiting, isa_message=isa_message)


@bp.route("/waiting")
def list_waiting():
    user = _user()
    isa_message = _isa_message(user)
    waiting = pathway.waiting_list() if isa_message is None else []
    occupancy = pathway.occupancy()
    can_promote = policy.endpoint_allows("referrals.promote_referral", user) and not occupancy.full
    return render_template("referrals/list_waiting.html", waiting=waiting, occupancy=occupancy,
                           can_promote=can_promote, promote_form=ConfirmForm(), isa_message=isa_message)


# ---- the referral page --------------------------------------------------------------


@bp.route("/<int:referral_id>")
def view_referral(referral_id: int):
    user = _user()
    referral = db.session.execute(
        sa.select(Referral).where(Referral.id == referral_id).options(
            joinedload(Referral.person), joinedload(Referral.referred_person), joinedload(Referral.referring_agency),
            joinedload(Referral.created_by),
            selectinload(Referral.involvements).joinedload(Involvement.agency),
            selectinload(Referral.decisions).joinedload(ReferralDecision.by))
    ).unique().scalar_one_or_none()
    if referral is None or not policy.can_view_referral(user, referral, london_today()):
        abort(404)
    if referral.status == ReferralStatus.DRAFT:  # only its writer gets this far
        return redirect(url_for("referrals.check_answers", referral_id=referral.id))
    case = db.session.execute(
        sa.select(Case).where(Case.referral_id == referral.id).options(joinedload(Case.lead_agency))
    ).scalar_one_or_none()
    operations = user.role in policy.OPERATIONS
    history = matching.history(referral) if operations else None
    occupancy = pathway.occupancy() if operations else None
    audit.record(AuditAction.VIEW, "referral", referral.id)
    html = render_template(
        "referrals/view_referral.html", referral=referral, person=referral.as_referred, case=case, history=history,
        linked_person=referral.person if referral.referred_person_id else None,
        occupancy=occupancy, need_labels=NEED_LABELS, promote_form=ConfirmForm(),
        can_link=policy.endpoint_allows("referrals.link_person", user) and referral.status in LINKABLE,
        can_triage=policy.endpoint_allows("referrals.triage_referral", user) and referral.status in TRIAGE_OPTIONS,
        can_decide=policy.endpoint_allows("referrals.decide_referral", user) and referral.status in DECISION_STATUSES,
        can_withdraw=policy.can_withdraw_referral(user, referral, london_today()),
        can_edit=policy.can_edit_referral(user, referral, london_today()),
        can_promote=(policy.endpoint_allows("referrals.promote_referral", user)
                     and referral.status == ReferralStatus.WAITING and occupancy is not None and not occupancy.full),
    )
    db.session.commit()  # after rendering, so nothing loaded is expired and loaded again
    return html


@bp.route("/<int:referral_id>/link-person", methods=["GET", "POST"])
def link_person(referral_id: int):
    """Compare the referral's person details with a matched person record (GET ?person_id=),
    then link them, the coordinator choosing field by field what the person record keeps (POST)."""
    user = _user()
    referral = _visible(referral_id, joinedload(Referral.referred_person))
    person_id = LinkPersonForm(request.values, meta={"csrf": False}).person()
    if person_id is not None and person_id == referral.person_id:  # a repeated click
        flash("This referral is already linked to that person.", "info")
        return _to_referral(referral)
    if referral.status not in LINKABLE:
        flash(f"This referral is {referral.status.label.lower()}, so it can no longer be linked to another person.",
              "error")
        return _to_referral(referral)
    if person_id is None or (person := matching.matched_person(referral, person_id)) is None:
        flash("That person is not one of the possible matches for this referral. Choose one from the list.", "error")
        return _to_referral(referral)
    differences = linking.differences(referral, person)
    form = link_person_form(differences)
    if form.validate_on_submit():
        try:
            taken = linking.link_person(referral, to=person, by=user, take=form.taken())
        except ServiceError as error:
            show_service_error(form, error)
        else:
            db.session.commit()
            took = f" The person record took this referral’s {linking.labels(taken)}." if taken else ""
            flash(f"Referral {referral.reference} is now linked to the earlier person record. "
                  f"The referral keeps the details its referrer gave.{took}", "success")
            return _to_referral(referral)
    audit.record(AuditAction.VIEW, "referral", referral.id, summary={"section": "link_person", "person": person.id})
    html = render_template("referrals/link_person.html", referral=referral, mine=referral.as_referred,
                           person=person, form=form, differences=differences, shown=shown,
                           same=linking.labels(set(linking.PERSON_LABELS) - {d.name for d in differences}))
    db.session.commit()
    return html


# ---- triage and decisions -----------------------------------------------------------


def _already(referral: Referral, wanted: str | None, targets: dict[str, ReferralStatus]):
    """A repeated POST (double click, back button) finds the change made: say so, change nothing."""
    if request.method == "POST" and targets.get(wanted or "") == referral.status:
        flash(ALREADY[referral.status], "info")
        return _to_referral(referral)
    return None


@bp.route("/<int:referral_id>/triage", methods=["GET", "POST"])
def triage_referral(referral_id: int):
    user = _user()
    referral = _visible(referral_id)
    if (done := _already(referral, request.form.get("outcome"), TRIAGE_TARGETS)) is not None:
        return done
    form = TriageForm()
    if form.validate_on_submit():
        outcome = form.outcome.data
        try:
            if outcome == TO_PANEL:
                services.put_to_panel(referral, by=user)
                message = (f"Referral {referral.reference} is on {panel_words(panel_for(referral))}. "
                           "The referrer has been told.")
            elif outcome == REQUEST_INFORMATION:
                services.request_information(referral, by=user, request=form.request.data)
                message = f"The referrer has been asked for more information about referral {referral.reference}."
            else:
                services.decline(referral, by=user, rationale=form.rationale.data,
                                 signposting=form.signposting.data or "", reason_kind=reason_kind_of(form))
                message = f"Referral {referral.reference} has been declined. The referrer has been told."
        except ServiceError as problem:  # the referral moved on in another tab: say where it is now
            db.session.rollback()
            message = STATE_PROBLEMS.get(referral.status, problem.message)
            if referral.status not in TRIAGE_OPTIONS:
                flash(message, "error")
                return _to_referral(referral)
            show_service_error(form, ServiceError(message, field=problem.field), default="outcome")
        else:
            db.session.commit()
            flash(message, "success")
            return _to_referral(referral)
    return render_template("referrals/triage_referral.html", form=form, referral=referral,
                           options=TRIAGE_OPTIONS.get(referral.status, ()), panel_hint=triage_hint(referral))


@bp.route("/<int:referral_id>/decision", methods=["GET", "POST"])
def decide_referral(referral_id: int):
    user = _user()
    referral = _visible(referral_id)
    if (done := _already(referral, request.form.get("decision"), DECISION_TARGETS)) is not None:
        return done
    if request.method == "POST" and referral.status not in DECISION_STATUSES:
        flash(STATE_PROBLEMS.get(referral.status, f"This referral is {referral.status.label.lower()}, "
                                                  "so there is no panel decision to record."), "error")
        return _to_referral(referral)
    agencies = list(db.session.execute(sa.select(Agency).order_by(Agency.name)).scalars())
    form = DecisionForm(agencies=agencies)
    if form.validate_on_submit():
        try:
            if form.decision.data == ACCEPT:
                lead = next(a for a in agencies if a.id == form.lead_agency_id.data)
                case = services.accept(referral, by=user, lead_agency=lead)
                message = (f"Referral {referral.reference} has been accepted into the pathway with "
                           f"{lead.name} as lead agency. The case reference is {case.reference}.")
            else:
                services.decline(referral, by=user, rationale=form.rationale.data,
                                 signposting=form.signposting.data or "", at_panel=True,
                                 reason_kind=reason_kind_of(form))
                message = f"Referral {referral.reference} has been declined at panel. The referrer has been told."
        except ServiceError as problem:  # the referral moved on in another tab: say where it is now
            db.session.rollback()
            message = STATE_PROBLEMS.get(referral.status, problem.message)
            if referral.status not in DECISION_STATUSES:
                flash(message, "error")
                return _to_referral(referral)
            show_service_error(form, ServiceError(message, field=problem.field), default="decision")
        else:
            db.session.commit()
            flash(message, "success")
            return _to_referral(referral)
    return render_template("referrals/decide_referral.html", form=form, referral=referral,
                           open_for_decision=referral.status in DECISION_STATUSES)


@bp.route("/<int:referral_id>/withdraw", methods=["GET", "POST"])
def withdraw_referral(referral_id: int):
    user = _user()
    referral = _visible(referral_id)
    if request.method == "POST" and referral.status == ReferralStatus.WITHDRAWN:
        flash(ALREADY[referral.status], "info")
        return _to_referral(referral)
    if not policy.can_withdraw_referral(user, referral, london_today()):
        abort(404)
    form = WithdrawForm()
    if form.validate_on_submit():
        services.withdraw(referral, by=user, reason=form.reason.data)
        db.session.commit()
        flash(f"Referral {referral.reference} has been withdrawn.", "success")
        return _to_referral(referral)
    return render_template("referrals/withdraw_referral.html", form=form, referral=referral)


@bp.route("/<int:referral_id>/promote", methods=["POST"])
def promote_referral(referral_id: int):
    user = _user()
    referral = _visible(referral_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    if referral.status != ReferralStatus.WAITING and any(d.outcome == "promoted" for d in referral.decisions):
        flash(f"Referral {referral.reference} has already been taken off the waiting list.", "info")
        return redirect(url_for("referrals.list_waiting"))
    try:
        services.promote(referral, by=user)
    except ServiceError as problem:
        db.session.rollback()
        flash(problem.message, "error")
    else:
        db.session.commit()
        flash(f"Referral {referral.reference} has been taken off the waiting list and is ready for triage. "
              "The referrer has been told.", "success")
    return redirect(url_for("referrals.list_waiting"))
