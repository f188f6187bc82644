"""Dashboard at / (one per role) and /healthz."""

from __future__ import annotations

from datetime import date

from flask import jsonify, render_template
from flask_login import current_user

from panel.auth.policy import isa_block_reason
from panel.main import bp, health


@bp.route("/")
def dashboard():
    user = current_user._get_current_object()
    return render_template(
        "main/dashboard.html",
        isa_message=isa_block_reason(user.agency, date.today()),
    )


@bp.route("/healthz")
def healthz():
    report = health.check()
    return jsonify(report), (200 if report["status"] == "ok" else 503)
