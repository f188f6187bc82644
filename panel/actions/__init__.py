"""The action log: agency actions, SPoC updates, the escalation ladder (jobs.py) and digests."""

from flask import Blueprint

bp = Blueprint("actions", __name__, url_prefix="/actions")

from panel.actions import views  # noqa: E402,F401
