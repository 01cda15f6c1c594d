"""Questions, objection answers, call scripts walked with buttons, inline mode, the lead's loop."""

from __future__ import annotations

import asyncio
import hashlib
from base64 import urlsafe_b64encode
from collections.abc import Callable
from html import escape
from typing import Any

from telegram import InlineQueryResultArticle, InputTextMessageContent, Update
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, CommandHandler, InlineQueryHandler

from bot.common.errors import Invalid
from bot.common.i18n import catalog
from bot.knowledge import scripts as scripts_walk
from bot.knowledge.content import Entry, bare_title
from bot.knowledge.service import LearnedList, Status
from bot.people.service import Role
from bot.tg import callbacks as cb
from bot.tg import dialogs
from bot.tg.context import Ctx
from bot.tg.dialogs import Dialog
from bot.tg.markdown import to_plain, to_telegram_html
from bot.tg.observe import mark
from bot.tg.paging import navigation, page_number, page_of, paged
from bot.tg.render import MESSAGE_LIMIT, fit, keyboard
from bot.tg.replies import reply, send_to, show

LAST_QUESTION = "kb_last_question"
MAYBE_TEXT = "kb_maybe_text"
dialogs.persisted(LAST_QUESTION, str)
dialogs.persisted(MAYBE_TEXT, str)
INLINE_RESULTS = 10
KINDS = ("objection", "script", "product", "company", "competitor", "market", "faq")

Rows = list[list[tuple[str, str]]]


# --- entries in callback data -----------------------------------------------------------------
# Telegram allows 64 bytes of callback data; an entry travels as a token of at most 32.

MAX_TOKEN = 32
_HASHED = "~"


def entry_token(entry_id: str) -> str:
    """A short ASCII id as itself; any other id as a hash that `entry_of` looks up."""
    if (
        len(entry_id) <= MAX_TOKEN
        and entry_id.isascii()
        and cb.SEPARATOR not in entry_id
        and not entry_id.startswith(_HASHED)
    ):
        return entry_id
    digest = hashlib.blake2b(entry_id.encode(), digest_size=12).digest()
    return _HASHED + urlsafe_b64encode(digest).decode()


def _entry_id(context: Ctx, token: str) -> str:
    """The id behind a token. A hashed one is looked for among the loaded ids: only ids
    that are long or not ASCII are hashed (none in the shipped base), so a scan is fine."""
    if not token.startswith(_HASHED):
        return token
    library = context.core.knowledge.library
    return next((key for key in library if entry_token(key) == token), token)


def question_mark(question: str) -> str:
    """A short mark of the person's last question, carried by the buttons under its answer:
    a press whose mark is not that of the question they asked last (an older answer's
    button, an entry opened from a list) teaches the search nothing."""
    digest = hashlib.blake2b(question.encode(), digest_size=6).digest()
    return urlsafe_b64encode(digest).decode()


def _asked(context: Ctx, mark: str) -> str | None:
    """The person's last question, when the pressed button was shown with its answer."""
    question = (context.user_data or {}).get(LAST_QUESTION)
    return question if question and mark and mark == question_mark(question) else None


def candidate_button(entry: Entry, question: str | None, sign: str = "→") -> tuple[str, str]:
    """«→ title» (another entry offered beside an answer) or «❔ title» (a weak candidate
    under «not found»): choosing it teaches the search that it answers the question."""
    label = f"{sign} {entry.title}"[:60]
    if question is None:
        return label, cb.pack(cb.KB_SHOW, entry_token(entry.id))
    return label, cb.pack(cb.KB_PICK, entry_token(entry.id), question_mark(question))


def entry_of(context: Ctx, token: str) -> Entry:
    """The entry a button names, for the person pressing it (gone after a reload: refused)."""
    return context.core.knowledge.entry(context.person, _entry_id(context, token))


# --- answering ------------------------------------------------------------------------------


