"""Admin dashboard and user management: list, add, change, reset a password, unlock."""

from __future__ import annotations


from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from panel import pagination as paging
from panel.admin import bp, services
from panel.admin.forms import ACTIVE, DEACTIVATED, ConfirmForm, UserAddForm, UserEditForm, UserFilterForm
from panel.extensions import db
from panel.forms.errors import ServiceError, show_service_error
from panel.models import Agency, User, utcnow
from panel.dates import london_today


def _admin() -> User:
    return current_user._get_current_object()


@bp.route("/")
def dashboard():
    board = services.dashboard(today=london_today(), now=utcnow(),
                               due_soon_days=current_app.config["ISA_DUE_SOON_DAYS"])
    trail = services.trail_status(key_set=bool(current_app.config.get("AUDIT_KEY")),
                                  anchor_path=current_app.config["AUDIT_ANCHOR_PATH"])
    return render_template("admin/dashboard.html", board=board, trail=trail, now=utcnow(), today=london_today())


@bp.route("/users")
def list_users():
    filters = UserFilterForm(formdata=request.args, agencies=services.all_agencies())
    agency_id, role = filters.chosen()
    total = services.count_users(agency_id=agency_id, role=role)
    pages = max(1, -(-total // services.USERS_PAGE))
    page = paging.page_number(pages)
    users = services.list_users(agency_id=agency_id, role=role, page=page)
    now = utcnow()
    rows = [(user, services.user_status(user, now)) for user in users]
    chosen = {"agency": agency_id, "role": role.value if role else None}
    return render_template("admin/list_users.html", filters=filters, rows=rows, total=total,
                           first=(page - 1) * services.USERS_PAGE + 1,
                           pagination=paging.pagination("admin.list_users", page, pages, label="User list pages",
                                                        **{k: v for k, v in chosen.items() if v is not None}),
                           filtered=agency_id is not None or role is not None)


@bp.route("/users/new", methods=["GET", "POST"])
def add_user():
    form = UserAddForm(agencies=services.all_agencies())
    if form.validate_on_submit():
        agency = db.get_or_404(Agency, form.agency_id.data)
        try:
            user, password = services.add_user(name=form.name.data, email=form.email.data, role=form.role.data,
                                               agency=agency, by=_admin())
            db.session.commit()
        except IntegrityError:  # the same email added by another request a moment ago
            db.session.rollback()
            form.email.errors = [services.DUPLICATE_EMAIL]
        else:
            return render_template("admin/user_temporary_password.html", user=user, password=password, added=True)
    return render_template("admin/add_user.html", form=form)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def edit_user(user_id: int):
    user = db.get_or_404(User, user_id)
    form = UserEditForm(obj=user, status=ACTIVE if user.active else DEACTIVATED, agencies=services.all_agencies())
    if form.validate_on_submit():
        agency = db.get_or_404(Agency, form.agency_id.data)
        try:
            changed = services.update_user(user=user, by=_admin(), name=form.name.data, role=form.role.data,
                                           agency=agency, active=form.status.data == ACTIVE)
        except ServiceError as refusal:  # raised before anything is changed
            show_service_error(form, refusal)
        else:
            db.session.commit()
            flash(f"{user.name}’s details have been saved." if changed else "No changes were made.",
                  "success" if changed else "info")
            return redirect(url_for("admin.edit_user", user_id=user.id))
    return render_template("admin/edit_user.html", form=form, user=user, now=utcnow(),
                           status=services.user_status(user, utcnow()))


@bp.route("/users/<int:user_id>/reset-password", methods=["GET", "POST"])
def reset_password(user_id: int):
    user = db.get_or_404(User, user_id)
    if user.id == _admin().id:
        flash("To change your own password, use this page rather than resetting it.", "info")
        return redirect(url_for("auth.change_password"))
    form = ConfirmForm()
    if form.validate_on_submit():
        password = services.reset_password(user=user, by=_admin())
        db.session.commit()
        return render_template("admin/user_temporary_password.html", user=user, password=password, added=False)
    return render_template("admin/reset_password.html", form=form, user=user)


@bp.route("/users/<int:user_id>/unlock", methods=["POST"])
def unlock_user(user_id: int):
    user = db.get_or_404(User, user_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        if services.unlock_user(user=user, by=_admin()):
            db.session.commit()
            flash(f"{user.name}’s account has been unlocked. They can sign in again.", "success")
        else:
            flash(f"{user.name}’s account was not locked.", "info")
    return redirect(url_for("admin.edit_user", user_id=user.id))
