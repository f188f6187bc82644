"""Referral lists, the referral page, triage and panel decisions (being written)."""
from panel.referrals import bp  # noqa: F401
