"""Meeting pages: the blueprint and the modules that add its routes."""

from flask import Blueprint

# The blueprint lives with the views, so importing the feature's services never loads its pages.
bp = Blueprint("meetings", "panel.meetings", url_prefix="/meetings")

from panel.meetings.views import agenda_views, minutes_views  # noqa: E402,F401
from panel.meetings.views import invite_views  # noqa: E402,F401
from panel.meetings.views import mdt_views  # noqa: E402,F401
from panel.meetings.views import reply_views  # noqa: E402,F401
from panel.meetings.views import run_views  # noqa: E402,F401
