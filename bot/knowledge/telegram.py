"""Questions, objection answers, call scripts walked with buttons, inline mode, the lead's loop."""

from __future__ import annotations

import asyncio
from html import escape
from typing import Any

from telegram import InlineQueryResultArticle, InputTextMessageContent, Update
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, CommandHandler, InlineQueryHandler

from bot.common.errors import Forbidden, Invalid
from bot.common.i18n import catalog
from bot.knowledge import scripts as scripts_walk
from bot.knowledge.content import Entry
from bot.knowledge.service import Event
from bot.people.service import Role
from bot.tg import callbacks as cb
from bot.tg import dialogs
from bot.tg.context import Ctx
from bot.tg.dialogs import Dialog
from bot.tg.markdown import to_plain, to_telegram_html
from bot.tg.observe import mark
from bot.tg.render import MESSAGE_LIMIT, keyboard
from bot.tg.replies import reply, show

LAST_QUESTION = "kb_last_question"
MAYBE_TEXT = "kb_maybe_text"
dialogs.persisted(LAST_QUESTION, str)
dialogs.persisted(MAYBE_TEXT, str)
MAX_BROWSE_BUTTONS = 40
INLINE_RESULTS = 10
KINDS = ("objection", "script", "product", "company", "competitor", "market", "faq")

Rows = list[list[tuple[str, str]]]


# --- answering ------------------------------------------------------------------------------


async def answer_question(
    update: Update, context: Ctx, text: str, *, kinds: tuple[str, ...] | None = None
) -> None:
    """The best entry with two more candidates, or an honest "not found" with a way to ask."""
    core, t = context.core, context.t
    query = " ".join(text.split())
    if not any(char.isalnum() for char in query):
        raise Invalid("kb.empty_query")
    hits = core.knowledge.search(query, kinds=kinds, limit=3)
    if not hits:
        mark("not_found")
        await core.knowledge.record(context.person, Event.NOT_FOUND, query=query)
        if context.user_data is not None:
            context.user_data[LAST_QUESTION] = query[:1000]
        ask = keyboard([[(t("kb.ask_lead"), cb.pack(cb.KB_ASK_LEAD))]])
        await reply(update, t("kb.not_found"), ask)
        return
    await core.knowledge.record(
        context.person, Event.ANSWERED, query=query, entry_id=hits[0].entry_id
    )
    if context.user_data is not None:
        context.user_data[LAST_QUESTION] = query[:1000]
    best = core.knowledge.entry(hits[0].entry_id)
    others = [hit for hit in hits[1:] if hit.entry_id in core.knowledge.library]
    await show_entry(update, context, best, others=[(h.entry_id, h.title) for h in others])


async def show_entry(
    update: Update,
    context: Ctx,
    entry: Entry,
    *,
    others: list[tuple[str, str]] | None = None,
    edit: bool = False,
) -> None:
    if entry.is_branching:
        await show_script_step(update, context, entry, scripts_walk.start(), edit=edit)
        return
    t = context.t
    text = f"<b>{escape(entry.title)}</b>\n\n{to_telegram_html(entry.body)}"
    rows: Rows = [
        [(f"→ {title}"[:60], cb.pack(cb.KB_SHOW, entry_id))] for entry_id, title in others or []
    ]
    rows.append(
        [
            ("👍", cb.pack(cb.KB_UP, entry.id)),
            ("👎", cb.pack(cb.KB_DOWN, entry.id)),
        ]
    )
    if edit and len(text) <= MESSAGE_LIMIT:
        await show(update, text, keyboard(rows))
    else:
        if update.callback_query:
            await update.callback_query.answer()
        await reply(update, text, keyboard(rows))
    await _send_files(update, entry)
    del t


async def _send_files(update: Update, entry: Entry) -> None:
    chat = update.effective_chat
    assert chat is not None
    for path in entry.files:
        content = await asyncio.to_thread(path.read_bytes)
        await chat.send_document(content, filename=path.name)


async def show_by_button(update: Update, context: Ctx) -> None:
    entry = context.core.knowledge.entry(cb.of(update).get(0))
    await show_entry(update, context, entry)


