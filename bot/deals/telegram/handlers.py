"""Deals in the bot: /new, /deals, the card and its buttons, moves by text, undo, next steps."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.common.errors import Conflict, Invalid
from bot.common.money import parse_amount
from bot.deals.dates import parse_next_step
from bot.deals.matching import DealMatcher, DealRef, Intent, IntentKind
from bot.deals.new_deal import from_answers, parse_new_line
from bot.deals.service import Ask, DealView, MoveResult, Question, Via, checked_title
from bot.deals.telegram.cards import (
    amount_of,
    card_keyboard,
    card_text,
    closed_text_and_keyboard,
    list_text_and_keyboard,
    next_step_keyboard,
    next_step_rows,
    reasons_keyboard,
    stage_choice_keyboard,
    stage_keyboard,
    stage_name,
    when,
)
from bot.offers.telegram import reject_without_comment
from bot.tg import callbacks as cb
from bot.tg import dialogs
from bot.tg.context import Ctx
from bot.tg.dialogs import Dialog
from bot.tg.observe import mark
from bot.tg.paging import PAGE_SIZE, page_number, paged
from bot.tg.render import keyboard
from bot.tg.replies import reply, send_to, show

# --- showing ------------------------------------------------------------------------------


async def send_card(update: Update, context: Ctx, deal: DealView, *, edit: bool = True) -> None:
    core, t = context.core, context.t
    offers = await core.offers.for_deal(context.person, deal.id)
    text = card_text(deal, t, core.funnels, core.clock(), core.settings.tz, context.person, offers)
    markup = card_keyboard(deal, t, core.funnels, context.person, offers)
    if edit:
        await show(update, text, markup)
    else:
        await reply(update, text, markup)


# «/deals won», «/deals проигранные»: the closed views by the words people use for them.
CLOSED_VIEW_WORDS = {
    "won": "won", "выигранные": "won", "выиграны": "won", "выиграна": "won", "выигранная": "won",
    "lost": "lost", "проигранные": "lost", "проиграны": "lost", "проиграна": "lost",
    "проигранная": "lost",
}  # fmt: skip
OPEN_VIEW_WORDS = ("", "all", "все", "open", "открытые")


async def deals_command(update: Update, context: Ctx) -> None:
    """/deals: open deals grouped by stage (leads and admins filter by manager); «/deals won»
    and «/deals lost»: the closed ones, latest first."""
    word = " ".join(context.args or []).strip().lower()
    if word in CLOSED_VIEW_WORDS:
        await _show_closed(update, context, CLOSED_VIEW_WORDS[word], edit=False)
        return
    if word not in OPEN_VIEW_WORDS:
        raise Invalid("deal.unknown_view", view=word[:40])
    await _show_list(update, context, offset=0, owner_id=0, edit=False)


async def closed_view(update: Update, context: Ctx) -> None:
    await _show_closed(update, context, cb.of(update).word(0, ("won", "lost")), edit=True)


async def _show_closed(update: Update, context: Ctx, status: str, *, edit: bool) -> None:
    core, person = context.core, context.person
    deals = await core.deals.list_closed(person, status)
    text, markup = closed_text_and_keyboard(deals, status, context.t, core.settings.tz, person)
    await (show(update, text, markup) if edit else reply(update, text, markup))


async def deals_page(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    await _show_list(update, context, offset=data.number(0), owner_id=data.number(1), edit=True)


async def _show_list(
    update: Update, context: Ctx, *, offset: int, owner_id: int, edit: bool
) -> None:
    core, person = context.core, context.person
    page = await core.deals.list_open(person, owner_id=owner_id or None, offset=offset)
    owner_name = None
    if owner_id:
        owners = await core.deals.owners(person)
        owner_name = next((owner.name for owner in owners if owner.id == owner_id), None)
    text, markup = list_text_and_keyboard(
        page, context.t, core.funnels, core.clock(), person, owner_id, owner_name
    )
    await (show(update, text, markup) if edit else reply(update, text, markup))


async def deals_filter(update: Update, context: Ctx) -> None:
    owners = await context.core.deals.owners(context.person)
    rows = [[(context.t("deal.filter_all"), cb.pack(cb.DEAL_LIST, 0, 0))]]
    rows += paged(
        owners,
        page_number(cb.of(update), 0),
        lambda owner: (owner.name[:60], cb.pack(cb.DEAL_LIST, 0, owner.id)),
        lambda n: cb.pack(cb.DEAL_FILTER, n),
    )
    await show(update, context.t("deal.filter_by"), keyboard(rows))


async def open_card(update: Update, context: Ctx, deal_id: int) -> None:
    """A deal's card, as typing its name alone shows a closed one."""
    await send_card(update, context, await context.core.deals.card(context.person, deal_id))


