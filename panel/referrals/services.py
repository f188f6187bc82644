"""Referral rules: drafts, submission under the cap, triage outcomes, panel decisions, promotion
from the waiting list. Services flush but never commit; each writes the audit trail and queues
emails (a link only, never the person's details) in the caller's transaction."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_request_context, url_for

from panel import audit, notify, pathway
from panel.extensions import db
from panel.forms.errors import ServiceError
from panel.models import (
    OPEN_CASE_STATUSES,
    OPEN_REFERRAL_STATUSES,
    AgeBand,
    Agency,
    AuditAction,
    Case,
    CaseStatus,
    DeclineReason,
    Involvement,
    Person,
    Referral,
    ReferralDecision,
    ReferralStatus,
    Role,
    User,
    utcnow,
)
from panel.referrals.panel_for import panel_for, panel_words
from panel.referrals.rules import submission_problems
from panel.dates import london_today




# The statuses in which the panel can still accept or decline a referral.
DECISION_STATUSES = (ReferralStatus.SUBMITTED, ReferralStatus.AWAITING_PANEL)
PERSON_FIELDS = (
    "given_name", "family_name", "other_names", "date_of_birth", "gender", "ethnicity", "first_language",
    "interpreter_needed", "communication_needs", "address", "postcode", "nhs_number", "other_identifiers",
)
REFERRAL_FIELDS = (
    "referrer_name", "referrer_email", "referrer_phone", "manager_name", "lives_in_area", "single_agency_tried",
    "needs", "risk_level", "risk_summary", "risk_assessment", "tried_already", "rapport", "persons_views",
    "desired_outcomes", "capacity", "consent_given", "consent_lawful_basis", "consent_reason",
    "staff_hostility", "staff_lone_working_restricted", "staff_safety_details",
)
EDITABLE_STATUSES = (ReferralStatus.DRAFT, ReferralStatus.INFO_REQUESTED)


def _link(endpoint: str, **values: Any) -> str:
    if has_request_context():
        path = url_for(endpoint, _external=False, **values)
    else:  # the CLI (demo data) and the scheduler have no request to build URLs from
        path = current_app.url_map.bind("localhost", script_name=current_app.config["APPLICATION_ROOT"]).build(
            endpoint, values)
    return current_app.config["PUBLIC_URL"] + path


def _decide(referral: Referral, outcome: str, to_status: ReferralStatus, *, by: User | None,
            reason: str = "", signposting: str = "") -> ReferralDecision:
    decision = ReferralDecision(referral=referral, outcome=outcome, from_status=str(referral.status),
                                to_status=str(to_status), by=by, at=utcnow(), reason=reason,
                                signposting=signposting, signposted=bool((signposting or "").strip()))
    referral.status = to_status
    db.session.add(decision)
    return decision


def _tell_referrer(referral: Referral, subject: str, what: str) -> None:
    """Email the referrer a short reason and a link; the person's details never go in email."""
    to = referral.referrer_email or (referral.created_by.email if referral.created_by else "")
    if not to:
        return
    service = current_app.config["SERVICE_NAME"]
    body = (f"{what}\n\nReferral {referral.reference}\n\n"
            f"Sign in to see it: {_link('referrals.view_referral', referral_id=referral.id)}\n\n"
            f"This email is from {service}. Do not reply with personal information.")
    notify.queue_email(to=to, subject=f"{subject}: referral {referral.reference}", body=body)


def _tell_coordinators(subject: str, what: str, link: str) -> None:
    coordinators = db.session.execute(
        sa.select(User.email).where(User.role == Role.COORDINATOR, User.active.is_(True))
    ).scalars()
    for email in coordinators:
        notify.queue_email(to=email, subject=subject, body=f"{what}\n\nSign in to see it: {link}")


# ---- drafts -------------------------------------------------------------------------


