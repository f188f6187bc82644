"""Running Panel in production: logging, the first admin, backup and restore (used by `panel/cli.py`)."""
