"""One log line per handled update: who, which handler, what came of it, how long; and the
same in the update metrics (`bot.ops.metrics`)."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from telegram import Update
from telegram.ext import Application, BaseHandler

from bot.common.delivery import Delivery, delivering
from bot.ops import metrics
from bot.tg import conversation, inbound

log = logging.getLogger("voronka.updates")


@dataclass
class Trace:
    handler: str = "-"
    outcome: str = "ignored"


_current: ContextVar[Trace | None] = ContextVar("voronka_trace", default=None)

# The handler names a metric may carry: the traced callbacks' (added as the application is
# built) and the wiring's own. A name outside them is counted as "other", so a mistake can
# never turn into a series per update.
_HANDLERS: set[str] = {"-", "gate", "no_meaning"}


def mark(outcome: str, handler: str | None = None) -> None:
    """Record what happened to the update being processed (no-op outside one)."""
    trace = _current.get()
    if trace is not None:
        trace.outcome = outcome
        if handler is not None:
            trace.handler = handler


R = TypeVar("R")


def traced(
    callback: Callable[..., Coroutine[Any, Any, R]],
) -> Callable[..., Coroutine[Any, Any, R]]:
    """Wrap a handler callback so the log line names it."""
    name = getattr(callback, "__name__", repr(callback))
    _HANDLERS.add(name)

    @functools.wraps(callback)
    async def wrapper(*args: Any, **kwargs: Any) -> R:
        mark("ok", name)
        return await callback(*args, **kwargs)

    return wrapper


def trace_handler(handler: BaseHandler[Any, Any, Any]) -> BaseHandler[Any, Any, Any]:
    """Wrap a handler's callback in `traced`."""
    handler.callback = traced(handler.callback)
    return handler


class VoronkaApplication(Application[Any, Any, Any, Any, Any, Any]):
    """PTB's Application, timing each update. Never logs message text at INFO."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._awaited: dict[int, asyncio.Future[None]] = {}

    def handled(self, update_id: int) -> asyncio.Future[None]:
        """Done once the update `update_id`, queued after this call, has been handled
        (answered, or given up on); the webhook waits for it before answering Telegram."""
        waiter = self._awaited.get(update_id)
        if waiter is None:  # one future for a delivery and its retry both in flight
            waiter = self._awaited[update_id] = asyncio.get_running_loop().create_future()
        return waiter

    async def process_update(self, update: object) -> None:
        try:
            await self._process(update)
        finally:
            if isinstance(update, Update):
                waiter = self._awaited.pop(update.update_id, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)

    async def _process(self, update: object) -> None:
        update = inbound.cleaned(update, self.bot)  # before anyone reads its text
        trace = Trace()
        token = _current.set(trace)
        started = time.perf_counter()
        try:
            if isinstance(update, Update):
                chat = update.effective_chat.id if update.effective_chat else None
                # after the chat's earlier updates, on whichever process (bot/fleet/turns.py)
                async with self.bot_data.core.turns.turn(chat):
                    with delivering(update.update_id) as current:
                        async with conversation.turn(self, update) as turn:
                            await super().process_update(update)
                        await self._complete(current, trace, registered=bool(turn and turn.person))
            else:
                await super().process_update(update)
        finally:
            _current.reset(token)
            user = (
                update.effective_user.id
                if isinstance(update, Update) and update.effective_user
                else "-"
            )
            update_id = update.update_id if isinstance(update, Update) else "-"
            seconds = time.perf_counter() - started
            log.info(
                "update=%s user=%s handler=%s outcome=%s ms=%.1f",
                update_id,
                user,
                trace.handler,
                trace.outcome,
                seconds * 1000,
            )
            if isinstance(update, Update):
                handler = trace.handler if trace.handler in _HANDLERS else "other"
                metrics.update_handled(handler, trace.outcome, seconds)

    async def _complete(self, current: Delivery, trace: Trace, *, registered: bool) -> None:
        """Record an update of a registered person that changed nothing, so a redelivery
        sends nothing either (one that changed something was recorded with the change)."""
        if current.committed or trace.outcome in _NOT_RECORDED:
            return
        if not registered:
            return  # strangers' updates are not worth a row each
        try:
            await self.bot_data.core.deliveries.mark_handled(current.update_id)
        except Exception:
            log.warning("could not record update %s as handled", current.update_id, exc_info=True)


# Outcomes after which the update must be handled again if it comes again.
_NOT_RECORDED = frozenset({"duplicate", "unavailable", "error"})