def start_draft(*, by: User) -> Referral:
    """A new, empty draft for the user's agency, with the referrer's details filled in."""
    referral = Referral(
        status=ReferralStatus.DRAFT,
        source="form",
        person=Person(),
        referring_agency_id=by.agency_id,
        created_by=by,
        referrer_name=by.name,
        referrer_email=by.email,
        needs=[],
        desired_outcomes=[],
    )
    db.session.add(referral)
    db.session.flush()
    audit.record(AuditAction.CREATE, "referral", referral.id, summary={"status": "draft"}, user=by)
    return referral


def update_answers(referral: Referral, *, by: User | None, person: dict[str, Any] | None = None,
                   answers: dict[str, Any] | None = None, involvements: list[dict[str, Any]] | None = None) -> list[str]:
    """Save answers to a draft (or a referral sent back for more information).

    Returns the names of the fields that changed; the audit entry lists names only, never values.
    """
    if referral.status not in EDITABLE_STATUSES:
        raise ServiceError("This referral can no longer be changed")
    changed: list[str] = []
    for name, value in (person or {}).items():
        if name not in PERSON_FIELDS:
            raise KeyError(name)
        if getattr(referral.as_referred, name) != value:
            setattr(referral.as_referred, name, value)
            changed.append(f"person.{name}")
    for name, value in (answers or {}).items():
        if name not in REFERRAL_FIELDS:
            raise KeyError(name)
        if getattr(referral, name) != value:
            setattr(referral, name, value)
            changed.append(name)
    if involvements is not None:
        set_involvements(referral, involvements)
        changed.append("agencies_involved")
    if changed:
        referral.updated_at = utcnow()
        db.session.flush()
        audit.record(AuditAction.UPDATE, "referral", referral.id, summary={"fields": changed}, user=by)
    return changed


def set_involvements(referral: Referral, wanted: list[dict[str, Any]]) -> None:
    """Replace the agencies involved: each {"agency_id", "named_worker", "has_rapport"}."""
    current = {inv.agency_id: inv for inv in referral.involvements}
    keep = set()
    for item in wanted:
        agency_id = int(item["agency_id"])
        keep.add(agency_id)
        inv = current.get(agency_id) or Involvement(referral=referral, agency_id=agency_id)
        inv.named_worker = item.get("named_worker", "") or ""
        inv.has_rapport = bool(item.get("has_rapport", False))
        db.session.add(inv)
    for agency_id, inv in current.items():
        if agency_id not in keep:
            referral.involvements.remove(inv)
            db.session.delete(inv)
    db.session.flush()


def delete_draft(referral: Referral, *, by: User) -> None:
    """Delete a draft that was never submitted, with its person record."""
    if referral.status != ReferralStatus.DRAFT:
        raise ServiceError("Only drafts can be deleted")
    for inv in list(referral.involvements):
        db.session.delete(inv)
    person = referral.person
    audit.record(AuditAction.DELETE, "referral", referral.id, summary={"status": "draft"}, user=by)
    db.session.delete(referral)
    db.session.flush()
    still_used = db.session.execute(sa.select(sa.func.count()).select_from(Referral).where(
        Referral.person_id == person.id)).scalar_one()
    if not still_used:
        db.session.delete(person)


# ---- submission ---------------------------------------------------------------------


