"""Referral views (package)."""
