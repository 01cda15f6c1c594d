"""One global error handler: people never see a traceback."""

from __future__ import annotations

import logging

from telegram import Update

from bot.common.errors import DomainError, NotFound
from bot.tg.context import Ctx
from bot.tg.observe import mark
from bot.tg.replies import reply

log = logging.getLogger("voronka.errors")


async def on_error(update: object, context: Ctx) -> None:
    """A refused use case gets its own clear message; anything else is logged and apologised for."""
    error = context.error
    if not isinstance(update, Update):
        log.error("error outside an update", exc_info=error)
        return
    if isinstance(error, NotFound) and update.callback_query is not None:
        # A press on something outside the presser's reach, or on nothing at all: one
        # neutral answer for both, so that forged ids tell nothing about what exists.
        mark("refused")
        text = context.t("common.expired_button")
    elif isinstance(error, DomainError):
        mark("refused")
        text = context.t(error.key, **error.params)
    else:
        mark("error")
        log.error("error while handling update %s", update.update_id, exc_info=error)
        text = context.t("common.error")
    try:
        if update.callback_query is not None:
            await update.callback_query.answer()
        if update.effective_chat is not None:
            await reply(update, text)
    except Exception:  # the apology itself failed (e.g. the person blocked the bot)
        log.exception("could not tell the person about the error")