async def view_deal(update: Update, context: Ctx) -> None:
    deal = await context.core.deals.card(context.person, cb.of(update).number(0))
    await send_card(update, context, deal)


# --- creating -----------------------------------------------------------------------------


async def new_deal(update: Update, context: Ctx) -> None:
    """/new Title, amount, contact — or /new alone for a short dialog."""
    text = (update.effective_message.text or "").partition(" ")[2].strip()  # type: ignore[union-attr]
    if not text:
        dialogs.start(context.user_data, Dialog(dialogs.NEW_DEAL, data={"step": "title"}))
        await reply(update, context.t("deal.new_title"))
        return
    draft = parse_new_line(text)
    deal = await context.core.deals.create(
        context.person, draft.title, amount=draft.amount, currency=draft.currency,
        contact=draft.contact,
    )  # fmt: skip
    await _created(update, context, deal)


async def _created(update: Update, context: Ctx, deal: DealView) -> None:
    t = context.t
    stage = stage_name(context.core.funnels, deal, t)
    await reply(update, t("deal.created", title=deal.title, amount=amount_of(deal, t), stage=stage))
    await send_card(update, context, deal, edit=False)


async def _new_deal_step(update: Update, context: Ctx, dialog: Dialog, text: str | None) -> None:
    """One answer in the /new dialog (None when skipped)."""
    t, data = context.t, dialog.data

    def skip() -> InlineKeyboardMarkup:
        return keyboard([[(t("common.skip"), cb.pack(cb.DEAL_SKIP, dialog.marker))]])

    step = data["step"]
    if step == "title":
        if text is None:
            await reply(update, t("deal.new_title"))
            return
        data["title"] = checked_title(text)  # refused now, not after three more answers
        data["step"] = "client"
        await reply(update, t("deal.new_client"), skip())
    elif step == "client":
        data["contact"] = text
        data["step"] = "amount"
        await reply(update, t("deal.new_amount"), skip())
    elif step == "amount":
        if text is not None:
            data["amount"], data["currency"] = parse_amount(text)
        data["step"] = "next_step"
        await reply(update, t("deal.new_next_step"), skip())
    else:
        next_step = None
        if text is not None:
            core = context.core
            parsed = parse_next_step(
                text, core.clock(), core.settings.tz, t("next_step.default_text")
            )
            next_step = (parsed.text, parsed.due)
        dialogs.finish(context.user_data)
        draft = from_answers(
            data["title"], data.get("contact"), data.get("amount"), data.get("currency", "RUB")
        )
        deal = await context.core.deals.create(
            context.person, draft.title, amount=draft.amount, currency=draft.currency,
            client=draft.client, contact=draft.contact, next_step=next_step,
        )  # fmt: skip
        await _created(update, context, deal)


# --- moving -------------------------------------------------------------------------------


