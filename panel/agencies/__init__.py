"""Agencies, their SPoCs and escalation contacts, and the information sharing agreement register."""

from flask import Blueprint

bp = Blueprint("agencies", __name__, url_prefix="/admin")

from panel.agencies import views  # noqa: E402,F401