def submit(referral: Referral, *, by: User | None, today: date | None = None) -> ReferralStatus:
    """Submit a draft, or resubmit one sent back for more information.

    Takes the pathway lock, then: a new referral becomes `submitted` when the pathway has room,
    else `waiting` (saved, not counted). A resubmission keeps its place. Emails the referrer a
    link. Raises ServiceError if it was already submitted (a double click), and SubmissionProblems
    (a ServiceError) with the problems when answers are missing or wrong.
    """
    today = today or london_today()
    row = pathway.lock()
    db.session.refresh(referral)  # the lock may have waited for another submission of this referral
    if referral.status not in EDITABLE_STATUSES:
        raise ServiceError("This referral has already been submitted")
    problems = submission_problems(referral, today)
    if problems:
        raise SubmissionProblems(problems)
    referral.age_band = AgeBand.on(referral.as_referred.date_of_birth, today)  # for the Board's equality figures
    if referral.status == ReferralStatus.INFO_REQUESTED:
        _decide(referral, "resubmitted", ReferralStatus.SUBMITTED, by=by)
        referral.updated_at = utcnow()
        audit.record(AuditAction.UPDATE, "referral", referral.id, summary={"status": "submitted", "resubmitted": True}, user=by)
        _tell_referrer(referral, "Referral resubmitted", "Thank you. The coordinator has your updated referral.")
        return referral.status
    status = pathway.admit_status()
    referral.reference = pathway.next_referral_reference(row, today)
    referral.submitted_at = utcnow()
    _decide(referral, "submitted", status, by=by)
    db.session.flush()
    audit.record(AuditAction.UPDATE, "referral", referral.id, summary={"status": str(status)}, user=by)
    if status == ReferralStatus.WAITING:
        _tell_referrer(referral, "Referral received and held on the waiting list",
                       "Your referral has been received. The pathway is full, so it is held on the waiting list. "
                       "The coordinator will contact you when a place is free.")
    else:
        _tell_referrer(referral, "Referral received",
                       "Your referral has been received. The coordinator will triage it.")
    return status


class SubmissionProblems(ServiceError):
    """Answers that stop a referral being submitted, keyed by field path: several fields at once,
    so the form and the API each show every one (a subclass because they need the whole dict)."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("The referral cannot be submitted yet")
        self.problems = problems


# ---- triage and decisions -----------------------------------------------------------


def _require(referral: Referral, *statuses: ReferralStatus) -> None:
    if referral.status not in statuses:
        raise ServiceError(f"This referral is {referral.status.label.lower()}, so that cannot be done now")


def put_to_panel(referral: Referral, *, by: User, reason: str = "") -> None:
    """Triage: put the referral on the next panel's agenda."""
    _require(referral, ReferralStatus.SUBMITTED)
    _decide(referral, "to_panel", ReferralStatus.AWAITING_PANEL, by=by, reason=reason)
    audit.record(AuditAction.UPDATE, "referral", referral.id, summary={"status": "awaiting_panel"}, user=by)
    _tell_referrer(referral, "Referral going to panel",
                   f"The coordinator has put your referral on {panel_words(panel_for(referral))}.")


def request_information(referral: Referral, *, by: User, request: str) -> None:
    """Triage: send the referral back to the referrer, who edits and resubmits it. Keeps its place."""
    _require(referral, ReferralStatus.SUBMITTED, ReferralStatus.AWAITING_PANEL)
    referral.info_requested = request
    _decide(referral, "info_requested", ReferralStatus.INFO_REQUESTED, by=by, reason=request)
    audit.record(AuditAction.UPDATE, "referral", referral.id, summary={"status": "info_requested"}, user=by)
    _tell_referrer(referral, "More information needed",
                   "The coordinator needs more information before your referral can go further.")


def _slot_freed(by: User) -> None:
    if pathway.waiting_list():
        _tell_coordinators("A place is free in the pathway",
                           "A place has become free in the pathway and referrals are waiting. Promote one from the waiting list.",
                           _link("referrals.list_waiting"))


def decline(referral: Referral, *, by: User, rationale: str, signposting: str = "", at_panel: bool = False,
            reason_kind: DeclineReason | None = None) -> None:
    """Decline at triage or at panel, with a rationale, signposting and (for the Board's reports)
    the kind of reason. Frees the place it held."""
    _require(referral, ReferralStatus.SUBMITTED, ReferralStatus.INFO_REQUESTED, ReferralStatus.AWAITING_PANEL,
             ReferralStatus.WAITING)
    held = referral.status in OPEN_REFERRAL_STATUSES
    decision = _decide(referral, "declined_at_panel" if at_panel else "declined", ReferralStatus.DECLINED, by=by,
                       reason=rationale, signposting=signposting)
    decision.reason_kind = reason_kind
    referral.decided_at = utcnow()
    audit.record(AuditAction.UPDATE, "referral", referral.id, summary={"status": "declined", "at_panel": at_panel}, user=by)
    _tell_referrer(referral, "Referral declined", "Your referral has been declined. Sign in to read why and where to go instead.")
    if held:
        _slot_freed(by)