async def _moved(update: Update, context: Ctx, result: MoveResult) -> None:
    """Confirm a move with an undo button; ask for the next step where the funnel wants one."""
    core, t = context.core, context.t
    deal = result.deal
    funnel = core.funnels.funnel(deal.funnel)
    target = funnel.stage(result.to_stage)
    rows = [[(t("deal.undo"), cb.pack(cb.DEAL_UNDO, result.transition_id))]]
    if target.won:
        text = t("deal.won", title=deal.title, amount=amount_of(deal, t))
    elif target.lost:
        reason = core.funnels.lost_reason(deal.lost_reason or "")
        text = t("deal.lost", title=deal.title, reason=reason.name(t.language) if reason else "")
    else:
        text = t(
            "deal.moved",
            title=deal.title,
            source=funnel.stage(result.from_stage).name(t.language),
            target=target.name(t.language),
        )
    # One message per move: the confirmation, ↩ Undo, and the question that follows it.
    if target.lost:
        comment = Dialog(dialogs.LOST_COMMENT, deal.id)
        dialogs.start(context.user_data, comment)
        text = f"{text}\n\n{t('deal.lost_comment')}"
        rows.append([(t("common.skip"), cb.pack(cb.DEAL_SKIP, comment.marker))])
    elif result.needs_next_step:
        step = Dialog(dialogs.NEXT_STEP, deal.id)
        dialogs.start(context.user_data, step)
        text = f"{text}\n\n{t('next_step.ask_after_move')}"
        rows += next_step_rows(deal.id, t, step.marker)
    await _answer(update, text, keyboard(rows))


async def ask_next_step(update: Update, context: Ctx, deal: DealView) -> None:
    step = Dialog(dialogs.NEXT_STEP, deal.id)
    dialogs.start(context.user_data, step)
    t = context.t
    markup = next_step_keyboard(deal.id, t, step.marker)
    await reply(update, t("next_step.ask", title=deal.title), markup)


async def move_to(update: Update, context: Ctx, ref: DealRef, stage: str, via: str) -> None:
    """A move from the bot: `ref` is the deal as the person saw it (its version is checked)."""
    outcome = await context.core.deals.request_move(
        context.person, ref.id, stage, via=via, expected_version=ref.version
    )
    await _went(update, context, outcome)


async def _went(update: Update, context: Ctx, outcome: MoveResult | Ask) -> None:
    """A move made, or the question it asks first: a loss its reason, a win its amount."""
    if isinstance(outcome, MoveResult):
        await _moved(update, context, outcome)
    elif outcome.question is Question.LOST_REASON:
        await show_reasons(update, context, outcome.deal)
    else:
        await confirm_win(update, context, outcome.deal)


async def show_reasons(update: Update, context: Ctx, deal: DealView, page: int = 0) -> None:
    t, funnels = context.t, context.core.funnels
    text = t("deal.choose_reason", title=deal.title)
    await _answer(update, text, reasons_keyboard(deal, t, funnels, page))


async def confirm_win(update: Update, context: Ctx, deal: DealView) -> None:
    t = context.t
    rows = [
        [(t("deal.win_yes"), cb.pack(cb.DEAL_WIN_YES, deal.id, deal.version))],
        [(t("deal.win_other_amount"), cb.pack(cb.DEAL_WIN_AMOUNT, deal.id, deal.version))],
        [(t("common.back"), cb.pack(cb.DEAL_VIEW, deal.id))],
    ]
    text = t("deal.win_confirm", title=deal.title, amount=amount_of(deal, t))
    await _answer(update, text, keyboard(rows))


async def _answer(update: Update, text: str, markup: InlineKeyboardMarkup) -> None:
    if update.callback_query is not None:
        await show(update, text, markup)
    else:
        await reply(update, text, markup)


