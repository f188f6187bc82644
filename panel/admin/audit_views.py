"""Audit trail pages (being written)."""
