"""Free text: an answer to the bot's last question, a deal command, or (otherwise) a question."""

from __future__ import annotations

from telegram import Update

from bot.common.errors import Invalid
from bot.deals.matching import DealMatcher, Intent, IntentKind
from bot.deals.telegram.handlers import act_on_intent, handle_dialog_text
from bot.knowledge import telegram as knowledge
from bot.offers import telegram as offers
from bot.reports.telegram import handlers as reports
from bot.tg import dialogs
from bot.tg.context import Ctx
from bot.tg.handlers import basics
from bot.tg.handlers.basics import WORD

KNOWLEDGE_DIALOGS = {
    dialogs.KB_ANSWER: knowledge.record_lead_answer,
    dialogs.SCRIPT_GAP: knowledge.record_script_gap,
    **dict.fromkeys(
        (
            dialogs.OFFER_SEARCH, dialogs.OFFER_QTY, dialogs.OFFER_FREE, dialogs.OFFER_DISCOUNT,
            dialogs.OFFER_TERMS, dialogs.OFFER_REJECT,
        ),
        offers.handle_offer_text,
    ),
    dialogs.PLAN: reports.plan_text,
}  # fmt: skip


def _is_deal_command(intent: Intent) -> bool:
    """A move or a note; or anything typed in a command's shape («Ромашка → …»), which
    deserves the deal command's own answer (an unknown stage, no such deal) rather than
    being read as the date the bot asked for."""
    return intent.kind in (IntentKind.MOVE, IntentKind.NOTE) or (
        intent.explicit and intent.kind not in (IntentKind.MAYBE, IntentKind.NONE)
    )


async def on_text(update: Update, context: Ctx) -> None:
    """Route a text message to the right place."""
    message = update.effective_message
    text = (message.text or "").strip() if message else ""
    core = context.core
    dialog = dialogs.current(context.user_data)
    if dialog is not None and dialog.kind in KNOWLEDGE_DIALOGS:
        await KNOWLEDGE_DIALOGS[dialog.kind](update, context, dialog, text)
        return
    if dialog is not None:
        try:
            await handle_dialog_text(update, context, dialog, text)
            return
        except Invalid:
            # Not an answer to the question: maybe the person moved on to a deal command.
            if dialog.kind not in (dialogs.NEXT_STEP, dialogs.CHOOSE_DEAL):
                raise
            intent = DealMatcher(await core.deals.refs(context.person), core.funnels).parse(text)
            if not _is_deal_command(intent):
                raise
            dialogs.finish(context.user_data)
            await act_on_intent(update, context, intent)
            return
    refs = await core.deals.refs(context.person)
    intent = DealMatcher(refs, core.funnels).parse(text)
    if await act_on_intent(update, context, intent):
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
