"""Pages: board (under /reports)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("reports", "panel.reports", url_prefix="/reports")
