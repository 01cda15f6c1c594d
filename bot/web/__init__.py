"""The HTTP side of `voronka run`: the Telegram webhook, health checks and metrics."""
