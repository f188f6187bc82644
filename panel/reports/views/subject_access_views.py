"""Pages: subject access (under /people), for coordinators only.

/people/subject-access finds a person (by POST, so what was searched for never appears in an
address) and lists the requests; /people/<id>/subject-access (DESIGN §4) opens a request for a
person; the request's pages show the deadline, the free text to review, what is withheld and
why, the release (PDF and JSON) and closing. Every page and download is audited; a coordinator
whose agency's information sharing agreement is not current gets 404, as for case records.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup, escape

from panel import audit
from panel.auth.policy import can_access_case_records
from panel.dates import govuk_date, london_today
from panel.extensions import db
from panel.forms.errors import ServiceError, show_service_error
from panel.meetings.pdf import pdf_response
from panel.models import AuditAction, Person, SubjectAccessRequest, User
from panel.reports import subject_access as services
from panel.reports.subject_access_bundle import TRAIL, counts, find, free_text, review_groups
from panel.reports.subject_access_forms import (
    ALL,
    CloseRequestForm,
    ConfirmForm,
    OpenRequestForm,
    PersonSearchForm,
    WithholdForm,
)

bp = Blueprint("people", "panel.reports", url_prefix="/people")

ID = "int(max=2147483647)"


def _me() -> User:
    user = current_user._get_current_object()
    if not can_access_case_records(user, london_today()):
        _deny("endpoint", "subject_access")
    return user


def _deny(object_type: str, object_id: Any, **summary: Any):
    """404, audited as a refusal (and nothing else of this request kept)."""
    db.session.rollback()
    audit.record(AuditAction.DENIED, object_type, object_id, summary=summary or None)
    db.session.commit()
    abort(404)


def _person(person_id: int) -> Person:
    person = services.record_person(person_id)
    if person is None:
        abort(404)
    return person


def _request(person_id: int, request_id: int) -> SubjectAccessRequest:
    sar = services.get_request(person_id, request_id)
    if sar is None:
        abort(404)
    return sar


def _done(html: str) -> str:
    """Commit the view's audit entry once the page is rendered."""
    db.session.commit()
    return html


def _failed(form, problem: ServiceError, default: str) -> None:
    db.session.rollback()
    show_service_error(form, problem, default=default)


def anchor(key: str) -> str:
    """The id of an entry's row on the review page."""
    return "entry-" + key.replace(":", "-")


def _request_url(sar: SubjectAccessRequest, endpoint: str = "people.view_request", **values: Any) -> str:
    return url_for(endpoint, person_id=sar.person_id, request_id=sar.id, **values)


# ---- finding the person ---------------------------------------------------------------------------


@bp.route("/subject-access", methods=["GET", "POST"])
def find_person():
    user, today = _me(), london_today()
    form = PersonSearchForm()
    results = more = None
    if form.validate_on_submit():
        try:
            results, more = services.find_people(text=form.q.data, date_of_birth=form.date_of_birth.data, by=user)
        except ServiceError as problem:
            _failed(form, problem, "q")
    audit.record(AuditAction.VIEW, "subject_access_request", "list", user=user, summary={"page": "find"})
    return _done(render_template(
        "reports/subject_access_find.html", form=form, results=results, more=more, today=today,
        open_requests=services.open_requests(), closed_requests=services.closed_requests(),
        countdown=services.countdown))


@bp.route(f"/<{ID}:person_id>/subject-access", methods=["GET", "POST"])
def subject_access(person_id: int):
    user, today = _me(), london_today()
    person = _person(person_id)
    form = OpenRequestForm()
    if form.validate_on_submit():
        try:
            sar, made = services.open_request(person, received_on=form.received_on.data, by=user, today=today)
        except ServiceError as problem:
            _failed(form, problem, "received_on")
        else:
            db.session.commit()
            if made:
                flash(f"Request {sar.id} is open. The release is due by {govuk_date(sar.due_on)} "
                      f"({services.countdown(sar.due_on, today).lower()}).", "success")
            else:
                flash(f"Request {sar.id} was already open for this person.", "info")
            return redirect(_request_url(sar))
    audit.record(AuditAction.VIEW, "person", person.id, user=user, summary={"page": "subject_access"})
    return _done(render_template(
        "reports/subject_access_person.html", person=person, form=form, today=today,
        references=services.person_references(person), requests=services.requests_for(person),
        open_request=services.open_request_for(person), countdown=services.countdown))


