"""/help: what the service is for, each role's main jobs, who the coordinator is, how information
is protected, and the accessibility statement. A stable address (DESIGN §4), readable signed out."""

from __future__ import annotations

from datetime import date

from flask import current_app, render_template

from panel.main import bp
from panel.models import Role

# The accessibility statement's dates: change them whenever the statement is reviewed.
STATEMENT_PREPARED = date(2026, 12, 7)
STATEMENT_REVIEWED = date(2026, 12, 7)


@bp.route("/help", endpoint="help")
def show_help():
    return render_template("main/help.html", roles=Role, prepared=STATEMENT_PREPARED, reviewed=STATEMENT_REVIEWED,
                           idle_minutes=current_app.config["IDLE_TIMEOUT_MINUTES"],
                           absolute_hours=current_app.config["ABSOLUTE_TIMEOUT_HOURS"],
                           retention_years=current_app.config.get("RETENTION_YEARS", 6))
