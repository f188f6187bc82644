"""Pages: subject access (under /people)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("people", "panel.reports", url_prefix="/people")
