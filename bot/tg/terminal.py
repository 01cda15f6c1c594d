"""`voronka chat`: the same Application in a terminal, no Telegram, no token."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from bot.container import Core
from bot.people.service import Role
from bot.tg.app import build_application
from bot.tg.offline import BotMessage, ChatClient, OfflineRequest
from bot.tg.plain import plain

DEFAULT_NAME = "Terminal User"
HELP = (
    "Type messages as in Telegram. A number presses that button of the last message with buttons. "
    "/quit leaves."
)


class TerminalChat:
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
        self.client = ChatClient(
            self.app, self.request, user_id, first_name=name, language_code=language
        )
        self.files_dir = files_dir
        self.write = write
        self._buttons: list[tuple[BotMessage, str]] = []

    async def __aenter__(self) -> TerminalChat:
        await self.app.initialize()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.app.shutdown()

    async def handle(self, line: str) -> None:
        """One line typed by the person: a message, or a button number."""
        line = line.rstrip("\n")
        if line.strip().isdigit() and self._buttons:
            index = int(line.strip()) - 1
            if not 0 <= index < len(self._buttons):
                self.write(f"(no button {index + 1}; there are {len(self._buttons)})")
                return
            message, data = self._buttons[index]
            self.show(await self.client.press(message, data))
            return
        if not line.strip():
            return
        self.show(await self.client.send(line))

    def show(self, messages: list[BotMessage]) -> None:
        """Print the answers; numbers then press the buttons of the last answer that has some."""
        if messages:
            self._buttons = []
        seen: set[int] = set()
        for message in messages:
            if message.message_id in seen:
                continue
            seen.add(message.message_id)
            self._render(message)

    def _render(self, message: BotMessage) -> None:
        self.write("")
        if message.text:
            self.write(plain(message.text))
        if message.document is not None:
            self.write(f"📎 {self._save(message.document[0], message.document[1])}")
        if message.photo is not None:
            self.write(f"🖼 {self._save(f'photo-{message.message_id}.png', message.photo)}")
        if message.buttons:
            self._buttons = []
            for row in message.buttons:
                labels = []
                for label, data in row:
                    self._buttons.append((message, data))
                    labels.append(f"[{len(self._buttons)}] {label}")
                self.write("   ".join(labels))

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
        print(f"Voronka chat as {name} (id {user_id}). Files the bot sends go to {files_dir}/.")
        print(HELP)
        while True:
            try:
                line = await asyncio.to_thread(input, "\n> ")
            except EOFError:
                break
            if line.strip() in {"/quit", "/exit"}:
                break
            await chat.handle(line)
