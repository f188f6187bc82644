"""Case views (package)."""
