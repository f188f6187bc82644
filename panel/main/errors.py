"""400, 404, 405, 413 and 500 pages in the service's own layout."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask, flash, g, redirect, render_template, request
from flask_wtf.csrf import CSRFError

from panel.auth import kept
from panel.extensions import db, login_manager
from panel.main import health

log = logging.getLogger(__name__)


def _form_expired():
    """A form whose CSRF token no longer matches (its session is gone): what was typed is kept
    for whoever typed it and put back after they sign in (panel.auth.kept). When it cannot be kept
    (too much from nobody known at once) the page shows it back to copy; never for a form sent
    from another site, nor for the sign-in and password forms."""
    kept_response = kept.keep_after_csrf_failure()
    if kept_response is not None:
        return kept_response
    shown = request.method == "POST" and request.endpoint not in kept.NEVER_KEPT and kept.same_origin()
    rows = kept.display_rows(kept.typed_fields(request.form)) if shown else []
    return render_template("errors/400.html", csrf=True, rows=rows), 400


def register(app: Flask) -> None:
    @app.errorhandler(400)
    def bad_request(error):
        return render_template("errors/400.html"), 400

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return _form_expired()

    @app.errorhandler(404)
    def not_found(error):
        return render_template("errors/404.html"), 404

    @app.errorhandler(405)
    def not_allowed(error):
        return render_template("errors/404.html"), 405

    @app.errorhandler(413)
    def too_large(error):
        return render_template("errors/400.html", too_large=True), 413

    @app.errorhandler(500)
    def server_error(error):
        db.session.rollback()
        log.error("500 on %s %s", request.method, request.endpoint)
        return render_template("errors/500.html"), 500

    @app.errorhandler(sa.exc.OperationalError)
    def database_busy(error):
        """The database held by another writer past DATABASE_BUSY_TIMEOUT (30 s; SQLite's busy
        handler, PostgreSQL's lock_timeout): say so, keep what was typed, and let /healthz say
        why. Anything else is a 500."""
        db.session.rollback()
        if not health.is_busy_error(error):
            return server_error(error)
        health.note_busy(error)
        if "_login_user" not in g:
            # The lock may have stopped even the sign-in check: the page needs nobody from the
            # database (Flask-Login's template context would otherwise try again, and wait again).
            g._login_user = login_manager.anonymous_user()
        log.warning("database busy on %s %s", request.method, request.endpoint)
        fields = [(k, v) for k, v in request.form.items(multi=True) if k not in ("csrf_token", kept.OWNER_FIELD)] \
            if request.method == "POST" else []
        response = app.make_response((render_template("errors/busy.html", fields=fields), 503))
        response.headers["Retry-After"] = "10"
        return response

    @app.errorhandler(sa.exc.IntegrityError)
    def sent_twice(error):
        """A form sent twice at once lost the race to the same row: the other request saved it.
        Answer as the page answers a repeat (back to it, saying so), never with the error page."""
        db.session.rollback()
        if request.method != "POST":
            return server_error(error)
        log.warning("integrity error on %s %s: treated as a repeated submission", request.method, request.endpoint)
        flash("That had already been saved: the form was sent twice.", "info")
        return redirect(request.path, code=303)
