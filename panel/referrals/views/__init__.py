"""Referral pages: the blueprint and the modules that add its routes (the API is in panel.referrals.api)."""

from flask import Blueprint

# The blueprint lives with the views, so importing the feature's services never loads its pages.
bp = Blueprint("referrals", "panel.referrals", url_prefix="/referrals")

from panel.referrals.views import form_views, triage_views  # noqa: E402,F401