async def answer_question(
    update: Update, context: Ctx, text: str, *, kinds: tuple[str, ...] | None = None
) -> None:
    """The best entry with two more candidates, or an honest "not found" with a way to ask."""
    t = context.t
    answer = await context.core.knowledge.answer(context.person, text, kinds=kinds)
    if context.user_data is not None:
        context.user_data[LAST_QUESTION] = answer.query[:1000]
    if answer.best is None:
        mark("not_found")
        if update.callback_query:  # «Ромашка дорого» was a question: the press it came from
            await update.callback_query.answer()
        # Weak candidates are offered as buttons, below the honest "not found", never as it.
        # Choosing one is the person's word that it answers the question, as with «→».
        question = answer.query[:1000]
        rows: Rows = [[candidate_button(entry, question, "❔")] for entry in answer.maybe]
        maybe = f"\n\n{t('kb.maybe')}" if answer.maybe else ""
        if answer.ask is None:  # nobody would receive it: no button that leads nowhere
            await reply(update, t("kb.not_found_alone") + maybe, keyboard(rows) if rows else None)
            return
        to_admin = answer.ask is Role.ADMIN
        label = t("kb.ask_admin" if to_admin else "kb.ask_lead")
        rows.append([(label, cb.pack(cb.KB_ASK_LEAD))])
        text = t("kb.not_found_admin" if to_admin else "kb.not_found") + maybe
        await reply(update, text, keyboard(rows))
        return
    await show_entry(update, context, answer.best, others=list(answer.others), asked=answer.query)


async def show_entry(
    update: Update,
    context: Ctx,
    entry: Entry,
    *,
    others: list[Entry] | None = None,
    edit: bool = False,
    asked: str | None = None,
) -> None:
    """An entry with its 👍/👎; `asked`: the person's question it answers, whose mark the
    buttons carry so that a press on them counts as the person's word on that question."""
    if entry.is_branching:
        await show_script_step(update, context, entry, scripts_walk.start(), edit=edit)
        return
    text = f"<b>{escape(entry.title)}</b>\n\n{to_telegram_html(entry.body)}"
    asked = asked[:1000] if asked else None  # as kept in LAST_QUESTION
    rows: Rows = [[candidate_button(other, asked)] for other in others or []]
    token = entry_token(entry.id)
    mark = (question_mark(asked),) if asked else ()
    rows.append(
        [("👍", cb.pack(cb.KB_UP, token, *mark)), ("👎", cb.pack(cb.KB_DOWN, token, *mark))]
    )
    if edit and len(text) <= MESSAGE_LIMIT:
        await show(update, text, keyboard(rows))
    else:
        if update.callback_query:
            await update.callback_query.answer()
        await reply(update, text, keyboard(rows))
    await _send_files(update, entry)


async def _send_files(update: Update, entry: Entry) -> None:
    chat = update.effective_chat
    assert chat is not None
    for path in entry.files:
        content = await asyncio.to_thread(path.read_bytes)
        await chat.send_document(content, filename=path.name)


async def show_by_button(update: Update, context: Ctx) -> None:
    await show_entry(update, context, entry_of(context, cb.of(update).get(0)))


async def pick_candidate(update: Update, context: Ctx) -> None:
    """«→ title» under an answer: the entry the person meant, and a vote for their question."""
    data = cb.of(update)
    asked = _asked(context, data.get(1))
    entry, _ = await context.core.knowledge.pick(
        context.person, _entry_id(context, data.get(0)), asked
    )
    await show_entry(update, context, entry, asked=asked)


