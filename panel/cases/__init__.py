"""The case record: summary, risk, agencies and rapport, staff safety, engagement and its
patterns, insight, the person's outcomes, chronology, and closure with step-down."""

from flask import Blueprint

bp = Blueprint("cases", __name__, url_prefix="/cases")

from panel.cases.views import engagement_views, record_views, summary_views  # noqa: E402,F401
