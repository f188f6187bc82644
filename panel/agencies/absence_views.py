"""SPoC cover at /agencies: every agency's SPoC, deputy and who acts now, with the SPoCs'
absences; the coordinator (or an admin) records an absence for any SPoC, or ends one. A SPoC
records their own on their account page (panel.auth.views), through the same service."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from panel.agencies import absence
from panel.agencies.absence_forms import AbsenceForm, EndAbsenceForm
from panel.extensions import db
from panel.forms.errors import ServiceError, show_service_error
from panel.models import Agency, SpocAbsence, User, utcnow

# The blueprint lives with the views, so importing the feature's services never loads its pages.
bp = Blueprint("absences", "panel.agencies", url_prefix="/agencies")


def _me() -> User:
    return current_user._get_current_object()


@bp.route("")
def spoc_cover():
    now = utcnow()
    covers = absence.cover_for_all(absence.agencies_with_spocs(), now)
    return render_template("agencies/spoc_cover.html", covers=covers, now=now, end_url=_end_url)


def _end_url(record: SpocAbsence) -> str:
    return url_for("absences.end_absence", absence_id=record.id)


@bp.route("/<code>/absence", methods=["GET", "POST"])
def record_absence(code: str):
    agency = db.session.scalar(sa.select(Agency).where(Agency.code == code[:40]))
    if agency is None or agency.spoc is None:
        abort(404)
    form = AbsenceForm()
    if form.validate_on_submit():
        try:
            record = absence.record_absence(spoc=agency.spoc, starts_on=form.starts_on.data, ends_on=form.ends_on.data,
                                            note=form.note.data or "", by=_me())
        except ServiceError as problem:
            db.session.rollback()
            show_service_error(form, problem, default="starts_on")
        else:
            message = absence.recorded_words(record)
            db.session.commit()
            flash(message, "success")
            return redirect(url_for("absences.spoc_cover", _anchor=f"agency-{agency.code}"))
    now = utcnow()
    return render_template("agencies/record_absence.html", form=form, cover=absence.cover_of(agency, now), now=now,
                           own=False, back=url_for("absences.spoc_cover"), end_url=_end_url)


@bp.route("/absences/<int:absence_id>/end", methods=["POST"])
def end_absence(absence_id: int):
    record = absence.find(absence_id)
    if record is None:
        abort(404)
    spoc, code = record.user, record.user.agency.code
    back = redirect(url_for("absences.spoc_cover", _anchor=f"agency-{code}"))
    if not EndAbsenceForm().validate_on_submit():
        flash("Something went wrong with the form. Try again.", "info")
        return back
    try:
        outcome = absence.end_absence(record, by=_me())
    except ServiceError as problem:
        db.session.rollback()
        flash(f"{problem.message}.", "info")
        return back
    db.session.commit()
    flash(absence.ended_words(outcome, spoc), "success")
    return back