async def feedback(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    up = data.prefix == cb.KB_UP
    query = (context.user_data or {}).get(LAST_QUESTION)
    entry_id = _entry_id(context, data.get(0))
    asked = _asked(context, data.get(1)) is not None
    vote = await context.core.knowledge.feedback(
        context.person, entry_id, up=up, query=query, asked=asked
    )
    key = "kb.thanks_up" if up else "kb.thanks_down"
    if vote.changed and vote.status == Status.ACTIVE:
        key = "kb.thanks_learned"
    elif vote.changed and vote.status == Status.DEMOTED:
        key = "kb.thanks_demoted"
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
        await _scripts(update, context, 0)
        return
    await answer_question(update, context, text, kinds=("script",))


async def scripts_page(update: Update, context: Ctx) -> None:
    await _scripts(update, context, page_number(cb.of(update), 0))


async def _scripts(update: Update, context: Ctx, page: int) -> None:
    entries = context.core.knowledge.entries(context.person, "script")
    rows = _entry_rows(entries, page, lambda n: cb.pack(cb.SCRIPT_LIST, n))
    await show(update, context.t("kb.scripts_list"), keyboard(rows))


# --- browsing -------------------------------------------------------------------------------


async def kb_command(update: Update, context: Ctx) -> None:
    """/kb: browse by kind, then tag. /kb learned (leads, admins): what the search learned."""
    if [arg.lower() for arg in context.args or []] == ["learned"]:
        await reply(update, *await _learned_page(context, 0))
        return
    await reply(update, context.t("kb.browse"), _kinds_keyboard(context))


async def learned_page(update: Update, context: Ctx) -> None:
    await show(update, *await _learned_page(context, page_number(cb.of(update), 0)))


async def unlearn(update: Update, context: Ctx) -> None:
    """🗑 under /kb learned: the phrasing leaves the search (the button's version checked)."""
    data = cb.of(update)
    removed = await context.core.knowledge.remove_phrasing(
        context.person, data.number(0), data.number(1)
    )
    text, markup = await _learned_page(context, page_number(data, 2))
    done = context.t("kb.learned_removed", phrasing=escape(removed.phrasing))
    await show(update, f"{done}\n\n{text}", markup)


LEARNED_PAGE = 8


async def _learned_page(context: Ctx, number: int) -> tuple[str, Any]:
    learned = await context.core.knowledge.learned_phrasings(context.person)
    return _render_learned(context, learned, number)


def _render_learned(context: Ctx, learned: LearnedList, number: int) -> tuple[str, Any]:
    """A page of phrasings, each with its number, votes and a 🗑 button of that number."""
    t = context.t
    page = page_of(learned.phrasings, number, LEARNED_PAGE)
    start = page.number * LEARNED_PAGE
    lines = [t("kb.learned_title", count=len(learned.phrasings))]
    if not learned.phrasings:
        lines = [t("kb.learned_none")]
    for n, phrasing in enumerate(page.items, start + 1):
        key = "kb.learned_line_down" if phrasing.status == Status.DEMOTED else "kb.learned_line"
        lines.append(
            t(
                key, n=n, phrasing=escape(phrasing.phrasing), title=escape(phrasing.title),
                ups=phrasing.ups, downs=phrasing.downs,
            )
        )  # fmt: skip
    if learned.pending:
        lines.append(t("kb.learned_pending", count=learned.pending))
    buttons = [
        (f"🗑 {n}", cb.pack(cb.KB_UNLEARN, phrasing.id, phrasing.version, page.number))
        for n, phrasing in enumerate(page.items, start + 1)
    ]
    rows: Rows = [buttons[i : i + 4] for i in range(0, len(buttons), 4)]
    turning = navigation(page.number, page.count, lambda n: cb.pack(cb.KB_LEARNED, n))
    if turning:
        rows.append(turning)
    return "\n".join(lines), keyboard(rows) if rows else None


def _kinds_keyboard(context: Ctx) -> Any:
    counts = context.core.knowledge.kinds(context.person)
    rows: Rows = [
        [(f"{context.t('kb.kind_' + kind)} ({counts[kind]})", cb.pack(cb.KB_BROWSE, kind))]
        for kind in KINDS
        if kind in counts
    ]
    return keyboard(rows)


def _entry_rows(entries: list[Entry], page: int, turn: Callable[[int], str]) -> Rows:
    return paged(
        entries, page, lambda e: (e.title[:60], cb.pack(cb.KB_SHOW, entry_token(e.id))), turn
    )


async def browse(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    knowledge, person, t = context.core.knowledge, context.person, context.t
    kind, tag_index, page = data.get(0), data.get(1), page_number(data, 2)
    if not kind:
        await show(update, t("kb.browse"), _kinds_keyboard(context))
        return
    tags = knowledge.tags(person, kind)
    if tag_index == "" and len(tags) > 1:
        rows: Rows = [[(t("kb.all"), cb.pack(cb.KB_BROWSE, kind, "all"))]]
        rows += paged(
            list(enumerate(tags)),
            page,
            lambda tag: (tag[1][:60], cb.pack(cb.KB_BROWSE, kind, tag[0])),
            lambda n: cb.pack(cb.KB_BROWSE, kind, "", n),
        )
        rows.append([(t("common.back"), cb.pack(cb.KB_BROWSE))])
        await show(update, t("kb.choose_tag", kind=t("kb.kind_" + kind)), keyboard(rows))
        return
    if tag_index in ("", "all"):
        entries = knowledge.entries(person, kind)
    else:
        index = data.number(1)
        if index >= len(tags):
            raise Invalid("common.expired_button")
        entries = knowledge.entries(person, kind, tags[index])
    shown = tag_index or "all"
    rows = _entry_rows(entries, page, lambda n: cb.pack(cb.KB_BROWSE, kind, shown, n))
    rows.append([(t("common.back"), cb.pack(cb.KB_BROWSE, kind))])
    await show(update, t("kb.choose_entry"), keyboard(rows))


# --- call scripts -----------------------------------------------------------------------------


async def show_script_step(
    update: Update, context: Ctx, entry: Entry, walk: scripts_walk.Walk, *, edit: bool
) -> None:
    t = context.t
    token = entry_token(entry.id)
    budget = cb.MAX_BYTES - len(f"{cb.SCRIPT_WALK}:{token}:") - 2
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
            data = f"{cb.SCRIPT_WALK}:{token}:{scripts_walk.encode(following)}"
            if len(data.encode()) <= cb.MAX_BYTES:
                rows.append([(answer.label[:60], data)])
    navigation = []
    if not walk.at_start:
        back = scripts_walk.back(walk)
        navigation.append((t("kb.back"), cb.pack(cb.SCRIPT_WALK, token, scripts_walk.encode(back))))
        navigation.append(
            (
                t("kb.restart"),
                cb.pack(cb.SCRIPT_WALK, token, scripts_walk.encode(scripts_walk.start())),
            )
        )
    if navigation:
        rows.append(navigation)
    if step.answers:
        rows.append(
            [(t("kb.no_suitable"), cb.pack(cb.SCRIPT_GAP, token, scripts_walk.encode(walk)))]
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
    entry = entry_of(context, data.get(0))
    walk = scripts_walk.decode(data.get(1))
    if walk is None or scripts_walk.current(entry, walk) is None:
        raise Invalid("kb.entry_gone")
    if (dialog := dialogs.current(context.user_data)) and dialog.kind == dialogs.SCRIPT_GAP:
        dialogs.finish(context.user_data)  # walked on instead of typing what the client said
    await show_script_step(update, context, entry, walk, edit=True)


async def script_gap(update: Update, context: Ctx) -> None:
    """«Нет подходящего ответа»: remember the step and let the manager type what was said."""
    data = cb.of(update)
    entry = entry_of(context, data.get(0))
    walk = scripts_walk.decode(data.get(1))
    step = scripts_walk.current(entry, walk) if walk else None
    if walk is None or step is None:
        raise Invalid("kb.entry_gone")
    dialogs.start(
        context.user_data,
        Dialog(
            dialogs.SCRIPT_GAP,
            data={"entry_id": entry.id, "step_id": step.id, "walk": scripts_walk.encode(walk)},
        ),
    )
    assert update.callback_query is not None
    await update.callback_query.answer()
    await reply(update, context.t("kb.gap_prompt", step=bare_title(step.title)))


async def record_script_gap(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    """Keep what the client said, then offer to go on: back to the step, restart, or leave."""
    entry = await context.core.knowledge.script_gap(
        context.person, dialog.data["entry_id"], dialog.data["step_id"], text
    )
    dialogs.finish(context.user_data)
    t = context.t
    walk = scripts_walk.decode(dialog.data.get("walk", ""))
    step = scripts_walk.current(entry, walk) if entry and walk else None
    if entry is None or step is None or walk is None or step.id != dialog.data["step_id"]:
        # The script was edited and reloaded meanwhile: the answer is kept, the walk is not.
        await reply(update, f"{t('kb.gap_saved')}\n{t('kb.gap_script_gone')}")
        return
    token = entry_token(entry.id)
    walk = scripts_walk.fit(entry, walk, cb.MAX_BYTES - len(f"{cb.SCRIPT_WALK}:{token}:") - 2)
    rows: Rows = [
        [(t("kb.gap_back"), cb.pack(cb.SCRIPT_WALK, token, scripts_walk.encode(walk)))],
        [
            (
                t("kb.restart"),
                cb.pack(cb.SCRIPT_WALK, token, scripts_walk.encode(scripts_walk.start())),
            ),
            (t("kb.leave"), cb.pack(cb.SCRIPT_END)),
        ],
    ]
    go_on = t("kb.gap_go_on", step=bare_title(step.title))
    await reply(update, f"{t('kb.gap_saved')}\n{go_on}", keyboard(rows))


async def script_end(update: Update, context: Ctx) -> None:
    """«Завершить» after a gap: the walk ends here, whether or not the script is still loaded
    (the step's buttons above still go on if pressed: a walk is all in its buttons)."""
    await show(update, context.t("kb.script_left"))


# --- the unanswered loop ----------------------------------------------------------------------


async def ask_lead(update: Update, context: Ctx) -> None:
    question_text = (context.user_data or {}).get(LAST_QUESTION)
    if not question_text:
        raise Invalid("common.expired_button")
    core, person = context.core, context.person
    question, answerers = await core.knowledge.ask_lead(person, question_text)
    for lead in answerers:
        t = catalog(lead.language)
        text = t("kb.question_for_lead", name=person.name, question=question.question)
        markup = keyboard([[(t("kb.answer_button"), cb.pack(cb.KB_ANSWER, question.id))]])
        await send_to(core, context.bot, lead.telegram_id, text, markup)
    await show(update, context.t("kb.sent_to_lead", names=", ".join(a.name for a in answerers)))


async def start_answer(update: Update, context: Ctx) -> None:
    question = await context.core.knowledge.question_to_answer(
        context.person, cb.of(update).number(0)
    )
    dialogs.start(context.user_data, Dialog(dialogs.KB_ANSWER, data={"question_id": question.id}))
    assert update.callback_query is not None
    await update.callback_query.answer()
    await reply(update, context.t("kb.answer_prompt"))


async def record_lead_answer(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    core, t = context.core, context.t
    question = await core.knowledge.answer_question(
        context.person, dialog.data["question_id"], text
    )
    dialogs.finish(context.user_data)
    name = context.person.name
    reached = await send_to(
        core,
        context.bot,
        question.asker.telegram_id,
        lambda at: at("kb.answer_for_asker", name=name, question=question.question, answer=text),
    )
    rows = [
        [
            (t("kb.add_to_base"), cb.pack(cb.KB_CONFIRM, question.id, 1)),
            (t("kb.do_not_add"), cb.pack(cb.KB_CONFIRM, question.id, 0)),
        ]
    ]
    forwarded = any(recipient.instead_of for recipient in reached)
    key = "post.answer_forwarded" if forwarded else "kb.answer_sent"
    await reply(update, t(key, name=question.asker.name), keyboard(rows))


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
    await answer_question(update, context, text)  # which answers the press


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
    results = []
    found = await context.core.knowledge.found(context.person, query.query, limit=INLINE_RESULTS)
    for entry in found:
        body = entry.body if not entry.is_branching else (entry.intro or entry.steps[0].text)
        text = fit(f"<b>{escape(entry.title)}</b>\n\n{to_telegram_html(body)}")
        results.append(
            InlineQueryResultArticle(
                id=entry_token(entry.id),
                title=entry.title[:100],
                description=to_plain(body)[:120],
                input_message_content=InputTextMessageContent(text, parse_mode=ParseMode.HTML),
            )
        )
    await query.answer(results, cache_time=0, is_personal=True)


async def reload_command(update: Update, context: Ctx) -> None:
    """/reload (admin): read the content files again."""
    loaded = await context.core.knowledge.reload(context.person)
    lines = [context.t("kb.reloaded", count=loaded.count, problems=len(loaded.problems))]
    lines += [f"• {escape(str(problem))}" for problem in loaded.problems[:20]]
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
        CallbackQueryHandler(pick_candidate, pattern=cb.pattern(cb.KB_PICK)),
        CallbackQueryHandler(learned_page, pattern=cb.pattern(cb.KB_LEARNED)),
        CallbackQueryHandler(unlearn, pattern=cb.pattern(cb.KB_UNLEARN)),
        CallbackQueryHandler(ask_lead, pattern=cb.pattern(cb.KB_ASK_LEAD)),
        CallbackQueryHandler(start_answer, pattern=cb.pattern(cb.KB_ANSWER)),
        CallbackQueryHandler(confirm_answer, pattern=cb.pattern(cb.KB_CONFIRM)),
        CallbackQueryHandler(browse, pattern=cb.pattern(cb.KB_BROWSE)),
        CallbackQueryHandler(scripts_page, pattern=cb.pattern(cb.SCRIPT_LIST)),
        CallbackQueryHandler(maybe_as_question, pattern=cb.pattern(cb.KB_AS_QUESTION)),
        CallbackQueryHandler(maybe_as_note, pattern=cb.pattern(cb.KB_AS_NOTE)),
        CallbackQueryHandler(script_walk, pattern=cb.pattern(cb.SCRIPT_WALK)),
        CallbackQueryHandler(script_gap, pattern=cb.pattern(cb.SCRIPT_GAP)),
        CallbackQueryHandler(script_end, pattern=cb.pattern(cb.SCRIPT_END)),
        InlineQueryHandler(inline_query),
    ]