async def next_stage(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    outcome = await context.core.deals.move_next(
        context.person, data.number(0), via=Via.BUTTON, expected_version=data.number(1)
    )
    await _went(update, context, outcome)


async def pick_stage(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    deal = await context.core.deals.as_shown(context.person, data.number(0), data.number(1))
    t = context.t
    markup = stage_keyboard(deal, t, context.core.funnels, page_number(data, 2))
    await show(update, t("deal.choose_stage", title=deal.title), markup)


async def move_button(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    outcome = await context.core.deals.request_move(
        context.person, data.number(0), data.get(1), via=Via.BUTTON,
        expected_version=data.number(2),
    )  # fmt: skip
    await _went(update, context, outcome)


async def win_button(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    deal = await context.core.deals.as_shown(context.person, data.number(0), data.number(1))
    await confirm_win(update, context, deal)


async def win_yes(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    result = await context.core.deals.win(
        context.person, data.number(0), via=Via.BUTTON, expected_version=data.number(1)
    )
    await _moved(update, context, result)


async def win_other_amount(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    deal = await context.core.deals.as_shown(context.person, data.number(0), data.number(1))
    dialogs.start(context.user_data, Dialog(dialogs.AMOUNT, deal.id, {"version": deal.version}))
    await show(update, context.t("deal.amount_prompt", title=deal.title))


async def lose_button(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    deal = await context.core.deals.as_shown(context.person, data.number(0), data.number(1))
    await show_reasons(update, context, deal, page_number(data, 2))


async def lose_reason(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    result = await context.core.deals.lose(
        context.person, data.number(0), data.get(1), via=Via.BUTTON,
        expected_version=data.number(2),
    )  # fmt: skip
    await _moved(update, context, result)


async def undo_button(update: Update, context: Ctx) -> None:
    deal = await context.core.deals.undo(context.person, cb.of(update).number(0))
    dialogs.finish(context.user_data)
    name = stage_name(context.core.funnels, deal, context.t)
    await show(update, context.t("deal.undone", title=deal.title, stage=name))


async def note_button(update: Update, context: Ctx) -> None:
    deal = await context.core.deals.card(context.person, cb.of(update).number(0))
    dialogs.start(context.user_data, Dialog(dialogs.NOTE, deal.id))
    await reply(update, context.t("deal.note_prompt", title=deal.title))
    if update.callback_query:
        await update.callback_query.answer()


async def step_button(update: Update, context: Ctx) -> None:
    deal = await context.core.deals.card(context.person, cb.of(update).number(0))
    if update.callback_query:
        await update.callback_query.answer()
    await ask_next_step(update, context, deal)


async def quick_step(update: Update, context: Ctx) -> None:
    """«Завтра», «Через 3 дня», «Пропустить» under a next-step question: only while that
    question is the one pending (a question left for something else answers nothing)."""
    data = cb.of(update)
    core, t = context.core, context.t
    days = data.number(1)
    dialog = dialogs.current(context.user_data)
    if dialog is None or dialog.kind != dialogs.NEXT_STEP or data.get(2) != dialog.marker:
        await show(update, t("common.expired_button"))
        return
    dialogs.finish(context.user_data)
    if days == 0:
        await _settle(update, t("next_step.skipped"))
        return
    deal = await core.deals.next_step_in(
        context.person, data.number(0), days, t("next_step.default_text")
    )
    await _step_saved(update, context, deal)


async def _step_saved(update: Update, context: Ctx, deal: DealView) -> None:
    assert deal.next_step_due is not None
    text = context.t(
        "next_step.saved",
        title=deal.title,
        text=deal.next_step_text,
        due=when(
            deal.next_step_due, context.core.settings.tz, context.language, context.core.clock()
        ),
    )
    await (_settle(update, text) if update.callback_query else reply(update, text))


async def _settle(update: Update, text: str) -> None:
    """Answer a button under a move's confirmation: keep its ↩ Undo, say the rest anew."""
    query = update.callback_query
    markup = getattr(query.message, "reply_markup", None) if query else None
    rows = markup.inline_keyboard if isinstance(markup, InlineKeyboardMarkup) else ()
    first = rows[0] if rows else ()
    data = str(first[0].callback_data or "") if first else ""
    if query is None or not data.startswith(f"{cb.DEAL_UNDO}:"):
        await show(update, text)
        return
    await query.answer()
    await query.edit_message_reply_markup(InlineKeyboardMarkup([first]))
    await reply(update, text)


async def reassign_button(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    core, t, person = context.core, context.t, context.person
    if data.get(1):
        deal = await core.deals.reassign(person, data.number(0), data.number(1))
        await show(update, t("deal.reassigned", title=deal.title, owner=deal.owner_name))
        await _tell_new_owner(context, deal)
        return
    choice = await core.deals.reassign_choices(person, data.number(0))
    deal = choice.deal
    if not choice.people:
        await show(update, t("deal.nobody_to_reassign"))
        return
    rows = paged(
        choice.people,
        page_number(data, 2),
        lambda p: (p.name[:60], cb.pack(cb.DEAL_REASSIGN, deal.id, p.id)),
        lambda n: cb.pack(cb.DEAL_REASSIGN, deal.id, "", n),
    )
    rows.append([(t("common.back"), cb.pack(cb.DEAL_VIEW, deal.id))])
    await show(update, t("deal.choose_owner", title=deal.title), keyboard(rows))


async def _tell_new_owner(context: Ctx, deal: DealView) -> None:
    people = await context.core.people.people_of(deal.team_id)
    owner = next((p for p in people if p.id == deal.owner_id), None)
    if owner is None or owner.id == context.person.id:
        return
    by = context.person.name
    await send_to(
        context.core,
        context.bot,
        owner.telegram_id,
        lambda t: t("deal.reassigned_to_you", title=deal.title, by=by),
    )


async def skip_button(update: Update, context: Ctx) -> None:
    """«Пропустить» on a typed question: a /new step, the lost comment, a rejection's reason.

    The button names the question it was shown with; pressed after the person moved on (a
    later step, another dialog, another device), it skips nothing.
    """
    dialog = dialogs.current(context.user_data)
    if dialog is None or cb.of(update).get(0) != dialog.marker:
        await show(update, context.t("common.expired_button"))  # show() answers the press
        return
    await skip_pending(update, context, dialog)


async def skip_pending(update: Update, context: Ctx, dialog: Dialog) -> None:
    """Skip the question asked, pressed or typed («пропустить», "skip"): what skipping means
    for it (a /new step goes on, a lost deal stays lost without a comment), else the
    question is dropped."""
    if dialog.kind in (dialogs.NEW_DEAL, dialogs.OFFER_REJECT):
        if update.callback_query:  # these answer with a new message, not the press
            await update.callback_query.answer()
        if dialog.kind == dialogs.NEW_DEAL:
            await _new_deal_step(update, context, dialog, None)
        else:
            await reject_without_comment(update, context, dialog)
        return
    dialogs.finish(context.user_data)
    if dialog.kind == dialogs.LOST_COMMENT:
        deal = await context.core.deals.card(context.person, dialog.deal_id)
        await _settle(update, context.t("deal.lost_no_comment", title=deal.title))
        return
    if dialog.kind == dialogs.NEXT_STEP:
        await _settle(update, context.t("next_step.skipped"))
        return
    await _settle(update, context.t("common.cancelled"))


async def choose_deal(update: Update, context: Ctx) -> None:
    """The answer to "which deal did you mean?": apply the remembered stage words."""
    dialog = dialogs.current(context.user_data)
    deal = await context.core.deals.card(context.person, cb.of(update).number(0))
    stage_text = (
        dialog.data.get("stage_text", "") if dialog and dialog.kind == dialogs.CHOOSE_DEAL else ""
    )
    note = dialog.data.get("note") if dialog and dialog.kind == dialogs.CHOOSE_DEAL else None
    dialogs.finish(context.user_data)
    if note:
        deal = await context.core.deals.add_note(context.person, deal.id, note)
        await show(update, context.t("deal.note_saved", title=deal.title))
        return
    matcher = DealMatcher([deal.ref], context.core.funnels)
    stages, confident = matcher.resolve_stage(stage_text, deal.ref) if stage_text else ((), False)
    if confident:
        await move_to(update, context, deal.ref, stages[0], Via.TEXT)
    else:
        await send_card(update, context, deal)


# --- text ---------------------------------------------------------------------------------


async def answer_new_deal(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    """One typed answer in the /new dialog."""
    await _new_deal_step(update, context, dialog, text)


async def answer_note(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    """The note asked for from a deal's card."""
    deal = await context.core.deals.add_note(context.person, dialog.deal_id, text)
    dialogs.finish(context.user_data)
    await reply(update, context.t("deal.note_saved", title=deal.title))


async def answer_next_step(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    """«позвонить завтра в 11» after a move or from the card."""
    default = context.t("next_step.default_text")
    deal = await context.core.deals.plan_next_step(context.person, dialog.deal_id, text, default)
    dialogs.finish(context.user_data)
    await _step_saved(update, context, deal)


async def answer_lost_comment(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    """What happened, after a deal was closed as lost: the loss's own comment, not a note."""
    deal = await context.core.deals.comment_loss(context.person, dialog.deal_id, text)
    dialogs.finish(context.user_data)
    key = "deal.lost_comment_saved" if deal is not None else "deal.lost_comment_as_note"
    await reply(update, context.t(key))


async def answer_amount(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    """The final amount of a win, on the deal as it was shown."""
    amount, currency = parse_amount(text)
    result = await context.core.deals.win(
        context.person, dialog.deal_id, via=Via.TEXT, expected_version=dialog.data["version"],
        amount=amount, currency=currency,
    )  # fmt: skip
    dialogs.finish(context.user_data)
    await _moved(update, context, result)


async def act_on_intent(update: Update, context: Ctx, intent: Intent) -> bool:
    """Carry out a deal command; False when the text is not one (it may be a question)."""
    core, t = context.core, context.t
    kind = intent.kind
    if kind is IntentKind.MOVE:
        assert intent.stage is not None
        try:
            await move_to(update, context, intent.deal, intent.stage, Via.TEXT)
        except Conflict as conflict:
            await show_changed(update, context, intent.deal.id, conflict)
    elif kind is IntentKind.NOTE:
        deal = await core.deals.add_note(context.person, intent.deal.id, intent.text)
        await reply(update, t("deal.note_saved", title=deal.title))
    elif kind is IntentKind.ASK_DEAL:
        data = {"note" if intent.note else "stage_text": intent.text}
        dialogs.start(context.user_data, Dialog(dialogs.CHOOSE_DEAL, data=data))
        rows = [[(d.title[:60], cb.pack(cb.DEAL_CHOOSE, d.id))] for d in intent.deals]
        await reply(update, t("deal.choose_deal"), keyboard(rows))
    elif kind is IntentKind.ASK_STAGE:
        deal = await core.deals.card(context.person, intent.deal.id)
        markup = (
            stage_choice_keyboard(deal, intent.stages, t, core.funnels)
            if len(intent.stages) <= PAGE_SIZE
            else stage_keyboard(deal, t, core.funnels)  # too many close ones: all, paged
        )
        await reply(update, t("deal.choose_stage", title=deal.title), markup)
    elif kind is IntentKind.UNKNOWN_STAGE:
        deal = await core.deals.card(context.person, intent.deal.id)
        markup = stage_keyboard(deal, t, core.funnels)
        text = (
            t("deal.unknown_stage_words", words=intent.text, title=deal.title)
            if intent.text
            else t("deal.choose_stage", title=deal.title)
        )
        await reply(update, text, markup)
    elif kind is IntentKind.CLOSED:  # a won or lost deal named in a command: changed by no text
        await reply(update, t("deal.closed_command", title=intent.deal.title,
                              won=intent.deal.status == "won"))  # fmt: skip
        await open_card(update, context, intent.deal.id)
    elif kind is IntentKind.NOT_FOUND:
        mark("not_found")
        await reply(update, t("deal.no_match", name=intent.text[:60]))
    else:
        return False
    return True


async def move_command(update: Update, context: Ctx) -> None:
    """/move ромашка договор"""
    text = " ".join(context.args or [])
    refs = await context.core.deals.refs(context.person)
    intent = DealMatcher(refs, context.core.funnels).parse(text, explicit=True)
    if not text:
        intent = Intent(IntentKind.NOT_FOUND, text="", explicit=True)
    await act_on_intent(update, context, intent)


async def followup_later(update: Update, context: Ctx) -> None:
    await context.core.deals.snooze_next_step(context.person, cb.of(update).number(0))
    await show(update, context.t("followup.snoozed"))


def shows_current_on_conflict(
    handler: Callable[[Update, Ctx], Coroutine[Any, Any, None]],
) -> Callable[[Update, Ctx], Coroutine[Any, Any, None]]:
    """A button pressed on a stale card: say the deal just changed and show it as it is now."""

    @functools.wraps(handler)
    async def wrapper(update: Update, context: Ctx) -> None:
        try:
            await handler(update, context)
        except Conflict as conflict:
            if update.callback_query is not None:
                await update.callback_query.answer()
            await show_changed(update, context, cb.of(update).number(0), conflict)

    return wrapper


async def show_changed(update: Update, context: Ctx, deal_id: int, conflict: Conflict) -> None:
    """Someone changed the deal since this person last saw it: say so and show it as it is."""
    mark("conflict")
    deal = await context.core.deals.card(context.person, deal_id)
    title = conflict.params.get("title") or deal.title
    await reply(update, context.t("deal.changed", title=title))
    await send_card(update, context, deal, edit=False)


def deal_handlers() -> list[CommandHandler[Ctx, None] | CallbackQueryHandler[Ctx, None]]:
    return [
        CommandHandler("new", new_deal),
        CommandHandler("deals", deals_command),
        CallbackQueryHandler(closed_view, pattern=cb.pattern(cb.DEAL_CLOSED)),
        CommandHandler("move", move_command),
        CallbackQueryHandler(view_deal, pattern=cb.pattern(cb.DEAL_VIEW)),
        CallbackQueryHandler(deals_page, pattern=cb.pattern(cb.DEAL_LIST)),
        CallbackQueryHandler(deals_filter, pattern=cb.pattern(cb.DEAL_FILTER)),
        CallbackQueryHandler(
            shows_current_on_conflict(next_stage), pattern=cb.pattern(cb.DEAL_NEXT)
        ),
        CallbackQueryHandler(
            shows_current_on_conflict(pick_stage), pattern=cb.pattern(cb.DEAL_PICK)
        ),
        CallbackQueryHandler(
            shows_current_on_conflict(move_button), pattern=cb.pattern(cb.DEAL_MOVE)
        ),
        CallbackQueryHandler(
            shows_current_on_conflict(win_button), pattern=cb.pattern(cb.DEAL_WIN)
        ),
        CallbackQueryHandler(
            shows_current_on_conflict(win_yes), pattern=cb.pattern(cb.DEAL_WIN_YES)
        ),
        CallbackQueryHandler(
            shows_current_on_conflict(win_other_amount), pattern=cb.pattern(cb.DEAL_WIN_AMOUNT)
        ),
        CallbackQueryHandler(
            shows_current_on_conflict(lose_button), pattern=cb.pattern(cb.DEAL_LOSE)
        ),
        CallbackQueryHandler(
            shows_current_on_conflict(lose_reason), pattern=cb.pattern(cb.DEAL_LOSE_REASON)
        ),
        CallbackQueryHandler(undo_button, pattern=cb.pattern(cb.DEAL_UNDO)),
        CallbackQueryHandler(note_button, pattern=cb.pattern(cb.DEAL_NOTE)),
        CallbackQueryHandler(step_button, pattern=cb.pattern(cb.DEAL_STEP)),
        CallbackQueryHandler(quick_step, pattern=cb.pattern(cb.DEAL_STEP_QUICK)),
        CallbackQueryHandler(reassign_button, pattern=cb.pattern(cb.DEAL_REASSIGN)),
        CallbackQueryHandler(choose_deal, pattern=cb.pattern(cb.DEAL_CHOOSE)),
        CallbackQueryHandler(skip_button, pattern=cb.pattern(cb.DEAL_SKIP)),
        CallbackQueryHandler(followup_later, pattern=cb.pattern(cb.FOLLOWUP_LATER)),
    ]
