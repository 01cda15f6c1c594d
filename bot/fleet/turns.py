"""Two updates of one chat are applied in the order they came, whichever workers get them.

Behind a webhook proxy, one person's two quick messages may reach two workers at once;
each would read the dialog state and the deal before the other wrote it, and the second
would be answered as if the first had not happened (or refused as a conflict). So on
PostgreSQL an update is handled while holding its chat's lock in the database
(`bot.db.leadership.ChatLocks`); the server grants a lock to those waiting in the order
they asked, so updates are applied in the order they arrived, which is Telegram's order
for one chat. Only in webhook mode: when polling, one process has all updates and keeps
each person's in order itself (`bot.tg.ordering`), so the lock would only add two round
trips to every update. SQLite is one process: nothing to hold.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from bot.db.leadership import ChatLocks, shared

log = logging.getLogger("voronka.fleet")

LOCKS_AT_ONCE = 10  # updates of distinct chats in hand at once, per process (connections)
WAIT_AT_MOST = 30.0  # seconds an update waits for the one before it in its chat


class ChatTurns:
    def __init__(self, database_url: str, *, webhook: bool) -> None:
        self._locks = (
            ChatLocks(database_url, size=LOCKS_AT_ONCE, wait=WAIT_AT_MOST)
            if webhook and shared(database_url)
            else None
        )

    @contextlib.asynccontextmanager
    async def turn(self, chat_id: int | None) -> AsyncIterator[None]:
        """Handle one update of `chat_id` inside the block, after those before it."""
        if self._locks is None or chat_id is None:
            yield
            return
        async with self._locks.held(chat_id) as held:
            if not held:  # the database is down (the gate says so) or the wait was too long
                log.info("chat %s: handled without its turn", chat_id)
            yield

    async def close(self) -> None:
        if self._locks is not None:
            await self._locks.close()