async def feedback(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    kind = Event.UP if data.prefix == cb.KB_UP else Event.DOWN
    core = context.core
    entry = core.knowledge.entry(data.get(0))
    query = (context.user_data or {}).get(LAST_QUESTION)
    await core.knowledge.record(context.person, kind, query=query, entry_id=entry.id)
    key = "kb.thanks_up" if kind == Event.UP else "kb.thanks_down"
    assert update.callback_query is not None
    await update.callback_query.answer(context.t(key))


async def obj_command(update: Update, context: Ctx) -> None:
    """/obj <text>: objections only."""
    text = " ".join(context.args or [])
    if not text:
        await reply(update, context.t("kb.obj_usage"))
        return
    await answer_question(update, context, text, kinds=("objection",))


async def script_command(update: Update, context: Ctx) -> None:
    """/script <text>: a call script; without text, the list of scripts."""
    text = " ".join(context.args or [])
    if not text:
        entries = context.core.knowledge.library.by_kind("script")
        rows = [[(e.title[:60], cb.pack(cb.KB_SHOW, e.id))] for e in entries[:MAX_BROWSE_BUTTONS]]
        await reply(update, context.t("kb.scripts_list"), keyboard(rows))
        return
    await answer_question(update, context, text, kinds=("script",))


# --- browsing -------------------------------------------------------------------------------


async def kb_command(update: Update, context: Ctx) -> None:
    """/kb: browse by kind, then tag."""
    await reply(update, context.t("kb.browse"), _kinds_keyboard(context))


def _kinds_keyboard(context: Ctx) -> Any:
    library = context.core.knowledge.library
    rows: Rows = [
        [
            (
                f"{context.t('kb.kind_' + kind)} ({len(library.by_kind(kind))})",
                cb.pack(cb.KB_BROWSE, kind),
            )
        ]
        for kind in KINDS
        if library.by_kind(kind)
    ]
    return keyboard(rows)


async def browse(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    library, t = context.core.knowledge.library, context.t
    kind, tag_index = data.get(0), data.get(1)
    if not kind:
        await show(update, t("kb.browse"), _kinds_keyboard(context))
        return
    tags = library.tags(kind)
    if tag_index == "" and len(tags) > 1:
        rows: Rows = [[(t("kb.all"), cb.pack(cb.KB_BROWSE, kind, "all"))]]
        rows += [
            [(tag[:60], cb.pack(cb.KB_BROWSE, kind, i))]
            for i, tag in enumerate(tags[:MAX_BROWSE_BUTTONS])
        ]
        rows.append([(t("common.back"), cb.pack(cb.KB_BROWSE))])
        await show(update, t("kb.choose_tag", kind=t("kb.kind_" + kind)), keyboard(rows))
        return
    if tag_index in ("", "all"):
        entries = library.by_kind(kind)
    else:
        index = int(tag_index) if tag_index.isdigit() else -1
        if not 0 <= index < len(tags):
            raise Invalid("common.expired_button")
        entries = library.by_tag(tags[index], kind)
    rows = [[(e.title[:60], cb.pack(cb.KB_SHOW, e.id))] for e in entries[:MAX_BROWSE_BUTTONS]]
    rows.append([(t("common.back"), cb.pack(cb.KB_BROWSE, kind))])
    await show(update, t("kb.choose_entry"), keyboard(rows))


# --- call scripts -----------------------------------------------------------------------------


async def show_script_step(
    update: Update, context: Ctx, entry: Entry, walk: scripts_walk.Walk, *, edit: bool
) -> None:
    t = context.t
    budget = 64 - len(f"{cb.SCRIPT_WALK}:{entry.id}:") - 2
    walk = scripts_walk.fit(entry, walk, budget)
    visited = scripts_walk.trail(entry, walk)
    if not visited:
        raise Invalid("kb.entry_gone")
    step = visited[-1]
    lines = [f"<b>{escape(entry.title)}</b> · {t('kb.step', number=len(visited))}"]
    if walk.at_start and entry.intro:
        lines.append(f"<i>{to_telegram_html(entry.intro)}</i>")
    lines.append(f"<b>{escape(step.title)}</b>")
    lines.append(to_telegram_html(step.text))
    rows: Rows = []
    for index, answer in enumerate(step.answers):
        following = scripts_walk.choose(entry, walk, index)
        if following is not None:
            data = f"{cb.SCRIPT_WALK}:{entry.id}:{scripts_walk.encode(following)}"
            if len(data.encode()) <= 64:
                rows.append([(answer.label[:60], data)])
    navigation = []
    if not walk.at_start:
        back = scripts_walk.back(walk)
        navigation.append(
            (t("kb.back"), cb.pack(cb.SCRIPT_WALK, entry.id, scripts_walk.encode(back)))
        )
        navigation.append(
            (
                t("kb.restart"),
                cb.pack(cb.SCRIPT_WALK, entry.id, scripts_walk.encode(scripts_walk.start())),
            )
        )
    if navigation:
        rows.append(navigation)
    if step.answers:
        rows.append(
            [(t("kb.no_suitable"), cb.pack(cb.SCRIPT_GAP, entry.id, scripts_walk.encode(walk)))]
        )
    text = "\n\n".join(line for line in lines if line)
    if edit:
        await show(update, text, keyboard(rows))
    else:
        if update.callback_query:
            await update.callback_query.answer()
        await reply(update, text, keyboard(rows))


async def script_walk(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    entry = context.core.knowledge.entry(data.get(0))
    walk = scripts_walk.decode(data.get(1))
    if walk is None or scripts_walk.current(entry, walk) is None:
        raise Invalid("kb.entry_gone")
    await show_script_step(update, context, entry, walk, edit=True)


async def script_gap(update: Update, context: Ctx) -> None:
    """«Нет подходящего ответа»: remember the step and let the manager type what was said."""
    data = cb.of(update)
    entry = context.core.knowledge.entry(data.get(0))
    walk = scripts_walk.decode(data.get(1))
    step = scripts_walk.current(entry, walk) if walk else None
    if step is None:
        raise Invalid("kb.entry_gone")
    dialogs.start(
        context.user_data,
        Dialog(dialogs.SCRIPT_GAP, data={"entry_id": entry.id, "step_id": step.id}),
    )
    assert update.callback_query is not None
    await update.callback_query.answer()
    await reply(update, context.t("kb.gap_prompt", step=step.title))


async def record_script_gap(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    await context.core.knowledge.record(
        context.person,
        Event.SCRIPT_GAP,
        entry_id=dialog.data["entry_id"],
        step_id=dialog.data["step_id"],
        text=text,
    )
    dialogs.finish(context.user_data)
    await reply(update, context.t("kb.gap_saved"))


# --- the unanswered loop ----------------------------------------------------------------------


async def ask_lead(update: Update, context: Ctx) -> None:
    question_text = (context.user_data or {}).get(LAST_QUESTION)
    if not question_text:
        raise Invalid("common.expired_button")
    core, person = context.core, context.person
    question, answerers = await core.knowledge.ask_lead(person, question_text)
    if not answerers:
        await show(update, context.t("kb.nobody_to_ask"))
        return
    for lead in answerers:
        t = catalog(lead.language)
        text = t("kb.question_for_lead", name=person.name, question=question.question)
        markup = keyboard([[(t("kb.answer_button"), cb.pack(cb.KB_ANSWER, question.id))]])
        await context.bot.send_message(lead.telegram_id, text, reply_markup=markup)
    await show(update, context.t("kb.sent_to_lead", names=", ".join(a.name for a in answerers)))


async def start_answer(update: Update, context: Ctx) -> None:
    if context.person.role is Role.MANAGER:
        raise Forbidden("kb.not_your_question")
    question_id = cb.of(update).number(0)
    dialogs.start(context.user_data, Dialog(dialogs.KB_ANSWER, data={"question_id": question_id}))
    assert update.callback_query is not None
    await update.callback_query.answer()
    await reply(update, context.t("kb.answer_prompt"))


async def record_lead_answer(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    core, t = context.core, context.t
    question = await core.knowledge.answer_question(
        context.person, dialog.data["question_id"], text
    )
    dialogs.finish(context.user_data)
    asker_t = catalog(question.asker.language)
    await context.bot.send_message(
        question.asker.telegram_id,
        asker_t(
            "kb.answer_for_asker", name=context.person.name, question=question.question, answer=text
        ),
    )
    rows = [
        [
            (t("kb.add_to_base"), cb.pack(cb.KB_CONFIRM, question.id, 1)),
            (t("kb.do_not_add"), cb.pack(cb.KB_CONFIRM, question.id, 0)),
        ]
    ]
    await reply(update, t("kb.answer_sent", name=question.asker.name), keyboard(rows))


async def confirm_answer(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    entry = await context.core.knowledge.confirm(
        context.person, data.number(0), accept=data.get(1) == "1"
    )
    key = "kb.added" if entry is not None else "kb.not_added"
    await show(update, context.t(key))


# --- «Ромашка дорого»: a deal or a question? ---------------------------------------------------


async def ask_deal_or_question(
    update: Update, context: Ctx, deal_id: int, title: str, text: str
) -> None:
    if context.user_data is not None:
        context.user_data[MAYBE_TEXT] = text
    t = context.t
    rows = [
        [(t("deal.button_note_maybe"), cb.pack(cb.KB_AS_NOTE, deal_id))],
        [(t("deal.button_question"), cb.pack(cb.KB_AS_QUESTION))],
    ]
    await reply(update, t("deal.maybe", title=title), keyboard(rows))


async def maybe_as_question(update: Update, context: Ctx) -> None:
    text = (context.user_data or {}).pop(MAYBE_TEXT, None)
    if not text:
        raise Invalid("common.expired_button")
    assert update.callback_query is not None
    await update.callback_query.answer()
    await answer_question(update, context, text)


async def maybe_as_note(update: Update, context: Ctx) -> None:
    text = (context.user_data or {}).pop(MAYBE_TEXT, None)
    if not text:
        raise Invalid("common.expired_button")
    deal = await context.core.deals.add_note(context.person, cb.of(update).number(0), text)
    await show(update, context.t("deal.note_saved", title=deal.title))


# --- inline mode and reload -------------------------------------------------------------------


async def inline_query(update: Update, context: Ctx) -> None:
    """@bot дорого in any chat: matching entries; choosing one sends its answer."""
    query = update.inline_query
    assert query is not None
    knowledge = context.core.knowledge
    hits = knowledge.search(query.query, limit=INLINE_RESULTS) if query.query.strip() else []
    results = []
    for hit in hits:
        entry = knowledge.library.get(hit.entry_id)
        if entry is None:
            continue
        body = entry.body if not entry.is_branching else (entry.intro or entry.steps[0].text)
        text = f"<b>{escape(entry.title)}</b>\n\n{to_telegram_html(body)}"[:MESSAGE_LIMIT]
        results.append(
            InlineQueryResultArticle(
                id=entry.id[:64],
                title=entry.title[:100],
                description=to_plain(body)[:120],
                input_message_content=InputTextMessageContent(text, parse_mode=ParseMode.HTML),
            )
        )
    await query.answer(results, cache_time=0, is_personal=True)


async def reload_command(update: Update, context: Ctx) -> None:
    """/reload (admin): read the content files again."""
    if not context.person.is_admin:
        raise Forbidden("team.admin_only")
    count, problems = await context.core.knowledge.reload()
    lines = [context.t("kb.reloaded", count=count, problems=len(problems))]
    lines += [f"• {escape(str(problem))}" for problem in problems[:20]]
    await reply(update, "\n".join(lines))


def knowledge_handlers() -> list[Any]:
    return [
        CommandHandler("obj", obj_command),
        CommandHandler("script", script_command),
        CommandHandler("kb", kb_command),
        CommandHandler("reload", reload_command),
        CallbackQueryHandler(show_by_button, pattern=cb.pattern(cb.KB_SHOW)),
        CallbackQueryHandler(feedback, pattern=cb.pattern(cb.KB_UP)),
        CallbackQueryHandler(feedback, pattern=cb.pattern(cb.KB_DOWN)),
        CallbackQueryHandler(ask_lead, pattern=cb.pattern(cb.KB_ASK_LEAD)),
        CallbackQueryHandler(start_answer, pattern=cb.pattern(cb.KB_ANSWER)),
        CallbackQueryHandler(confirm_answer, pattern=cb.pattern(cb.KB_CONFIRM)),
        CallbackQueryHandler(browse, pattern=cb.pattern(cb.KB_BROWSE)),
        CallbackQueryHandler(maybe_as_question, pattern=cb.pattern(cb.KB_AS_QUESTION)),
        CallbackQueryHandler(maybe_as_note, pattern=cb.pattern(cb.KB_AS_NOTE)),
        CallbackQueryHandler(script_walk, pattern=cb.pattern(cb.SCRIPT_WALK)),
        CallbackQueryHandler(script_gap, pattern=cb.pattern(cb.SCRIPT_GAP)),
        InlineQueryHandler(inline_query),
    ]
