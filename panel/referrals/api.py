"""The referral intake API (being written)."""
from panel.referrals import api_bp  # noqa: F401
