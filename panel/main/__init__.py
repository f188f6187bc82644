"""The dashboard for each role, help (/help), the health check, and the error pages."""

from flask import Blueprint

bp = Blueprint("main", __name__)

from panel.main import views  # noqa: E402,F401
from panel.main import help_views  # noqa: E402,F401