# ---- the request ------------------------------------------------------------------------------


def _render_request(sar: SubjectAccessRequest, user: User, close_form: CloseRequestForm | None = None) -> str:
    # the page shows the audit trail's section only as a count: counted, not written out
    bundle = services.gather(sar, trail=False)
    held = counts(bundle) + [(TRAIL, services.trail_count(sar))]
    withholdings = services.current_withholdings(sar)
    services.record_view(sar, "request", by=user)
    context: dict[str, Any] = {"form": close_form} if close_form is not None and close_form.errors else {}
    to_review = free_text(bundle)
    return _done(render_template(
        "reports/subject_access_request.html", sar=sar, person=sar.person, today=london_today(),
        counts=held, to_review=len(to_review), withholdings=withholdings,
        located={found["field"]["key"]: found for found in to_review},
        reinstated=[w for w in sar.withholdings if not w.current], stale=services.release_is_stale(sar),
        close_form=close_form or CloseRequestForm(), countdown=services.countdown,
        **context))


@bp.route(f"/<{ID}:person_id>/subject-access/<{ID}:request_id>")
def view_request(person_id: int, request_id: int):
    user = _me()
    return _render_request(_request(person_id, request_id), user)


@bp.route(f"/<{ID}:person_id>/subject-access/<{ID}:request_id>/review")
def review_request(person_id: int, request_id: int):
    user = _me()
    sar = _request(person_id, request_id)
    bundle = services.gather(sar, trail=False)  # the free text only
    withheld = services.withheld_fields(bundle, services.current_withholdings(sar))
    services.record_view(sar, "review", by=user)
    return _done(render_template("reports/subject_access_review.html", sar=sar, person=sar.person,
                                 groups=_review_rows(sar, review_groups(bundle), withheld)))


def lines(text: str) -> Markup:
    """Text with its line breaks as <br>, escaped: as the `lines` macro of
    reports/subject_access_macros.html writes it (tests/reports/test_subject_access_markup.py)."""
    # bandit B704: every line is escaped here
    return Markup("<br>".join(str(escape(line)) for line in text.split("\n")))  # nosec B704


def _review_rows(sar: SubjectAccessRequest, groups: list, withheld: dict[str, str]) -> list:
    """The review page's fields, each with what its row shows worked out here, once a field
    (a page holds hundreds: a macro and a url_for a field were most of its time)."""
    base = url_for("people.withhold_entry", person_id=sar.person_id, request_id=sar.id)
    return [(section, [(heading, [
        {"label": field["label"], "anchor": anchor(field["key"]), "state": withheld.get(field["key"]),
         "value": lines(field["value"]), "href": f"{base}?entry={quote(field['key'], safe=':')}"}
        for field in fields]) for heading, fields in entries]) for section, entries in groups]


@bp.route(f"/<{ID}:person_id>/subject-access/<{ID}:request_id>/withhold", methods=["GET", "POST"])
def withhold_entry(person_id: int, request_id: int):
    """The entry is named in the query string (?entry=<kind>:<id>:<field>: ids and field names only)."""
    user = _me()
    sar = _request(person_id, request_id)
    key = request.args.get("entry", "")[:80]
    if not key:
        return redirect(_request_url(sar, "people.review_request"))
    bundle = services.gather(sar, trail=False, entry=key)  # the section that can hold the entry only
    found = find(bundle, key)
    if found is None:
        abort(404)
    form = WithholdForm()
    if sar.is_open and form.validate_on_submit():
        try:
            _, made = services.withhold(sar, bundle=bundle, key=key, whole=form.part.data == ALL,
                                        passage=form.passage.data, reason=form.reason.data, note=form.note.data,
                                        by=user)
        except ServiceError as problem:
            _failed(form, problem, "part")
        else:
            db.session.commit()
            flash(f"{found['field']['label']} ({found['entry']}) is withheld." if made
                  else "That was already withheld.", "success" if made else "info")
            return redirect(_request_url(sar, "people.review_request", _anchor=anchor(key)))
    services.record_view(sar, "withhold", by=user)
    on_entry = [w for w in services.current_withholdings(sar) if w.entry == key]
    return _done(render_template("reports/subject_access_withhold.html", sar=sar, person=sar.person,
                                 found=found, form=form, on_entry=on_entry))


