"""Email outbox pages (being written)."""
