"""Random and hostile updates of every kind, from everybody, never break the bot.

A seeded generator sends thousands of updates through the real Application: messages
with random and hostile text, commands with random arguments, button presses with
random data, with data forged from the bot's own prefixes and with other people's real
buttons, inline queries, edited messages, documents and other media, group messages. It
comes from strangers, a deactivated person, managers, leads and the admin of two teams.

What must hold for every update:
- nothing is logged at ERROR (every bad input gets a clear answer, not a traceback);
- a stranger or a deactivated person only ever gets the stranger text (or, for
  `/start <token>`, the invite's own answer), and nobody else hears of it;
- every Bot API call is one Telegram accepts (tests/telegram_rules.py), and a press is
  answered once at most.

Found by it, before the fixes: malformed button data (`ValueError`, `IndexError`), periods
like 9999-12-31 (`OverflowError`), ids of 2^31 and 2^63 in buttons (an overflow on SQLite,
`DBAPIError` on PostgreSQL), NUL characters in text on PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.common.clock import FrozenClock
from bot.common.i18n import catalog
from bot.container import build_core
from bot.people.service import Role
from bot.tg.app import MENU_COMMANDS
from bot.tg.inbound import clean_text
from bot.tg.offline import BOT_USER, ApiCall, BotMessage, ChatClient
from tests import telegram_rules
from tests.conftest import Harness, make_settings
from tests.forgery import NORTH, NOWHERE, SOUTH, World, build_world, registered_prefixes

# Another sequence, or a longer one, when searching by hand: VORONKA_FUZZ_SEED, and
# VORONKA_FUZZ_UPDATES as a multiple of the counts below.
SEED = int(os.environ.get("VORONKA_FUZZ_SEED", "20261130"))
UPDATES = {"sqlite": 8000, "postgres": 5000}
SCALE = float(os.environ.get("VORONKA_FUZZ_UPDATES", "1"))
COMPANY = "Вектор Склад"

HOSTILE = [
    "", " ", "\x00", "a\x00b", "Ромашка\x00 → договор", "\x07\x08\x1b[31mred", "\ufeff", "\u200b",
    "<b>жирный</b>", "</i>", "<script>alert(1)</script>", "<a href='x'>x</a>", "&", "&amp;",
    "&lt;b&gt;", "a < b > c & d", '=HYPERLINK("http://x","Открыть")', "+7 999 123-45-67",
    "-1", "@everyone", "\u202eгнирт", "🙂" * 50, "x" * 4096, "я" * 5000, "Ромашка " * 600,
    "%s%n%x", "{{ 7*7 }}", "{% if x %}", "'; DROP TABLE deals; --", "null", "NaN", "Infinity",
    "1e308", "9" * 400, str(2**31), str(2**63), str(2**64), f"-{2**63}", "0", "-0", "１２３",
    "١٢٣", "²³", "Ⅻ", "\n\n\n", "\t", "\r\n", "$3,000", "1,5 млн", "150к", "10 5%",
    "завтра в 11", "через 99999999 дней", "через 9999999999999 часов", "31.02", "29.02.2027",
    "9999-12-31", "0001-01-01", "2026-13", "2026-00", "0000-01", "10000-01-01", "2026-W01",
    "Название; шт; 2; 1000", "x; шт; 1e9; 1e9", ";;;", "a;b;c;d;e", "100%", "-5%", "∞",
]  # fmt: skip
PERIODS = [
    "today", "week", "month", "yesterday", "сегодня", "2026-11", "2026-11-30", "9999-12-31",
    "0001-01-01", "9999-12", "0001-01", "2026-02-30", "1-1", "99999-01", "-2026-01", "2026-1",
    "2026-11-31", "garbage", "",
]  # fmt: skip
DEAL_WORDS = [
    "→ договор", "дальше", "выиграна", "проиграна", "в кп", "→ переговоры", "на паузу", "→",
    "заметка клиент просил перезвонить", "-> lead", "→ " + "x" * 300,
]  # fmt: skip
TITLES = ["Ромашка", "Лютик", "Тайный Лотос", "ромашку", "Лют", "Несуществующая"]
NUMBERS = [
    "0", "1", "2", "3", "-1", "+1", " 1", "1 ", "1.5", "1e3", "0x1f", "abc", "", "١", "²", "１",
    str(NOWHERE), str(2**31 - 1), str(2**31), str(2**53), str(2**63 - 1), str(2**63),
    str(2**64), "9" * 30,
]  # fmt: skip
WORDS = [
    "manager", "lead", "admin", "new", "yes", "price", "offer", "won", "payment", "0.", "closing",
    "price-too-high", "~AAAA", "b2b", "week", "2026-11", "9999-12-31", "all",
]  # fmt: skip
TOKENS = ["garbage", "A" * 43, "Qm9yaXMgaXMgbm90IGhlcmU", "x" * 300]
TEAM_NAMES = ["<b>Запад</b>", '=HYPERLINK("http://x","Открыть")', "&amp; Co", "Я" * 100, "🙂"]
MEDIA = ["sticker", "photo", "location", "contact", "voice"]
KINDS = {
    "text": 24, "command": 20, "replay": 14, "forged": 14, "junk": 5, "inline": 8, "edited": 6,
    "document": 5, "media": 2, "group": 2, "invite": 1,
}  # fmt: skip


def _random_text(rng: random.Random) -> str:
    """Characters from the planes people type in, and some they do not."""
    ranges = [(0x20, 0x7E), (0x410, 0x44F), (0x0, 0x1F), (0x300, 0x36F), (0x1F600, 0x1F64F),
              (0x4E00, 0x4E40), (0x590, 0x5FF), (0x2000, 0x206F), (0xFFF0, 0xFFFD)]  # fmt: skip
    length = rng.choice([1, 2, 5, 20, 80, 300, 1000, 4096])
    chars = []
    for _ in range(rng.randint(1, length)):
        low, high = rng.choice(ranges)
        chars.append(chr(rng.randint(low, high)))
    return "".join(chars)


@dataclass
class Sender:
    key: str
    chat: ChatClient
    member: bool  # False: a stranger or a deactivated person
    language: str
    weight: int = 10


@dataclass
class Run:
    """What the fuzzer sent and what went wrong, grouped by kind of problem."""

    kinds: Counter[str] = field(default_factory=Counter)
    problems: dict[str, list[str]] = field(default_factory=dict)

    def problem(self, signature: str, example: str) -> None:
        self.problems.setdefault(signature, []).append(example)

    def report(self) -> str:
        lines = [f"{sum(self.kinds.values())} updates: {dict(self.kinds)}"]
        for signature, examples in sorted(self.problems.items(), key=lambda kv: -len(kv[1])):
            lines.append(f"{len(examples)} × {signature}\n    e.g. {examples[0][:400]}")
        return "\n".join(lines)


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _errors_logged() -> Iterator[_Errors]:
    handler = _Errors()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def _logged(record: logging.LogRecord) -> tuple[str, str]:
    """What was logged at ERROR: the error and the place in the bot it came from, and its text."""
    error = record.exc_info[1] if record.exc_info else None
    if error is None:
        return f"ERROR {record.getMessage()[:160]}", ""
    trace, where = error.__traceback__, ""
    while trace is not None:
        code = trace.tb_frame.f_code
        if "/bot/" in code.co_filename:
            where = f"{Path(code.co_filename).name}:{trace.tb_lineno} {code.co_name}"
        trace = trace.tb_next
    return f"ERROR {type(error).__name__} at {where}", str(error).splitlines()[0][:160]


class Fuzzer:
    def __init__(self, world: World, rng: random.Random, run: Run) -> None:
        self.world, self.rng, self.run = world, rng, run
        self.harness = world.harness
        self.prefixes = registered_prefixes(self.harness)
        self.commands = [*MENU_COMMANDS, "reload", "nonsense", "START", "new@voronka_bot"]
        chats = world.chats
        self.senders = [
            Sender(key, chats[key], True, "ru", weight)
            for key, weight in (
                ("anna", 14), ("vera", 10), ("boris", 10), ("north_lead", 14), ("south_lead", 8),
                ("admin", 8),
            )
        ]  # fmt: skip
        self.senders += [
            Sender("gone", chats["gone"], False, "ru", 12),
            Sender("stranger", self.harness.stranger(), False, "ru", 12),
            Sender("stranger-en", self.harness.stranger("en"), False, "en", 12),
        ]
        self.next_user_id = 900_000
        self.ids = [str(value) for value in (*world.foreign.values(), *world.own.values())]
        self.buttons: list[str] = []
        self.latest: dict[int, list[BotMessage]] = {}

    # --- what is sent ---------------------------------------------------------------------

    def text(self) -> str:
        rng = self.rng
        choice = rng.random()
        if choice < 0.4:
            return rng.choice(HOSTILE)
        if choice < 0.7:
            return f"{rng.choice(TITLES)} {rng.choice(DEAL_WORDS)}"
        if choice < 0.8:
            return f"{rng.choice(TITLES)} {rng.choice(HOSTILE)}"
        return _random_text(rng)

    def argument(self) -> str:
        rng = self.rng
        pool = rng.choice([HOSTILE, PERIODS, NUMBERS, TITLES, WORDS])
        return rng.choice(pool) or "x"

    def command(self) -> str:
        rng = self.rng
        name = rng.choice(self.commands)
        if name == "start" and rng.random() < 0.5:
            return f"/start {rng.choice(TOKENS)}"
        args = [self.argument() for _ in range(rng.choice([0, 1, 1, 2, 3]))]
        return " ".join([f"/{name}", *args])

    def forged_data(self) -> str:
        rng = self.rng
        parts = [rng.choice(self.prefixes)]
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4])):
            pool = rng.choice([self.ids, self.ids, NUMBERS, WORDS])
            parts.append(rng.choice(pool))
        return ":".join(parts)[:64]

    def junk_data(self) -> str:
        rng = self.rng
        return rng.choice(
            [
                "", ":", "::::", "dv", "dv:", "dv::", "zz:1", "dv:1:2:3:4:5:6:7:8",
                _random_text(rng)[:20], "\x00", "ke:" + "~" * 40, "sw:closing:" + "9" * 40,
            ]
        )  # fmt: skip

    def replayed_data(self) -> str:
        """A real button the bot showed someone (anyone: data is all a press carries)."""
        return self.rng.choice(self.buttons) if self.buttons else self.forged_data()

    def _learn(self, made: list[BotMessage]) -> None:
        """Keep the buttons the bot showed and each chat's latest text messages."""
        for message in made:
            self.buttons.extend(
                data for row in message.buttons for _, data in row if data and "://" not in data
            )
            if "text" in message.raw:
                latest = self.latest.setdefault(message.chat_id, [])
                if message not in latest:
                    latest[:] = [*latest[-4:], message]
        del self.buttons[: max(0, len(self.buttons) - 3000)]

    # --- sending --------------------------------------------------------------------------

    async def message_of(self, sender: Sender) -> BotMessage:
        """A text message the bot sent this person, to press a button on."""
        chat_id = sender.chat.user_id
        if not self.latest.get(chat_id):
            await self.deliver(sender, "setup", lambda: sender.chat.send("/help"))
        mine = self.latest.get(chat_id)
        if not mine:  # a stranger is refused: any message of theirs will do
            return BotMessage(chat_id, 1, "", [], raw=self._raw(sender, "…"))
        return self.rng.choice(mine)

    def _raw(self, sender: Sender, text: str) -> dict[str, Any]:
        chat = {"id": sender.chat.user_id, "type": "private"}
        return {"message_id": 1, "date": 0, "chat": chat, "from": BOT_USER, "text": text}

    def _message(self, sender: Sender, **content: Any) -> dict[str, Any]:
        chat = sender.chat
        return {
            "message_id": self.rng.randint(1, 10**9),
            "date": int(time.time()),
            "chat": {"id": chat.user_id, "type": "private"},
            "from": chat.user,
            **content,
        }

    async def one(self) -> None:
        rng = self.rng
        sender = rng.choices(self.senders, [sender.weight for sender in self.senders])[0]
        kind = rng.choices(list(KINDS), list(KINDS.values()))[0]
        chat = sender.chat
        if kind == "text":
            text = self.text()
            await self.deliver(sender, kind, lambda: chat.send(text), text)
        elif kind == "command":
            text = self.command()
            await self.deliver(sender, kind, lambda: chat.send(text), text)
        elif kind in ("replay", "forged", "junk"):
            data = {"replay": self.replayed_data, "forged": self.forged_data}.get(
                kind, self.junk_data
            )()
            message = await self.message_of(sender)
            await self.deliver(sender, kind, lambda: chat.press(message, data), data)
        elif kind == "inline":
            query = self.text()[:256]
            await self.deliver(sender, kind, lambda: chat.inline(query), query)
        elif kind == "edited":
            text = self.command() if rng.random() < 0.4 else self.text()
            edited = self._message(sender, text=text, edit_date=int(time.time()))
            if text.startswith("/"):
                length = len(text.split(maxsplit=1)[0])
                edited["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
            await self.deliver(sender, kind, lambda: chat.feed({"edited_message": edited}), text)
        elif kind == "document":
            name = rng.choice([*HOSTILE[:30], "deals.csv", "deals.xlsx", "../../etc/passwd"])
            document = {
                "file_id": f"f{rng.randint(1, 10**6)}", "file_unique_id": "u1",
                "file_name": name or "x", "mime_type": rng.choice(["text/csv", "application/pdf"]),
                "file_size": rng.choice([0, 10, 10**9]),
            }  # fmt: skip
            content: dict[str, Any] = {"document": document}
            if rng.random() < 0.5:
                content["caption"] = (self.command() if rng.random() < 0.3 else self.text())[:1024]
            payload = self._message(sender, **content)
            await self.deliver(sender, kind, lambda: chat.feed({"message": payload}), name)
        elif kind == "media":
            await self.media(sender)
        elif kind == "invite":
            await self.join()
        else:
            await self.group(sender)

    async def join(self) -> None:
        """Someone with a hostile name opens a real invite link, and talks from then on."""
        rng, people, core = self.rng, self.world.people, self.harness.core
        inviter = people[rng.choice(["admin", "north_lead", "south_lead"])]
        if inviter.is_admin:
            role = rng.choice(list(Role))
            # made through the service, as the bot's own /invite makes them (a typed team's
            # name reaches the service through the bot, with the rest of the fuzz)
            team = None if role is Role.ADMIN else rng.choice([NORTH, SOUTH, *TEAM_NAMES])
            invite = await core.people.create_invite(inviter, role, team_name=team)
        else:
            invite = await core.people.create_invite(inviter, Role.MANAGER)
        self.next_user_id += 1
        name = (rng.choice(HOSTILE) or _random_text(rng))[:64] or "x"
        language = rng.choice(["ru", "en", "de", None])
        chat = self.harness.client(self.next_user_id, language=language, name=name)
        if rng.random() < 0.5:
            chat.user["last_name"] = _random_text(rng)[:64]
        sender = Sender(f"joined {name[:20]!r}", chat, True, "ru", 3)
        text = f"/start {invite.token}"
        await self.deliver(sender, "invite", lambda: chat.send(text), f"{text} as {name!r}")
        if len(self.senders) < 20:
            self.senders.append(sender)

    async def media(self, sender: Sender) -> None:
        what = self.rng.choice(MEDIA)
        file = {"file_id": "m1", "file_unique_id": "m1"}
        content: dict[str, Any] = {
            "sticker": {"sticker": {**file, "width": 1, "height": 1, "is_animated": False,
                                    "is_video": False, "type": "regular"}},
            "photo": {"photo": [{**file, "width": 1, "height": 1}], "caption": self.text()[:1024]},
            "location": {"location": {"latitude": 55.7, "longitude": 37.6}},
            "contact": {"contact": {"phone_number": "1", "first_name": self.text()[:64] or "-"}},
            "voice": {"voice": {**file, "duration": 1}},
        }[what]  # fmt: skip
        payload = self._message(sender, **content)
        await self.deliver(sender, "media", lambda: sender.chat.feed({"message": payload}), what)

    async def group(self, sender: Sender) -> None:
        chat = sender.chat
        group = {"id": -1_000_000 - self.rng.randint(0, 3), "type": "group", "title": "Группа"}
        if self.rng.random() < 0.5:
            text = self.command()
            payload = {**self._message(sender, text=text), "chat": group}
            await self.deliver(sender, "group", lambda: chat.feed({"message": payload}), text)
            return
        member = {
            "chat": group, "from": chat.user, "date": int(time.time()),
            "old_chat_member": {"status": "left", "user": BOT_USER},
            "new_chat_member": {"status": "member", "user": BOT_USER},
        }  # fmt: skip
        await self.deliver(sender, "group", lambda: chat.feed({"my_chat_member": member}), "added")

    async def deliver(
        self, sender: Sender, kind: str, send: Callable[[], Any], shown: str = ""
    ) -> None:
        """Send one update and check everything the bot did in answer."""
        request = self.harness.request
        before, sent_before = len(request.calls), len(request.outbox)
        with _errors_logged() as errors:
            await send()
        made = request.calls[before:]
        self._learn(request.outbox[sent_before:])
        self.run.kinds[kind] += 1
        example = f"{kind} from {sender.key}: {shown[:300]!r}"
        for record in errors.records:
            signature, text = _logged(record)
            self.run.problem(signature, f"{example}: {text}")
        for call in made:
            for problem in telegram_rules.problems(call):
                sent = str(call.params.get("text") or call.params.get("caption") or "")
                self.run.problem(
                    problem.split(":")[0] + ": " + _shape(problem),
                    f"{example[:100]} → {problem} in {sent[:160]!r}",
                )
        answers = sum(call.method == "answerCallbackQuery" for call in made)
        if answers > 1:
            self.run.problem(f"a press answered {answers} times", example)
        if not sender.member:
            for call in made:
                if not _stranger_may_get(call, sender, kind, shown):
                    self.run.problem(f"a {sender.key} got {call.method}", f"{example} → {call}")


def _shape(problem: str) -> str:
    """A problem without its numbers and quotes, to group the same problem together."""
    head = problem.split(":", 1)[-1]
    return "".join("#" if char.isdigit() else char for char in head.split("'")[0])[:100]


def _stranger_may_get(call: ApiCall, sender: Sender, kind: str, shown: str) -> bool:
    t = catalog(sender.language)
    refusal = t("common.refusal", company=COMPANY)
    params = call.params
    if call.method == "answerInlineQuery":
        return params.get("results") in ([], "[]")
    if call.method == "answerCallbackQuery":
        return params.get("text") == refusal[:200]
    if call.method != "sendMessage" or int(params["chat_id"]) != sender.chat.user_id:
        return False
    words = clean_text(shown).split()  # as the bot reads it: a NUL is a space there
    invite_start = kind == "command" and shown.startswith("/start ") and len(words) == 2
    invite_answers = {t(key) for key in ("invite.malformed", "invite.unknown", "invite.used",
                                          "invite.expired")}  # fmt: skip
    return params.get("text") == refusal or (invite_start and params.get("text") in invite_answers)


@pytest.fixture
async def fuzz_harness(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> AsyncIterator[Harness]:
    core = build_core(make_settings(tmp_path, database_url), clock=clock)
    await core.load_content()
    harness = Harness(core)
    await harness.app.initialize()
    try:
        yield harness
    finally:
        await harness.app.shutdown()
        await core.close()


async def test_random_updates_never_break_the_bot(
    fuzz_harness: Harness, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    backend = "sqlite" if database_url.startswith("sqlite") else "postgres"
    world = await build_world(fuzz_harness)
    run = Run()
    fuzzer = Fuzzer(world, random.Random(SEED), run)
    while sum(run.kinds.values()) < UPDATES[backend] * SCALE:
        await fuzzer.one()
    with capsys.disabled():
        print(f"\nfuzz on {backend}: {run.report()}")
    assert len(run.kinds) >= 10  # every kind was sent
    assert run.problems == {}, run.report()
