"""Pages: retention (under /retention): what is due for anonymisation in the next 30 days, and
placing or lifting a legal hold. The coordinator's only (panel.auth.policy.ACCESS)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from panel import audit, pagination as paging
from panel.auth import policy
from panel.dates import london_today
from panel.extensions import db
from panel.forms.errors import ServiceError, show_service_error
from panel.models import AuditAction, LegalHold, LegalHoldKind
from panel.reports import retention
from panel.reports.retention_forms import LegalHoldForm, LiftHoldForm

bp = Blueprint("retention", "panel.reports", url_prefix="/retention")


@bp.before_request
def _isa_current() -> None:
    """Case records, even initials and references, need the agency's information sharing
    agreement to be current (as everywhere)."""
    if not policy.can_access_case_records(current_user, london_today()):
        abort(404)


@bp.route("")
def due_list():
    """The records due for anonymisation in the next 30 days (and any overdue), a page of 50
    at a time, soonest first, with every legal hold standing."""
    today = london_today()
    found = retention.overview(today, page_of=paging.page_number)  # audits the view
    html = render_template("reports/retention.html", overview=found, today=today,
                           years=retention.retention_years(), notice_days=retention.NOTICE_DAYS,
                           pagination=paging.pagination("retention.due_list", found.page, found.pages,
                                                        label="Pages of records due"))
    db.session.commit()  # after rendering, so nothing shown is read again
    return html


def _adult(person_id: int) -> retention.Due:
    found = retention.adult(person_id)
    if found is None:
        abort(404)
    return found


@bp.route("/people/<int(max=2147483647):person_id>/hold", methods=["GET", "POST"])
def place_hold(person_id: int):
    """Place a legal hold, with the reason, on an adult's records."""
    held = _adult(person_id)
    form = LegalHoldForm()
    if held.hold is None and form.validate_on_submit():
        try:
            hold, placed = retention.place_hold(held, kind=LegalHoldKind(form.kind.data), details=form.details.data,
                                                by=current_user._get_current_object())
        except ServiceError as problem:
            db.session.rollback()
            show_service_error(form, problem, default="details")
        else:
            db.session.commit()
            flash(_words(held) + (" are now under a legal hold: they will not be anonymised until it is lifted."
                                  if placed else " were already under a legal hold."), "success")
            return redirect(url_for("retention.due_list"))
    elif held.hold is not None and form.is_submitted():
        flash(_words(held) + " were already under a legal hold.", "info")
        return redirect(url_for("retention.due_list"))
    audit.record(AuditAction.VIEW, "person", held.person_id, summary={"section": "legal_hold"})
    db.session.commit()
    return render_template("reports/retention_hold.html", form=form, adult=held,
                           years=retention.retention_years(), today=london_today())


@bp.route("/holds/<int(max=2147483647):hold_id>/lift", methods=["GET", "POST"])
def lift_hold(hold_id: int):
    """Lift a legal hold, with the reason."""
    hold = db.session.scalar(sa.select(LegalHold).where(LegalHold.id == hold_id))
    held = retention.adult(hold.person_id) if hold is not None else None
    if hold is None or held is None:
        abort(404)
    form = LiftHoldForm()
    if hold.lifted_at is not None and form.is_submitted():
        flash(_words(held) + " were no longer under that legal hold.", "info")
        return redirect(url_for("retention.due_list"))
    if hold.lifted_at is None and form.validate_on_submit():
        try:
            retention.lift_hold(hold, reason=form.reason.data, by=current_user._get_current_object())
        except ServiceError as problem:
            db.session.rollback()
            show_service_error(form, problem, default="reason")
        else:
            db.session.commit()
            flash(_words(held) + " are no longer under a legal hold. They will be anonymised when due.", "success")
            return redirect(url_for("retention.due_list"))
    audit.record(AuditAction.VIEW, "legal_hold", hold.id, summary={"person": hold.person_id})
    db.session.commit()
    return render_template("reports/retention_lift.html", form=form, adult=held, hold=hold,
                           years=retention.retention_years(), today=london_today())


def _words(held: retention.Due) -> str:
    return "The records " + ", ".join(held.references)
