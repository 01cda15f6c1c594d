"""Around each update of a registered person: resume their dialog state, and save it in time.

The gate calls `resume` once it knows who is writing. What the update changes is saved
before the bot's first Bot API call after the change (`SavingRequest`) and once more when
the update is done. Saving before speaking matters: a reply that asks "the amount?" while
the step it moved to exists only in memory would be lost by a kill -9 right after it, and
the person's answer would then be read as something else.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial
from time import perf_counter
from typing import TYPE_CHECKING, Any

import httpx
from telegram import Update
from telegram.error import NetworkError
from telegram.request import BaseRequest, RequestData

from bot.common import delivery
from bot.ops import metrics
from bot.tg import dialogs

if TYPE_CHECKING:
    from bot.people.service import Person
    from bot.tg.context import Ctx

log = logging.getLogger("voronka.dialogs")


@dataclass
class Turn:
    """One update being handled: whose state it is and what was saved last."""

    application: Any
    person: Person | None = None
    user_data: dict[Any, Any] = field(default_factory=dict)
    saved: str | None = None
    failed: bool = False  # saving failed once in this update: do not try before every call
    saving: bool = False  # `_save` is writing the state in a transaction of its own


_turn: ContextVar[Turn | None] = ContextVar("voronka_turn", default=None)


@asynccontextmanager
async def turn(application: Any, update: object) -> AsyncIterator[Turn | None]:
    """Handle one update; whatever it changed in the person's state is saved at the end."""
    current = Turn(application) if isinstance(update, Update) else None
    token = _turn.set(current)
    try:
        yield current
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
    handling = delivery.current()
    if handling is not None:
        handling.riders.append(partial(_ride, current))


async def _ride(current: Turn, session: object) -> Callable[[], None] | None:
    """A changed state goes into the update's transaction that is about to commit.

    A move that ends the question the bot had asked (the person moved on to another deal)
    then commits with the question's end: one transaction, not two, and never one without
    the other. A state that changes after the update's last transaction is saved by `_save`.
    """
    if current.person is None or current.failed or current.saving:
        return None
    state = dialogs.snapshot(current.user_data)
    if state == current.saved:
        return None
    conversations = current.application.bot_data.core.conversations
    kept = await conversations.keep_in(session, current.person, state)

    def saved() -> None:
        kept()
        current.saved = state

    return saved


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
    current.saving = True  # its own transaction: the rider must not write it a second time
    try:
        await current.application.bot_data.core.conversations.keep(current.person, state)
    except Exception:
        current.failed = True
        log.exception("could not save the dialog state of person %s", current.person.id)
        return
    finally:
        current.saving = False
    current.saved = state


# Pauses before the retries of a Bot API call that failed after the update committed a
# change: about 8 s in all, bounded so that one chat cannot hold its update for long.
AFTER_COMMIT_BACKOFF = (0.5, 1.0, 2.0, 4.0)
MAX_RETRY_AFTER = 10.0  # longest 429 `retry_after` waited for, in seconds


class SavingRequest(BaseRequest):
    """A Bot API request that first saves what the current update changed (see above), and
    that does not give up on the answer to an action already committed.

    When an update has committed a change (`bot.common.delivery`), its confirmation must get
    through: the person would otherwise be told "try again" and do it twice. So a call that
    then fails with a timeout, a network error, a 5xx or a 429 is retried after the pauses of
    `backoff` (a 429's own `retry_after`, when it is longer, up to MAX_RETRY_AFTER). Except
    a new message that may have reached Telegram (a read timeout, a connection dropped after
    sending): Telegram may carry it out late, and a second would show twice. Before a commit
    nothing is retried here: the apology says to try again, and that is true.
    """

    def __init__(self, inner: BaseRequest, backoff: Sequence[float] = AFTER_COMMIT_BACKOFF) -> None:
        self.inner = inner
        self.backoff = tuple(backoff)

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
        # The method's name ends a call's URL; a file download's URL ends in its path.
        name = url.rsplit("/", 1)[-1] if method == "POST" else "file"
        for attempt in range(len(self.backoff) + 1):
            started = perf_counter()
            try:
                code, payload = await self.inner.do_request(
                    url, method, request_data, read_timeout, write_timeout, connect_timeout,
                    pool_timeout,
                )  # fmt: skip
            except NetworkError as error:  # TimedOut is one
                if attempt == len(self.backoff) or not _committed():
                    raise
                if name.startswith(_CREATING) and _may_have_reached(error):
                    raise  # sent again, it would show twice (the first may yet arrive)
                pause = self.backoff[attempt]
                cause = type(error.__cause__ or error).__name__
            else:
                if not (code == 429 or code >= 500) or attempt == len(self.backoff):
                    return code, payload
                if not _committed():
                    return code, payload
                pause = max(self.backoff[attempt], min(_retry_after(payload), MAX_RETRY_AFTER))
                cause = f"HTTP {code}"
            finally:  # every attempt, answered or not
                metrics.bot_api_call(name, perf_counter() - started)
            log.warning(
                "Bot API %s failed after a commit (%s); retrying in %.1f s", name, cause, pause
            )
            await asyncio.sleep(pause)
        raise AssertionError("unreachable: the last attempt returns or raises")


# Calls that make a new message each time: repeating one that Telegram may have carried out
# would show the person the same message twice.
_CREATING = ("send", "forward", "copy")


def _may_have_reached(error: NetworkError) -> bool:
    """False only when the request cannot have reached Telegram: no connection was made."""
    return not isinstance(
        error.__cause__, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
    )


def _committed() -> bool:
    current = delivery.current()
    return current is not None and current.committed


def _retry_after(payload: bytes) -> float:
    """The `retry_after` of a 429 answer, in seconds (0 when there is none)."""
    try:
        answer = json.loads(payload)
        return float(answer.get("parameters", {}).get("retry_after", 0))
    except (ValueError, TypeError, AttributeError):
        return 0.0