def withdraw(referral: Referral, *, by: User, reason: str) -> None:
    """Withdraw a referral (by its referrer, their agency's SPoC or a coordinator). Frees its place."""
    _require(referral, ReferralStatus.SUBMITTED, ReferralStatus.INFO_REQUESTED, ReferralStatus.AWAITING_PANEL,
             ReferralStatus.WAITING)
    held = referral.status in OPEN_REFERRAL_STATUSES
    _decide(referral, "withdrawn", ReferralStatus.WITHDRAWN, by=by, reason=reason)
    referral.decided_at = utcnow()
    audit.record(AuditAction.UPDATE, "referral", referral.id, summary={"status": "withdrawn"}, user=by)
    _tell_referrer(referral, "Referral withdrawn", "This referral has been withdrawn.")
    if held:
        _slot_freed(by)


def promote(referral: Referral, *, by: User) -> None:
    """Move a waiting referral into the pathway when there is room (under the pathway lock)."""
    pathway.lock()
    db.session.refresh(referral)
    _require(referral, ReferralStatus.WAITING)
    if pathway.occupancy().full:
        raise ServiceError("The pathway is full. A place must free before a waiting referral can be promoted")
    _decide(referral, "promoted", ReferralStatus.SUBMITTED, by=by)
    audit.record(AuditAction.UPDATE, "referral", referral.id, summary={"status": "submitted", "promoted": True}, user=by)
    _tell_referrer(referral, "Referral taken off the waiting list",
                   "A place is free and your referral is now with the coordinator for triage.")


def accept(referral: Referral, *, by: User, lead_agency: Agency, today: date | None = None) -> Case:
    """Panel decision: accept into the pathway with a lead agency. Creates the case and carries
    the involvements over. The referral already holds its place, so occupancy does not change."""
    today = today or london_today()
    row = pathway.lock()
    db.session.refresh(referral)
    _require(referral, *DECISION_STATUSES)
    case = Case(reference=pathway.next_case_reference(row, today), person_id=referral.person_id,
                referral=referral, status=CaseStatus.ACTIVE, lead_agency=lead_agency,
                risk_level=referral.risk_level, accepted_on=today, accepted_by_id=by.id)
    db.session.add(case)
    _decide(referral, "accepted", ReferralStatus.ACCEPTED, by=by, reason=f"Lead agency: {lead_agency.name}")
    referral.decided_at = utcnow()
    agencies = {inv.agency_id for inv in referral.involvements}
    for inv in referral.involvements:
        db.session.add(Involvement(case=case, agency_id=inv.agency_id, named_worker=inv.named_worker,
                                   worker_user_id=inv.worker_user_id, has_rapport=inv.has_rapport))
    if lead_agency.id not in agencies:
        db.session.add(Involvement(case=case, agency_id=lead_agency.id))
    db.session.flush()
    audit.record(AuditAction.CREATE, "case", case.reference, summary={"referral": referral.reference,
                                                                        "lead_agency": lead_agency.code}, user=by)
    audit.record(AuditAction.UPDATE, "referral", referral.id, summary={"status": "accepted", "case": case.reference}, user=by)
    _tell_referrer(referral, "Referral accepted", f"Your referral has been accepted into the pathway as case {case.reference}.")
    return case


# ---- history and repeat referrals ---------------------------------------------------


def referrals_in_last_year(person_ids: list[int], now: datetime | None = None) -> int:
    now = now or utcnow()
    return db.session.execute(
        sa.select(sa.func.count()).select_from(Referral).where(
            Referral.person_id.in_(person_ids),
            Referral.status != ReferralStatus.DRAFT,
            Referral.submitted_at >= now - timedelta(days=365),
        )
    ).scalar_one()


def open_case_for(person_id: int) -> Case | None:
    return db.session.execute(
        sa.select(Case).where(Case.person_id == person_id, Case.status.in_(OPEN_CASE_STATUSES))
    ).scalar_one_or_none()
