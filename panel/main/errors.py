"""400, 404, 405, 413 and 500 pages in the service's own layout."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask, flash, redirect, render_template, request
from flask_wtf.csrf import CSRFError

from panel.extensions import db
from panel.main import health

log = logging.getLogger(__name__)


def register(app: Flask) -> None:
    @app.errorhandler(400)
    def bad_request(error):
        return render_template("errors/400.html"), 400

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_template("errors/400.html", csrf=True), 400

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
        """The database held by another writer past the busy timeout (SQLite's 30 s, PostgreSQL's
        lock_timeout): say so, keep what was typed, and let /healthz say why. Anything else is a 500."""
        db.session.rollback()
        if not health.is_busy_error(error):
            return server_error(error)
        health.note_busy(error)
        log.warning("database busy on %s %s", request.method, request.endpoint)
        fields = [(k, v) for k, v in request.form.items(multi=True) if k != "csrf_token"] \
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
