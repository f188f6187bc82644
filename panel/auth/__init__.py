"""Sign-in, sign-out, two-factor and the user's own account."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from panel.auth import views  # noqa: E402,F401
