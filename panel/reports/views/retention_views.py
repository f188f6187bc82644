"""Pages: retention (under /retention): what is due for anonymisation in the next 30 days, and
placing or lifting a legal hold. The coordinator's only (panel.auth.policy.ACCESS)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from markupsafe import Markup, escape

from panel import audit, pagination as paging
from panel.auth import policy
from panel.dates import govuk_date, london_today
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
    html = render_template("reports/retention.html", overview=found, today=today, due_rows=due_rows(found),
                           years=retention.retention_years(), notice_days=retention.NOTICE_DAYS,
                           pagination=paging.pagination("retention.due_list", found.page, found.pages,
                                                        label="Pages of records due"))
    db.session.commit()  # after rendering, so nothing shown is read again
    return html


# ---- the list's rows ---------------------------------------------------------------------------
# Written here, a row at a time, as reports/_retention_macros.html and govukTag write them: with
# three macros and a tag a row, fifty rows were most of the page's time at ten years
# (tests/reports/test_retention_markup.py compares the two).

HOLD_TAG = Markup('<strong class="govuk-tag govuk-tag--yellow">Legal hold</strong>')


def records(adult: retention.Due) -> Markup:
    """The adult's case and referral references, each a link to its page (the `records` macro)."""
    items = []
    for record in adult.records:
        referral = (f'<a class="govuk-link" href="{escape(url_for("referrals.view_referral", referral_id=record.referral_id))}">'
                    f'{escape(record.referral_reference or "draft referral")}</a>')
        if record.case_reference:
            case = (f'<a class="govuk-link" href="{escape(url_for("cases.view_case", reference=record.case_reference))}">'
                    f"{escape(record.case_reference)}</a>")
            items.append(f"<li>{case} (referral {referral})</li>")
        else:
            items.append(f"<li>{referral}</li>")
    # bandit B704: every part was escaped above
    return Markup(f'<ul class="govuk-list">{"".join(items)}</ul>')  # nosec B704


def why(adult: retention.Due) -> str:
    """The record whose end started the period, or why nothing is due yet (the `why` macro)."""
    return f"{adult.rule.label} on {govuk_date(adult.ended_on)}" if adult.rule else "A record is still open"


def due(adult: retention.Due, today: date) -> str:
    """The date the records go, or "Not yet due" (the `due` macro)."""
    if adult.due_on is None:
        return "Not yet due"
    return f"Due now ({govuk_date(adult.due_on)})" if adult.due_on <= today else govuk_date(adult.due_on)


def due_rows(found: retention.Overview) -> list[dict]:
    """The rows of the list of adults due, for data_table."""
    rows = []
    for adult in found.due:
        on = escape(", ".join(adult.references))
        if adult.hold:
            href, words = url_for("retention.lift_hold", hold_id=adult.hold.id), "Lift the legal hold"
        else:
            href, words = url_for("retention.place_hold", person_id=adult.person_id), "Place a legal hold"
        # bandit B704: every part is escaped
        action = Markup(f'<a class="govuk-link" href="{escape(href)}">{words}'  # nosec B704
                        f'<span class="govuk-visually-hidden"> on {on}</span></a>')
        rows.append({"attributes": {"id": f"person-{adult.person_id}"}, "cells": [
            records(adult), adult.initials or "–", why(adult), due(adult, found.today),
            HOLD_TAG if adult.hold else "None", action]})
    return rows


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
