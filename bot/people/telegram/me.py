"""/me: one's own profile, printed on one's offers (full name, position, phone, e-mail)."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import CommandHandler

from bot.common.errors import Invalid
from bot.people.profile import Profile, field_of
from bot.tg.context import Ctx
from bot.tg.replies import reply


def profile_text(context: Ctx, profile: Profile) -> str:
    return context.t(
        "me.card",
        name=profile.printed_name,
        position=profile.position or "",
        phone=profile.phone or "",
        email=profile.email or "",
    )


async def me_command(update: Update, context: Ctx) -> None:
    """«/me» shows the profile; «/me phone +7 999 123-45-67» sets a field, «/me phone -»
    clears it."""
    people, person = context.core.people, context.person
    words = (context.args or [])[:]
    if not words:
        await reply(update, profile_text(context, await people.profile(person)))
        return
    field = field_of(words[0])
    if field is None:
        raise Invalid("me.unknown_field", word=words[0][:40])
    if len(words) == 1:
        raise Invalid(f"me.empty_{field.value}")
    profile = await people.set_profile(person, field, " ".join(words[1:]))
    await reply(update, context.t("me.saved") + "\n\n" + profile_text(context, profile))


def me_handlers() -> list[Any]:
    return [CommandHandler("me", me_command)]
