"""/start, /help, /cancel, unknown commands and messages nobody else took."""

from __future__ import annotations

import re

from telegram import Update

from bot.people.service import Person, Role
from bot.tg import dialogs
from bot.tg.context import Ctx
from bot.tg.observe import mark
from bot.tg.replies import reply

# Help sections in the order shown, with the roles that see them.
HELP_SECTIONS: list[tuple[str, frozenset[Role]]] = [
    ("help.deals", frozenset(Role)),
    ("help.knowledge", frozenset(Role)),
    ("help.general", frozenset(Role)),
    ("help.lead", frozenset({Role.LEAD})),
    ("help.admin", frozenset({Role.ADMIN})),
]

# A letter in any script: digits and signs alone («1», «???», «+») ask nothing the
# knowledge base could answer, and must not show up as an unanswered question.
WORD = re.compile(r"[^\W\d_]", re.UNICODE)


def help_text(context: Ctx, person: Person) -> str:
    t = context.t
    parts = [t("help.intro")]
    bot = context.bot.username
    parts += [t(key, bot=bot) for key, roles in HELP_SECTIONS if person.role in roles]
    return "\n\n".join(parts)


async def start(update: Update, context: Ctx) -> None:
    """Greet a registered person, or register someone who opened an invite link."""
    args = context.args or []
    user = update.effective_user
    assert user is not None
    if args:
        person = await context.core.people.redeem_invite(
            args[0], user.id, user.full_name, context.language
        )
        context.person = person
        await reply(update, _greeting(context, person, "start.registered"))
        await reply(update, help_text(context, person))
        return
    person = context.person
    await reply(update, _greeting(context, person, "start.hello"))


def _greeting(context: Ctx, person: Person, key: str) -> str:
    role = context.t(f"roles.{person.role.value}")
    return context.t(key, name=person.name, role=role, team=person.team_name)


async def help_command(update: Update, context: Ctx) -> None:
    """Examples of every command this person's role may use."""
    await reply(update, help_text(context, context.person))


async def nothing_to_cancel(update: Update, context: Ctx) -> None:
    """/cancel: drops the pending question, if any."""
    if dialogs.current(context.user_data) is not None:
        dialogs.finish(context.user_data)
        await reply(update, context.t("common.cancelled"))
        return
    await reply(update, context.t("common.nothing_to_cancel"))


async def unknown_command(update: Update, context: Ctx) -> None:
    mark("unknown", "unknown_command")
    text = update.effective_message.text if update.effective_message else ""
    command = (text or "/").split()[0].split("@")[0][:40]
    await reply(update, context.t("common.unknown_command", command=command))


async def not_text(update: Update, context: Ctx) -> None:
    """Stickers, photos, voice: say what the bot understands instead."""
    mark("unsupported", "not_text")
    await reply(update, context.t("common.not_text"))


async def no_meaning(update: Update, context: Ctx) -> None:
    """Only emoji or punctuation: neither a deal command nor a question."""
    mark("no_meaning", "no_meaning")
    await reply(update, context.t("common.no_meaning"))
