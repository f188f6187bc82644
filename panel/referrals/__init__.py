"""Referrals: the referral form and API, triage, repeat-referral detection, panel decisions."""

from flask import Blueprint

bp = Blueprint("referrals", __name__, url_prefix="/referrals")
api_bp = Blueprint("api", __name__, url_prefix="/api")

from panel.referrals.views import form_views, triage_views  # noqa: E402,F401
from panel.referrals import api  # noqa: E402,F401
