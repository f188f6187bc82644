"""The action log: agency actions, SPoC updates, the escalation ladder (jobs.py) and digests."""

from flask import Blueprint

# No URL prefix: the log is at /actions/..., and each case's actions at /cases/<reference>/actions.
bp = Blueprint("actions", __name__)

from panel.actions import views  # noqa: E402,F401
