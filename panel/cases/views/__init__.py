"""The case record's pages: the blueprint and the modules that add its routes."""

from flask import Blueprint

# The blueprint lives with the views, so importing the feature's services never loads its pages.
bp = Blueprint("cases", "panel.cases", url_prefix="/cases")

from panel.cases.views import engagement_views, record_views, summary_views  # noqa: E402,F401
