"""`voronka chat`: the same Application in a terminal, no Telegram, no token.

One terminal plays a whole team: whatever the bot sends to anyone is printed as it is sent,
marked with whom it is for, and `/as` switches who is typing. `/as` is the terminal's own
command, like `/quit`: it never reaches the bot. A bare number presses a button of the
latest message the one typing got, and only theirs, so a press is never made as someone else.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.common.i18n import Catalog, catalog, language_of
from bot.container import Core
from bot.people.service import Person, Role
from bot.tg.app import build_application
from bot.tg.offline import BotMessage, ChatClient, OfflineRequest
from bot.tg.plain import plain

DEFAULT_NAME = "Terminal User"
LEAVE = frozenset({"/quit", "/exit"})
SWITCH = "/as"
NEW = "new"
# What Telegram does with an invite link: it opens the bot and sends /start with the token.
INVITE_LINK = re.compile(r"^(?:https?://)?t(?:elegram)?\.me/\w+/?\?start=([A-Za-z0-9_-]+)$")
OTHERS = "│ "  # the margin of a message to someone other than the one typing
LANG_OPTION = re.compile(r"\s--lang(?:=|\s+)(\S+)\s*$")


@dataclass(frozen=True, slots=True)
class Someone:
    """One who may type: a registered person, or a newcomer made with `/as new` who has not
    opened an invite yet (the bot does not know them)."""

    telegram_id: int
    name: str
    language: str
    person: Person | None = None


def _folded(text: str) -> str:
    return " ".join(text.casefold().replace("ё", "е").split())


class TerminalChat:
    """Lines typed in the terminal as updates of the person now typing; every message the bot
    sends, to anyone, printed once."""

    def __init__(
        self,
        core: Core,
        *,
        user_id: int,
        name: str,
        language: str,
        files_dir: Path,
        write: Callable[[str], None] = print,
    ) -> None:
        self.core = core
        self.request = OfflineRequest()
        self.app = build_application(core, request=self.request, rate_limit=False)
        self.language = language
        self.files_dir = files_dir
        self.write = write
        self._clients: dict[int, ChatClient] = {}
        self._newcomers: list[Someone] = []
        self._people: list[Person] = []
        self._shown = 0  # messages of the outbox printed so far
        self._calls = 0  # Bot API calls looked at for button answers so far
        self.current = Someone(user_id, name, language)

    @property
    def t(self) -> Catalog:
        """The terminal's own lines, in the language of whoever is typing now."""
        return catalog(language_of(self.current.language))

    async def __aenter__(self) -> TerminalChat:
        await self.app.initialize()
        await self._refresh()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.app.shutdown()

    @property
    def prompt(self) -> str:
        return f"{self.current.name}> "

    def greet(self) -> None:
        self._say(
            "terminal.started",
            name=self.current.name,
            id=self.current.telegram_id,
            files=str(self.files_dir),
        )
        self._say("terminal.help")

    # --- one typed line --------------------------------------------------------------

    async def handle(self, line: str) -> None:
        """One line typed by the person: a message, a button number, or `/as`."""
        text = line.strip()
        if not text:
            return
        words = text.split(maxsplit=1)
        if words[0].lower() == SWITCH:
            await self._switch(words[1] if len(words) > 1 else "")
            return
        link = INVITE_LINK.match(text)
        if link is not None:
            text = f"/start {link.group(1)}"
            self._say("terminal.following_link", command=text)
        client = self._client(self.current)
        if text.isdigit():
            latest = self._latest(self.current.telegram_id)
            if latest is not None and latest.buttons:
                await self._press(client, latest, int(text))
                return
            self._say("terminal.number_as_text", number=text)
        await client.send(text)
        await self._show_new()

    async def _press(self, client: ChatClient, message: BotMessage, number: int) -> None:
        buttons = [data for row in message.buttons for _, data in row]
        if not 1 <= number <= len(buttons):
            self._say("terminal.no_button", number=number, count=len(buttons))
            return
        await client.press(message, buttons[number - 1])
        await self._show_new()

    # --- who is typing ---------------------------------------------------------------

    def _everyone(self) -> list[Someone]:
        """People the terminal may be, in the order `/as` numbers them."""
        known = [
            Someone(p.telegram_id, p.name, p.language, p) for p in self._people if p.telegram_id
        ]
        registered = {someone.telegram_id for someone in known}
        return known + [n for n in self._newcomers if n.telegram_id not in registered]

    async def _switch(self, argument: str) -> None:
        await self._refresh()
        everyone = self._everyone()
        argument = argument.strip()
        if not argument:
            self._list(everyone)
            return
        first, _, rest = argument.partition(" ")
        if first.lower() == NEW:
            self._become(self._newcomer(rest))
            return
        if argument.isdigit():
            number = int(argument)
            if not 1 <= number <= len(everyone):
                self._say("terminal.no_such_number", number=number, count=len(everyone))
                return
            self._become(everyone[number - 1])
            return
        wanted = _folded(argument)
        exact = [s for s in everyone if _folded(s.name) == wanted]
        found = exact or [s for s in everyone if wanted in _folded(s.name)]
        if not found:
            self._say("terminal.nobody", name=argument)
        elif len(found) > 1:
            self._say("terminal.several", name=argument, names=", ".join(s.name for s in found))
        else:
            self._become(found[0])

    def _newcomer(self, rest: str) -> Someone | None:
        language = self.language
        option = LANG_OPTION.search(" " + rest)
        if option is not None:
            language = option.group(1)
            rest = (" " + rest)[: option.start()]
        name = " ".join(rest.split())
        if not name:
            return None
        taken = [s.telegram_id for s in self._everyone()] + list(self._clients)
        newcomer = Someone(max(taken, default=0) + 1, name, language)
        self._newcomers.append(newcomer)
        return newcomer

    def _become(self, someone: Someone | None) -> None:
        if someone is None:
            self._say("terminal.new_needs_name")
            return
        self.current = someone
        if someone.person is None:
            self._say("terminal.now_new", name=someone.name, id=someone.telegram_id)
            return
        self._say("terminal.now", **self._who(someone.person))
        latest = self._latest(someone.telegram_id)
        if latest is not None:  # where their chat stands, and what a number presses there
            self._render(latest, numbered=True)

    def _list(self, everyone: list[Someone]) -> None:
        self._say("terminal.people")
        for number, someone in enumerate(everyone, 1):
            person = someone.person
            self._say(
                "terminal.person",
                number=number,
                name=someone.name,
                role=self._role(person),
                team=person.team_name if person else None,
                active=person.active if person else True,
                you=someone.telegram_id == self.current.telegram_id,
            )
        self._say("terminal.people_hint")

    def _client(self, someone: Someone) -> ChatClient:
        """One client per person, so each keeps their own chat, as on two phones."""
        client = self._clients.get(someone.telegram_id)
        if client is None:
            client = ChatClient(
                self.app,
                self.request,
                someone.telegram_id,
                first_name=someone.name,
                language_code=someone.language,
            )
            self._clients[someone.telegram_id] = client
        return client

    async def _refresh(self) -> None:
        self._people = await self.core.people.everyone()
        found = {p.telegram_id: p for p in self._people}
        person = found.get(self.current.telegram_id)
        if person is not None:
            self.current = Someone(person.telegram_id, person.name, self.current.language, person)

    # --- what the bot sent -----------------------------------------------------------

    def _latest(self, chat_id: int) -> BotMessage | None:
        """The message this person saw last: the newest one sent or edited in their chat."""
        return next((m for m in reversed(self.request.outbox) if m.chat_id == chat_id), None)

    async def _show_new(self) -> None:
        """Print what the bot sent or edited since the last line, to whomever, once each."""
        for call in self.request.calls[self._calls :]:
            if call.method == "answerCallbackQuery" and call.params.get("text"):
                self._say("terminal.alert", text=str(call.params["text"]))
        self._calls = len(self.request.calls)
        fresh = self.request.outbox[self._shown :]
        self._shown = len(self.request.outbox)
        if any(m.chat_id != self.current.telegram_id for m in fresh):
            await self._refresh()  # someone new may have joined by now
        seen: set[tuple[int, int]] = set()
        for message in fresh:
            key = (message.chat_id, message.message_id)
            if key in seen:
                continue
            seen.add(key)
            latest = self._latest(message.chat_id)
            self._render(message, numbered=latest is message)

    def _render(self, message: BotMessage, *, numbered: bool) -> None:
        """A message as text; buttons numbered only where a number would press them."""
        self.write("")
        margin = ""
        if message.chat_id != self.current.telegram_id:  # someone else's chat, set apart
            self._say("terminal.to", **self._recipient(message.chat_id))
            margin = OTHERS
        lines: list[str] = []
        if message.text:
            lines += plain(message.text).split("\n")
        if message.document is not None:
            lines.append(f"📎 {self._save(message.document[0], message.document[1])}")
        if message.photo is not None:
            lines.append(f"🖼 {self._save(f'photo-{message.message_id}.png', message.photo)}")
        number = 0
        for row in message.buttons:
            labels = []
            for label, _ in row:
                number += 1
                labels.append(f"[{number}] {label}" if numbered else f"[{label}]")
            lines.append("   ".join(labels))
        for line in lines:
            self.write((margin + line).rstrip())

    def _recipient(self, chat_id: int) -> dict[str, Any]:
        person = next((p for p in self._people if p.telegram_id == chat_id), None)
        if person is None:
            return {"name": str(chat_id), "role": self._role(None), "team": None}
        return self._who(person)

    def _who(self, person: Person) -> dict[str, Any]:
        return {"name": person.name, "role": self._role(person), "team": person.team_name}

    def _role(self, person: Person | None) -> str:
        if person is None:
            return self.t("terminal.unregistered")
        return self.t(f"roles.{person.role.value}")

    def _say(self, key: str, **params: Any) -> None:
        self.write(plain(self.t(key, **params)))

    def _save(self, filename: str, content: bytes) -> Path:
        self.files_dir.mkdir(parents=True, exist_ok=True)
        path = self.files_dir / Path(filename).name
        path.write_bytes(content)
        return path


async def run_terminal_chat(
    core: Core,
    *,
    user_id: int,
    role: Role | None,
    name: str | None,
    team: str | None,
    language: str,
    files_dir: Path,
) -> None:
    await core.migrate()
    await core.load_content()
    if name is None:  # keep the name a known person has, as Telegram would send it
        known = await core.people.identify(user_id, "", language)
        name = known.name if known is not None else DEFAULT_NAME
    if role is not None:
        await core.people.ensure_person(user_id, name, role, team, language)
    async with TerminalChat(
        core, user_id=user_id, name=name, language=language, files_dir=files_dir
    ) as chat:
        chat.greet()
        while True:
            try:
                line = await asyncio.to_thread(input, "\n" + chat.prompt)
            except EOFError:
                break
            if line.strip().lower() in LEAVE:
                break
            await chat.handle(line)
