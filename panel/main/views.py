"""The home page at / (one per role: panel.main.home) and /healthz."""

from __future__ import annotations


import sqlalchemy as sa
from flask import jsonify, render_template
from flask_login import current_user
from sqlalchemy.orm import joinedload

from panel import pathway
from panel.auth.policy import OPERATIONS, acts_as_spoc, isa_block_reason
from panel.extensions import db
from panel.main import bp, health, home
from panel.models import (
    OPEN_CASE_STATUSES,
    OPEN_REFERRAL_STATUSES,
    Case,
    Referral,
    ReferralStatus,
    Role,
    utcnow,
)
from panel.dates import london_today
from panel.reports import subject_access


def _places() -> list[dict]:
    """What holds each place in the pathway: open cases, then open referrals, most urgent first."""
    cases = db.session.execute(
        sa.select(Case).where(Case.status.in_(OPEN_CASE_STATUSES))
        .options(joinedload(Case.person), joinedload(Case.lead_agency))
    ).scalars()
    referrals = db.session.execute(
        sa.select(Referral).where(Referral.status.in_(OPEN_REFERRAL_STATUSES))
        .options(joinedload(Referral.person), joinedload(Referral.referring_agency))
    ).scalars()
    rows = [{"kind": "case", "reference": c.reference, "initials": c.person.initials, "status": c.status,
             "risk": c.risk_level, "agency": c.lead_agency.name, "referral_id": None} for c in cases]
    rows += [{"kind": "referral", "reference": r.reference, "initials": r.person.initials, "status": r.status,
              "risk": r.risk_level, "agency": r.referring_agency.name, "referral_id": r.id} for r in referrals]
    rows.sort(key=lambda row: (row["kind"] != "case", row["risk"].rank if row["risk"] else 9, row["reference"] or ""))
    return rows


@bp.route("/")
def dashboard():
    """Each role's home: what needs them today (panel.main.home), one template per role."""
    user = current_user._get_current_object()
    now = utcnow()
    today = london_today(now)
    isa_message = isa_block_reason(user.agency, today)
    records = isa_message is None
    context: dict = {"isa_message": isa_message, "today": today, "now": now}
    if user.role in OPERATIONS:
        context["occupancy"] = pathway.occupancy()
        context["waiting"] = db.session.execute(sa.select(sa.func.count(Referral.id)).where(
            Referral.status == ReferralStatus.WAITING)).scalar_one()
        context["places"] = _places() if records else []
    if user.role == Role.COORDINATOR:
        context["home"] = home.coordinator_home(today, now) if records else None
        if records:  # subject-access deadlines, soonest first
            context["subject_access"] = subject_access.open_requests()
            context["countdown"] = subject_access.countdown
        template = "main/home_coordinator.html"
    elif user.role == Role.CHAIR:
        context["home"] = home.chair_home(today, now) if records else None
        template = "main/home_chair.html"
    elif user.role == Role.SPOC:
        context["home"] = home.spoc_home(user, today, now, acting=acts_as_spoc(user), records=records)
        template = "main/home_spoc.html"
    elif user.role == Role.PRACTITIONER:
        context["home"] = home.practitioner_home(user, today, now, records=records)
        template = "main/home_practitioner.html"
    elif user.role == Role.BOARD:
        context["occupancy"] = pathway.occupancy()  # a count only: the board never sees who
        template = "main/home_board.html"
    else:
        template = "main/home_admin.html"
    return render_template(template, **context)


@bp.route("/healthz")
def healthz():
    report = health.check()
    return jsonify(report), (200 if report["status"] == "ok" else 503)
