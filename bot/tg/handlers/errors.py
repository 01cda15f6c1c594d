"""One global error handler: people never see a traceback, and never a wrong "try again"."""

from __future__ import annotations

import logging

from telegram import Update

from bot.common import delivery
from bot.common.errors import AlreadyHandled, DomainError, NotFound, Unavailable
from bot.ops import metrics
from bot.tg import dialogs
from bot.tg.context import Ctx
from bot.tg.observe import mark
from bot.tg.replies import reply

log = logging.getLogger("voronka.errors")


def _apology(context: Ctx) -> str:
    """What to say about an unexpected error: "try again" only if nothing was committed."""
    current = delivery.current()
    if current is not None and current.committed:
        return context.t("common.done_unconfirmed")
    return context.t("common.error")


async def on_error(update: object, context: Ctx) -> None:
    """A refused use case gets its own clear message; anything else is logged and apologised for."""
    error = context.error
    if not isinstance(update, Update):
        if isinstance(error, Unavailable):  # a scheduled job during an outage: it runs again
            metrics.ERRORS.labels("database").inc()
            log.warning("database unavailable outside an update: %s", error)
        else:
            metrics.ERRORS.labels("job").inc()
            log.error("error outside an update", exc_info=error)
        return
    if isinstance(error, AlreadyHandled):
        mark("duplicate")  # another delivery of this update got there first
        return
    if isinstance(error, NotFound) and update.callback_query is not None:
        # A press on something outside the presser's reach, or on nothing at all: one
        # neutral answer for both, so that forged ids tell nothing about what exists.
        mark("refused")
        text = context.t("common.expired_button")
    elif isinstance(error, DomainError):
        mark("refused")
        text = context.t(error.key, **error.params)
        if update.message is not None and dialogs.current(context.user_data) is not None:
            text = f"{text}\n{context.t('common.leave_hint')}"  # asked again: say how to leave
    elif isinstance(error, Unavailable):
        mark("unavailable")
        log.warning("database unavailable during update %s: %s", update.update_id, error)
        text = context.t("common.unavailable")
    else:
        mark("error")
        log.error("error while handling update %s", update.update_id, exc_info=error)
        text = _apology(context)
    try:
        if update.callback_query is not None:
            await update.callback_query.answer()
        if update.effective_chat is not None:
            await reply(update, text)
    except Exception:  # the apology itself failed (e.g. the person blocked the bot)
        log.warning("could not tell the person about the error", exc_info=True)
