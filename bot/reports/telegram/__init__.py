"""The reports in Telegram: handlers, the scheduled digests, and the digest's text.

Nothing is imported here, so the CLI can use the digest renderer without the bot.
"""
