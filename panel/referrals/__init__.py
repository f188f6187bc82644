"""Referrals: the referral form and API, triage, repeat-referral detection, panel decisions."""
