"""Engagement log, patterns, chronology and closure (being written)."""
from panel.cases import bp  # noqa: F401
