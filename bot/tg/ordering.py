"""Updates of different people handled at once, each person's strictly in order.

PTB handles one update at a time by default: every update waits for the one before it,
whoever sent it, so a slow database round trip or Bot API call holds up everyone. PTB's
`concurrent_updates=True` lifts that for all updates, including two of one person (a text
typed right after a button press could be applied before it). This processor runs updates
concurrently, but those of one person (the sender, else the chat) one after another, in
the order they were queued: a person's dialog state, their deal list in memory and the
version checks see their own updates in sequence, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

MAX_CONCURRENT = 64
"""Updates in progress at once; more wait in the queue (PTB's own bound)."""


class PerPersonOrder(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT) -> None:
        super().__init__(max_concurrent_updates)
        self._queues: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _person(update)
        if key is None:  # nobody's: a poll's state, say; nothing to keep in order
            await coroutine
            return
        lock = self._queues.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:  # asyncio.Lock wakes its waiters in the order they came
                await coroutine
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:  # the last one out: forget the person
                del self._waiting[key], self._queues[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


def _person(update: object) -> int | None:
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return update.effective_user.id
    return update.effective_chat.id if update.effective_chat is not None else None
