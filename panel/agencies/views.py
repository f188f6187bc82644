"""Agency views (being written)."""
