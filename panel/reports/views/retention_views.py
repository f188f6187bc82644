"""Pages: retention (under /retention)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("retention", "panel.reports", url_prefix="/retention")
