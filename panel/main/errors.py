"""400, 404, 405, 413 and 500 pages in the service's own layout."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError

from panel.extensions import db

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
