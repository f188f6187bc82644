"""Dashboard at / (one per role) and /healthz."""

from __future__ import annotations


import sqlalchemy as sa
from flask import jsonify, render_template
from flask_login import current_user
from sqlalchemy.orm import joinedload

from panel import pathway
from panel.auth.policy import OPERATIONS, isa_block_reason
from panel.extensions import db
from panel.main import bp, health
from panel.models import (
    OPEN_CASE_STATUSES,
    OPEN_REFERRAL_STATUSES,
    Case,
    Referral,
    ReferralStatus,
    Role,
)
from panel.dates import london_today


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
    user = current_user._get_current_object()
    isa_message = isa_block_reason(user.agency, london_today())
    context: dict = {}
    if user.role in OPERATIONS:
        context["occupancy"] = pathway.occupancy()
        context["waiting"] = db.session.execute(sa.select(sa.func.count(Referral.id)).where(
            Referral.status == ReferralStatus.WAITING)).scalar_one()
        context["places"] = _places() if isa_message is None else []
    elif user.role == Role.BOARD:
        context["occupancy"] = pathway.occupancy()  # a count only: the board never sees who
    return render_template("main/dashboard.html", isa_message=isa_message, **context)


@bp.route("/healthz")
def healthz():
    report = health.check()
    return jsonify(report), (200 if report["status"] == "ok" else 503)