@bp.route(f"/<{ID}:person_id>/subject-access/<{ID}:request_id>/withheld/<{ID}:withholding_id>/reinstate",
          methods=["POST"])
def reinstate_entry(person_id: int, request_id: int, withholding_id: int):
    user = _me()
    sar = _request(person_id, request_id)
    withholding = next((w for w in sar.withholdings if w.id == withholding_id), None)
    if withholding is None:
        abort(404)
    if ConfirmForm().validate_on_submit():
        try:
            done = services.reinstate(sar, withholding, by=user)
        except ServiceError as problem:
            db.session.rollback()
            flash(problem.message, "info")
        else:
            db.session.commit()
            flash("It will be released after all." if done else "That had already been released after all.",
                  "success" if done else "info")
    return redirect(_request_url(sar, _anchor="withheld"))


@bp.route(f"/<{ID}:person_id>/subject-access/<{ID}:request_id>/release", methods=["POST"])
def create_release(person_id: int, request_id: int):
    user = _me()
    sar = _request(person_id, request_id)
    if ConfirmForm().validate_on_submit():
        try:
            services.create_release(sar, by=user, service_name=current_app.config["SERVICE_NAME"])
        except ServiceError as problem:
            db.session.rollback()
            flash(problem.message, "info")
        else:
            db.session.commit()
            flash("The release has been made. Download the PDF for the person and the JSON file below.", "success")
    return redirect(_request_url(sar, _anchor="release"))


def _release(person_id: int, request_id: int, file: str) -> tuple[SubjectAccessRequest, dict] | Response:
    user = _me()
    sar = _request(person_id, request_id)
    if sar.release_document is None:
        flash("Make the release first.", "info")
        return redirect(_request_url(sar, _anchor="release"))
    services.record_download(sar, file, by=user)
    return sar, sar.release_document


@bp.route(f"/<{ID}:person_id>/subject-access/<{ID}:request_id>/release.pdf")
def release_pdf(person_id: int, request_id: int):
    loaded = _release(person_id, request_id, "pdf")
    if isinstance(loaded, Response):
        return loaded
    sar, document = loaded
    html = render_template("reports/subject_access_release.html", release=document, sar=sar)
    filename = f"subject-access-{sar.id}.pdf"
    db.session.commit()  # before the PDF is drawn: no transaction (SQLite's write lock) held meanwhile
    return pdf_response(html, filename)


@bp.route(f"/<{ID}:person_id>/subject-access/<{ID}:request_id>/release.json")
def release_json(person_id: int, request_id: int):
    loaded = _release(person_id, request_id, "json")
    if isinstance(loaded, Response):
        return loaded
    sar, document = loaded
    response = Response(json.dumps(document, ensure_ascii=False, indent=2), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="subject-access-{sar.id}.json"'
    response.headers["Cache-Control"] = "private, no-store"
    db.session.commit()
    return response


@bp.route(f"/<{ID}:person_id>/subject-access/<{ID}:request_id>/close", methods=["POST"])
def close_request(person_id: int, request_id: int):
    user = _me()
    sar = _request(person_id, request_id)
    form = CloseRequestForm()
    if form.validate_on_submit():
        try:
            services.close_request(sar, sent_on=form.sent_on.data, by=user)
        except ServiceError as problem:
            _failed(form, problem, "sent_on")
        else:
            db.session.commit()
            flash(f"Request {sar.id} is closed: the release was sent on {govuk_date(sar.sent_on)}.", "success")
            return redirect(_request_url(sar))
    return _render_request(sar, user, close_form=form)
