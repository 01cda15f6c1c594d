"""Running the bot in production: its metrics (and, beside them, backups)."""
