"""Running the bot in production: its metrics, backup and restore."""
