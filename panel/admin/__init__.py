"""Administration: users, the audit trail, the email outbox and the admin dashboard."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from panel.admin import audit_views, outbox_views, views  # noqa: E402,F401
from panel.admin import api_token_views  # noqa: E402,F401  (after views, which sets up the forms' imports)
