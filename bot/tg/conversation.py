"""Around each update of a registered person: resume their dialog state, and save it in time.

The gate calls `resume` once it knows who is writing. What the update changes is saved
before the bot's first Bot API call after the change (`SavingRequest`) and once more when
the update is done. Saving before speaking matters: a reply that asks "the amount?" while
the step it moved to exists only in memory would be lost by a kill -9 right after it, and
the person's answer would then be read as something else.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.request import BaseRequest, RequestData

from bot.tg import dialogs

if TYPE_CHECKING:
    from bot.people.service import Person
    from bot.tg.context import Ctx

log = logging.getLogger("voronka.dialogs")


@dataclass
class _Turn:
    """One update being handled: whose state it is and what was saved last."""

    application: Any
    person: Person | None = None
    user_data: dict[Any, Any] = field(default_factory=dict)
    saved: str | None = None
    failed: bool = False  # saving failed once in this update: do not try before every call


_turn: ContextVar[_Turn | None] = ContextVar("voronka_turn", default=None)


@asynccontextmanager
async def turn(application: Any, update: object) -> AsyncIterator[None]:
    """Handle one update; whatever it changed in the person's state is saved at the end."""
    current = _Turn(application) if isinstance(update, Update) else None
    token = _turn.set(current)
    try:
        yield
        await _save()
    finally:
        _turn.reset(token)


async def resume(context: Ctx) -> None:
    """Load the person's saved state into `user_data`: the database is the truth, so a
    restart or another process goes on where the person was."""
    current = _turn.get()
    user_data = context.user_data
    if current is None or user_data is None:
        return
    dialogs.restore(user_data, await context.core.conversations.state_of(context.person))
    current.person, current.user_data = context.person, user_data
    current.saved = dialogs.snapshot(user_data)


async def _save() -> None:
    """Save the state if it changed. Never raises: when the database cannot take it, the
    bot must still be able to answer (an apology, at least); the question is then asked
    again from the state last saved."""
    current = _turn.get()
    if current is None or current.person is None or current.failed:
        return
    state = dialogs.snapshot(current.user_data)
    if state == current.saved:
        return
    try:
        await current.application.bot_data.core.conversations.keep(current.person, state)
    except Exception:
        current.failed = True
        log.exception("could not save the dialog state of person %s", current.person.id)
        return
    current.saved = state


class SavingRequest(BaseRequest):
    """A Bot API request that first saves what the current update changed (see above)."""

    def __init__(self, inner: BaseRequest) -> None:
        self.inner = inner

    @property
    def read_timeout(self) -> float | None:
        return self.inner.read_timeout

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,  # BaseRequest.post always passes all four timeouts
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        await _save()
        return await self.inner.do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )
