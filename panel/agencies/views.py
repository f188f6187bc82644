"""Agency pages: the directory, adding and changing an agency, and the ISA register."""

from __future__ import annotations


from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from panel.agencies import absence, services
from panel.agencies.forms import AgencyForm
from panel.extensions import db
from panel.models import Agency, AgencyKind, utcnow
from panel.dates import london_today

# The blueprint lives with the views, so importing the feature's services never loads its pages.
bp = Blueprint("agencies", "panel.agencies", url_prefix="/admin")


def _due_soon_days() -> int:
    return current_app.config["ISA_DUE_SOON_DAYS"]


@bp.route("/agencies")
def list_agencies():
    now = utcnow()
    today = london_today(now)
    agencies = services.list_agencies()
    rows = [(c.agency, services.isa_status(c.agency, today=today, due_soon_days=_due_soon_days()), c)
            for c in absence.cover_for_all(agencies, now)]
    return render_template("agencies/list_agencies.html", rows=rows, now=now)


@bp.route("/agencies/new", methods=["GET", "POST"])
def add_agency():
    form = AgencyForm(spoc_users=[], contact_users=[], today=london_today(), adding=True)
    if form.validate_on_submit():
        try:
            agency = services.add_agency(name=form.name.data, code=form.code.data, kind=AgencyKind(form.kind.data),
                                         isa_signed_on=form.isa_signed_on.data,
                                         isa_review_due=form.isa_review_due.data,
                                         by=current_user._get_current_object())
            db.session.commit()
        except IntegrityError:  # the same name or code saved by another request a moment ago
            db.session.rollback()
            form.name.errors = [f"{services.DUPLICATE_NAME}, or one with this code does"]
        else:
            flash(f"{agency.name} has been added. Add its users, then choose its SPoC.", "success")
            return redirect(url_for("agencies.edit_agency", agency_id=agency.id))
    return render_template("agencies/add_agency.html", form=form)


@bp.route("/agencies/<int:agency_id>", methods=["GET", "POST"])
def edit_agency(agency_id: int):
    agency = db.get_or_404(Agency, agency_id)
    spoc_users = services.spoc_candidates(agency)
    contact_users = services.contact_candidates(agency)
    form = AgencyForm(obj=agency, spoc_users=spoc_users, contact_users=contact_users,
                      today=london_today(), adding=False)
    code_fixed = services.has_users(agency)
    if code_fixed:
        del form.code  # codes are fixed once an agency has users, so nothing a user sees changes under them
    if form.validate_on_submit():
        people = {u.id: u for u in contact_users}
        try:
            changed = services.update_agency(
                agency=agency, by=current_user._get_current_object(),
                name=form.name.data, code=None if code_fixed else form.code.data,
                kind=AgencyKind(form.kind.data),
                spoc=people.get(form.spoc_id.data), deputy_spoc=people.get(form.deputy_spoc_id.data),
                escalation_contact=people.get(form.escalation_contact_id.data),
                spoc_absent=form.spoc_absent.data,
                isa_signed_on=form.isa_signed_on.data, isa_review_due=form.isa_review_due.data,
            )
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            form.name.errors = [f"{services.DUPLICATE_NAME}, or one with this code does"]
        else:
            flash(f"{agency.name} has been saved." if changed else "No changes were made.",
                  "success" if changed else "info")
            return redirect(url_for("agencies.list_agencies"))
    return render_template("agencies/edit_agency.html", form=form, agency=agency, code_fixed=code_fixed,
                           status=services.isa_status(agency, today=london_today(), due_soon_days=_due_soon_days()))


@bp.route("/isa")
def isa_register():
    rows = services.isa_register(today=london_today(), due_soon_days=_due_soon_days())
    return render_template("agencies/isa_register.html", rows=rows)

