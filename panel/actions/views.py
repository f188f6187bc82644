"""The action log pages (filled in by the action-log pages work)."""
