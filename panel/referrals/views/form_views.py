"""The referral form: the start page, one question page per topic (each saves the draft), check
your answers, the confirmation, and the referrer's drafts."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from panel import audit
from panel.auth import policy
from panel.extensions import db
from panel.forms.errors import ServiceError
from panel.models import Agency, AuditAction, Involvement, Referral, ReferralStatus, User
from panel.referrals import forms, services
from panel.referrals.forms import answer_cards, draft_label
from panel.referrals.views import bp
from panel.dates import london_today

CHECK = "check"


def _user() -> User:
    return current_user._get_current_object()


def _load(referral_id: int) -> Referral | None:
    return db.session.execute(
        sa.select(Referral).where(Referral.id == referral_id).options(
            selectinload(Referral.person),
            selectinload(Referral.involvements).selectinload(Involvement.agency))
    ).scalar_one_or_none()


def _editable(referral_id: int) -> Referral:
    """The referral if this user may change it now; otherwise 404, so existence does not leak."""
    referral = _load(referral_id)
    if referral is None or not policy.can_edit_referral(_user(), referral, london_today()):
        abort(404)
    return referral


def _section_url(section: forms.Section, referral: Referral, returning: bool = False) -> str:
    return url_for("referrals.edit_section", referral_id=referral.id, section=section.slug,
                   **({"return": CHECK} if returning else {}))


def _resume_url(referral: Referral, today: date) -> str:
    """The first page with something still to answer, else check your answers."""
    problems = forms.all_problems(referral, today)
    if problems:
        return _section_url(problems[0][0], referral)
    return url_for("referrals.check_answers", referral_id=referral.id)


@bp.route("/new", methods=["GET", "POST"])
def add_referral():
    user = _user()
    today = london_today()
    blocked = None if policy.can_access_case_records(user, today) else policy.isa_block_reason(user.agency, today)
    form = forms.ConfirmForm()
    form.submit.label.text = "Start now"
    if blocked is None and form.validate_on_submit():
        referral = services.start_draft(by=user)
        db.session.commit()
        return redirect(_section_url(forms.SECTIONS[0], referral))
    return render_template("referrals/form/add_referral.html", form=form, blocked=blocked)


def _section_form(section: forms.Section, referral: Referral, today: date) -> forms.SectionForm:
    form_class = section.form or forms.named_workers_form(referral)
    data = None if request.method == "POST" else form_class.initial(referral)
    extra = {}
    if form_class is forms.DateOfBirthForm:
        extra["today"] = today
    if form_class is forms.AgenciesForm:
        extra["agencies"] = list(db.session.execute(sa.select(Agency).order_by(Agency.name)).scalars())
    return form_class(data=data, **extra)


def _after(section: forms.Section, referral: Referral, returning: bool) -> str:
    """The next page. A page that follows from this answer (named workers, sharing without
    consent) comes next even when changing an answer from check your answers."""
    following = forms.next_section(section.slug, referral)
    if following is not None and following.slug in forms.FOLLOW_ON:
        return _section_url(following, referral, returning)
    if returning or following is None:
        return url_for("referrals.check_answers", referral_id=referral.id)
    return _section_url(following, referral)


@bp.route("/<int:referral_id>/<section>", methods=["GET", "POST"])
def edit_section(referral_id: int, section: str):
    spec = forms.SECTION_BY_SLUG.get(section)
    if spec is None:
        abort(404)
    referral = _editable(referral_id)
    today = london_today()
    returning = request.args.get("return") == CHECK
    if not forms.applies(spec, referral):  # e.g. the lawful basis when the person consents
        return redirect(_section_url(forms.previous_section(spec.slug, referral), referral, returning))
    form = _section_form(spec, referral, today)
    if form.validate_on_submit():
        if isinstance(form, forms.DateOfBirthForm) and form.under_18:
            return render_template("referrals/form/under_18.html", referral=referral,
                                   change_url=_section_url(spec, referral, returning))
        changes = {"involvements": form.chosen(referral)} if isinstance(form, forms.AgenciesForm) else form.answers()
        try:
            services.update_answers(referral, by=_user(), **changes)
        except ServiceError:  # submitted in another tab a moment ago
            db.session.rollback()
            return redirect(url_for("referrals.submitted", referral_id=referral_id))
        db.session.commit()
        return redirect(_after(spec, referral, returning))
    if request.method == "GET":
        audit.record(AuditAction.VIEW, "referral", referral.id, summary={"page": spec.slug})
        db.session.commit()
    previous = forms.previous_section(spec.slug, referral)
    if returning:
        back = url_for("referrals.check_answers", referral_id=referral.id)
    elif previous is not None:
        back = _section_url(previous, referral)
    else:
        back = url_for("referrals.list_drafts")
    return render_template(f"referrals/form/{spec.slug.replace('-', '_')}.html", form=form, referral=referral,
                           section=spec, back=back)


@bp.route("/<int:referral_id>/check", methods=["GET", "POST"])
def check_answers(referral_id: int):
    user = _user()
    today = london_today()
    referral = _load(referral_id)
    if referral is None:
        abort(404)
    if not policy.can_edit_referral(user, referral, today):
        # Submitted already (a double click, the back button, a second tab): show where it went.
        if referral.status != ReferralStatus.DRAFT and policy.can_view_referral(user, referral, today):
            return redirect(url_for("referrals.submitted", referral_id=referral.id))
        abort(404)
    resubmitting = referral.status == ReferralStatus.INFO_REQUESTED
    form = forms.ConfirmForm()
    form.submit.label.text = "Resubmit referral" if resubmitting else "Submit referral"
    problems = forms.all_problems(referral, today)
    attempted = False
    if form.validate_on_submit():
        attempted = True
        if not problems:
            try:
                services.submit(referral, by=user, today=today)
            except services.SubmissionProblems:  # changed in another tab: list what is missing now
                db.session.rollback()
                referral = _load(referral_id)
                problems = forms.all_problems(referral, today)
            except ServiceError:  # submitted in another tab a moment ago
                db.session.rollback()
                return redirect(url_for("referrals.submitted", referral_id=referral_id))
            else:
                db.session.commit()
                return redirect(url_for("referrals.submitted", referral_id=referral.id))
    audit.record(AuditAction.VIEW, "referral", referral.id, summary={"page": "check_answers"})
    db.session.commit()
    error_list = [{"text": message, "href": _section_url(section, referral, returning=True)}
                  for section, _field, message in problems]
    cards = [(section, rows, _section_url(section, referral, returning=True))
             for section, rows in answer_cards(referral)]
    return render_template("referrals/form/check_answers.html", form=form, referral=referral, cards=cards,
                           error_list=error_list, attempted=attempted and bool(problems),
                           resubmitting=resubmitting)


@bp.route("/<int:referral_id>/submitted")
def submitted(referral_id: int):
    user = _user()
    today = london_today()
    referral = db.session.get(Referral, referral_id)
    if referral is None or not policy.can_view_referral(user, referral, today):
        abort(404)
    if referral.status == ReferralStatus.DRAFT:
        return redirect(url_for("referrals.check_answers", referral_id=referral.id))
    audit.record(AuditAction.VIEW, "referral", referral.id, summary={"page": "submitted"})
    db.session.commit()
    return render_template("referrals/form/submitted.html", referral=referral)


@bp.route("/drafts")
def list_drafts():
    user = _user()
    today = london_today()
    blocked = None if policy.can_access_case_records(user, today) else policy.isa_block_reason(user.agency, today)
    rows = []
    if blocked is None:
        referrals = db.session.execute(
            sa.select(Referral)
            .where(Referral.created_by_id == user.id,
                   Referral.status.in_((ReferralStatus.DRAFT, ReferralStatus.INFO_REQUESTED)))
            .order_by(sa.func.coalesce(Referral.updated_at, Referral.created_at).desc(), Referral.id.desc())
            .options(selectinload(Referral.person), selectinload(Referral.involvements))
        ).scalars().all()
        rows = [(r, draft_label(r), _resume_url(r, today)) for r in referrals]
    return render_template("referrals/form/list_drafts.html", rows=rows, blocked=blocked)


@bp.route("/<int:referral_id>/delete", methods=["GET", "POST"])
def delete_draft(referral_id: int):
    referral = _editable(referral_id)
    if referral.status != ReferralStatus.DRAFT:
        abort(404)
    form = forms.ConfirmForm()
    form.submit.label.text = "Yes, delete this draft"
    if form.validate_on_submit():
        services.delete_draft(referral, by=_user())
        db.session.commit()
        flash("The draft has been deleted.", "success")
        return redirect(url_for("referrals.list_drafts"))
    audit.record(AuditAction.VIEW, "referral", referral.id, summary={"page": "delete_draft"})
    db.session.commit()
    return render_template("referrals/form/delete_draft.html", form=form, referral=referral,
                           label=draft_label(referral))
