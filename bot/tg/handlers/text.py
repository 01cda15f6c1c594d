"""Free text: an answer to the bot's last question, a deal command, or (otherwise) a question."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from telegram import Update

from bot.common.errors import Invalid
from bot.deals.matching import DealMatcher, Intent, IntentKind
from bot.deals.telegram import handlers as deals
from bot.knowledge import telegram as knowledge
from bot.offers import telegram as offers
from bot.people.telegram import invite
from bot.reports.telegram import handlers as reports
from bot.tg import dialogs
from bot.tg.context import Ctx
from bot.tg.dialogs import Dialog, DialogKind
from bot.tg.handlers import basics
from bot.tg.handlers.access import left_question_line
from bot.tg.handlers.basics import WORD
from bot.tg.replies import reply

Answer = Callable[[Update, Ctx, Dialog, str], Awaitable[None]]


async def _drop_and_route(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    """Text instead of a press on one of the deals offered: the question is dropped and the
    text read afresh."""
    dialogs.finish(context.user_data)
    await _route(update, context, text)


# Who answers each dialog's typed reply: the one dispatch of every pending question.
ANSWERS: dict[DialogKind, Answer] = {
    dialogs.NEW_DEAL: deals.answer_new_deal,
    dialogs.NOTE: deals.answer_note,
    dialogs.NEXT_STEP: deals.answer_next_step,
    dialogs.LOST_COMMENT: deals.answer_lost_comment,
    dialogs.AMOUNT: deals.answer_amount,
    dialogs.CHOOSE_DEAL: _drop_and_route,
    dialogs.KB_ANSWER: knowledge.record_lead_answer,
    dialogs.SCRIPT_GAP: knowledge.record_script_gap,
    dialogs.OFFER_SEARCH: offers.answer_search,
    dialogs.OFFER_QTY: offers.answer_qty,
    dialogs.OFFER_FREE: offers.answer_free_line,
    dialogs.OFFER_DISCOUNT: offers.answer_discount,
    dialogs.OFFER_TERMS: offers.answer_terms,
    dialogs.OFFER_REJECT: offers.answer_reject,
    dialogs.PLAN: reports.plan_text,
    dialogs.INVITE_TEAM: invite.name_team,
}

# Questions whose answer has a form (a date, an amount, a quantity): a message not in that
# form may be something else the person moved on to, a deal command or a question.
FORMED = frozenset({
    dialogs.NEXT_STEP, dialogs.AMOUNT, dialogs.OFFER_QTY, dialogs.OFFER_DISCOUNT, dialogs.PLAN,
    dialogs.OFFER_FREE,
})  # fmt: skip
# Answers in the form asked even when wrong in a detail: they get the question's own error,
# never read as a deal command or a question (a custom offer line has «;» between its parts).
IN_FORM: dict[DialogKind, Callable[[str], bool]] = {
    dialogs.OFFER_FREE: offers.looks_like_free_line,
}
NEW_DEAL_FORMED_STEPS = ("amount", "next_step")
SKIP_WORDS = frozenset({"пропустить", "пропусти", "пропуск", "skip", "-", "—"})
QUESTION_WORDS = 3  # a message of this many words, not in the form asked, reads as a question


def _formed(dialog: Dialog) -> bool:
    if dialog.kind == dialogs.NEW_DEAL:
        return dialog.data.get("step") in NEW_DEAL_FORMED_STEPS
    return dialog.kind in FORMED


def _typed_skip(text: str) -> bool:
    return text.lower().strip(' .!«»"') in SKIP_WORDS


def _reads_as_question(text: str) -> bool:
    return text.rstrip().endswith("?") or len(_WORDS.findall(text)) >= QUESTION_WORDS


_WORDS = re.compile(r"[^\W\d_]{2,}")  # words of letters: «клиент говорит дорого» has three


def _is_deal_command(intent: Intent) -> bool:
    """A move or a note; or anything typed in a command's shape («Ромашка → …»), which
    deserves the deal command's own answer (an unknown stage, no such deal) rather than
    being read as the date the bot asked for."""
    return intent.kind in (IntentKind.MOVE, IntentKind.NOTE) or (
        intent.explicit and intent.kind not in (IntentKind.MAYBE, IntentKind.NONE)
    )


def _clearly_a_deal_command(intent: Intent) -> bool:
    """What a free-text answer (a note, a comment, what the client said) yields to: a move,
    «Deal: note» or a command on a closed deal, each naming its deal exactly or confidently."""
    if intent.kind is IntentKind.CLOSED:
        return intent.explicit  # «Ромашка ООО → кп», not «ромашка ооо сказала…»
    return intent.kind is IntentKind.MOVE or (intent.kind is IntentKind.NOTE and intent.exact)


async def on_text(update: Update, context: Ctx) -> None:
    """Route a text message to the right place."""
    message = update.effective_message
    text = (message.text or "").strip() if message else ""
    dialog = dialogs.current(context.user_data)
    if dialog is None:
        await _route(update, context, text)
        return
    if _typed_skip(text) and dialog.kind != dialogs.CHOOSE_DEAL:
        await deals.skip_pending(update, context, dialog)
        return
    if dialog.kind != dialogs.CHOOSE_DEAL and not _formed(dialog):
        # Any text answers a free-text question, but a clear move is what it says, and so is
        # «Deal: note» naming a deal exactly.
        intent = await _intent(context, text)
        about_it = intent.note and intent.deals and intent.deal.id == dialog.deal_id
        if _clearly_a_deal_command(intent) and not about_it:  # «Ромашка: …» asked of Ромашка
            await _drop_pending(update, context)
            await deals.act_on_intent(update, context, intent)
            return
    try:
        await ANSWERS[dialog.kind](update, context, dialog, text)
    except Invalid:
        # Not in the form asked: maybe the person moved on to a deal command or a question.
        in_form = IN_FORM.get(dialog.kind)
        if not _formed(dialog) or (in_form is not None and in_form(text)):
            raise
        intent = await _intent(context, text)
        if _is_deal_command(intent):
            await _drop_pending(update, context)
            await deals.act_on_intent(update, context, intent)
        elif _reads_as_question(text):
            await _drop_pending(update, context)
            await _route(update, context, text)
        else:
            raise


async def _intent(context: Ctx, text: str) -> Intent:
    core = context.core
    return DealMatcher(await core.deals.refs(context.person), core.funnels).parse(text)


async def _drop_pending(update: Update, context: Ctx) -> None:
    """Leave the question the bot asked (saying so, unless it was optional) and go on with
    the message."""
    line = left_question_line(context, dialogs.current(context.user_data))
    dialogs.finish(context.user_data)
    if line is not None:
        await reply(update, line)


async def _route(update: Update, context: Ctx, text: str) -> None:
    """No question pending: a deal command, else a question for the knowledge base."""
    core = context.core
    intent = DealMatcher(await core.deals.refs(context.person), core.funnels).parse(text)
    if await deals.act_on_intent(update, context, intent):
        return
    if (
        intent.kind is IntentKind.MAYBE
        and not intent.text
        and (intent.exact or intent.deal.status != "open")
    ):
        # A deal's exact name alone (or a closed one's): the person wants to see that deal.
        await deals.open_card(update, context, intent.deal.id)
        return
    if intent.kind is IntentKind.MAYBE:
        await knowledge.ask_deal_or_question(
            update, context, intent.deal.id, intent.deal.title, text
        )
        return
    if not WORD.search(text):
        await basics.no_meaning(update, context)
        return
    await knowledge.answer_question(update, context, text)
