"""Meetings: the monthly panel's schedule, its self-building agenda and printed pack,
attendance and minutes (and, with the calendar invitations issue, case MDTs)."""

from flask import Blueprint

bp = Blueprint("meetings", __name__, url_prefix="/meetings")

from panel.meetings.views import agenda_views, minutes_views  # noqa: E402,F401
from panel.meetings.views import invite_views  # noqa: E402,F401
from panel.meetings.views import mdt_views  # noqa: E402,F401
