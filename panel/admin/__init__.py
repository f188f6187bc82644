"""Administration: users, the audit trail, the email outbox and the admin dashboard."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from panel.admin import audit_views, outbox_views, views  # noqa: E402,F401
