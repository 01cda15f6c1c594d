"""A typed context: `context.core`, `context.person` and `context.t` instead of string keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import Application, CallbackContext, ExtBot

from bot.common.i18n import Catalog, catalog, language_of

if TYPE_CHECKING:
    from bot.container import Core
    from bot.people.service import Person


class BotData:
    """`application.bot_data`: the one core of this process."""

    core: Core


class Ctx(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """Per-update context. The access gate fills `person` and `language`."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self._person: Person | None = None
        self.language = "ru"

    @classmethod
    def from_update(
        cls, update: object, application: Application[Any, Any, Any, Any, Any, Any]
    ) -> Ctx:
        context = super().from_update(update, application)
        if isinstance(update, Update) and update.effective_user:
            context.language = language_of(update.effective_user.language_code)
        return context

    @property
    def core(self) -> Core:
        return self.bot_data.core

    @property
    def person(self) -> Person:
        """The registered person; handlers behind the gate may rely on it."""
        if self._person is None:
            raise LookupError("no registered person on this update")
        return self._person

    @person.setter
    def person(self, value: Person) -> None:
        self._person = value

    @property
    def t(self) -> Catalog:
        return catalog(self.language)
