"""Running the bot in production: backup and restore (and, beside them, its metrics)."""
