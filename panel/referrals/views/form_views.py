"""The referral form: question pages, drafts, check your answers (being written)."""
from panel.referrals import bp  # noqa: F401
