"""`voronka chat` as a whole team: lines typed into TerminalChat, and what it prints."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.common.i18n import catalog
from bot.container import Core
from bot.people.service import Role
from bot.tg.plain import plain
from bot.tg.terminal import TerminalChat

BUTTON = re.compile(r"\[(\d+)\] ((?:(?!   \[\d+\] ).)+)")
LINK = re.compile(r"https://t\.me/\S+\?start=\S+")


class Terminal:
    """The terminal as someone sitting at it: types a line, reads what appeared."""

    def __init__(self, chat: TerminalChat, screen: list[str]) -> None:
        self.chat = chat
        self.screen = screen

    async def type(self, line: str) -> str:
        before = len(self.screen)
        await self.chat.handle(line)
        return "\n".join(self.screen[before:])

    def number(self, label: str) -> str:
        """The number printed before a button, in the newest line that shows it numbered."""
        for line in reversed(self.screen):
            for number, text in BUTTON.findall(line):
                if label in text:
                    return str(number)
        raise LookupError(f"no numbered button {label!r} on the screen")

    async def press(self, label: str) -> str:
        return await self.type(self.number(label))


@pytest.fixture
async def team(core: Core) -> Core:
    await core.load_content()
    await core.people.ensure_person(11, "Лида", Role.LEAD, "Продажи", "ru")
    await core.people.ensure_person(12, "Анна", Role.MANAGER, "Продажи", "ru")
    await core.people.ensure_person(13, "Ольга", Role.ADMIN, None, "ru")
    await core.people.ensure_person(21, "Linda", Role.LEAD, "Sales", "en")
    await core.people.ensure_person(22, "Andy", Role.MANAGER, "Sales", "en")
    return core


async def _terminal(
    core: Core, tmp_path: Path, user_id: int, name: str, language: str
) -> AsyncIterator[Terminal]:
    screen: list[str] = []
    chat = TerminalChat(
        core,
        user_id=user_id,
        name=name,
        language=language,
        files_dir=tmp_path / "files",
        write=screen.append,
    )
    async with chat:
        yield Terminal(chat, screen)


@pytest.fixture
async def anna(team: Core, tmp_path: Path) -> AsyncIterator[Terminal]:
    async for terminal in _terminal(team, tmp_path, 12, "Анна", "ru"):
        yield terminal


@pytest.fixture
async def andy(team: Core, tmp_path: Path) -> AsyncIterator[Terminal]:
    async for terminal in _terminal(team, tmp_path, 22, "Andy", "en"):
        yield terminal


@pytest.mark.parametrize(
    ("language", "me", "lead", "question", "answer"),
    [
        ("ru", "Анна", "Лида", "как оформить отпуск за свой счёт", "Заявление в кадры, за 3 дня."),
        ("en", "Andy", "Linda", "how do I take unpaid leave", "File it on the HR portal."),
    ],
)
async def test_a_manager_asks_the_lead_and_reads_the_answer_after_switching_back(
    team: Core,
    tmp_path: Path,
    language: str,
    me: str,
    lead: str,
    question: str,
    answer: str,
) -> None:
    t = catalog(language)
    user_id = 12 if language == "ru" else 22
    async for terminal in _terminal(team, tmp_path, user_id, me, language):
        found = await terminal.type(question)
        assert plain(t("kb.not_found")) in found
        asked = await terminal.press(t("kb.ask_lead"))
        assert plain(t("kb.sent_to_lead", names=lead)) in asked
        team_name = "Продажи" if language == "ru" else "Sales"
        to_lead = t("terminal.to", name=lead, role=t("roles.lead"), team=team_name)
        assert to_lead in asked  # the lead's message appears at once, marked whose it is
        assert asked.index(to_lead) < asked.index(question)
        switched = await terminal.type(f"/as {lead.lower()}")
        assert t("terminal.now", name=lead, role=t("roles.lead"), team=team_name) in switched
        assert question in switched  # where the lead's chat stands, with its buttons numbered
        assert plain(t("kb.answer_prompt")) in await terminal.press(t("kb.answer_button"))
        answered = await terminal.type(answer)
        assert plain(t("kb.answer_sent", name=me)) in answered
        to_me = t("terminal.to", name=me, role=t("roles.manager"), team=team_name)
        assert to_me in answered and answer in answered.split(to_me, 1)[1]
        back = await terminal.type(f"/as {me}")
        assert t("terminal.now", name=me, role=t("roles.manager"), team=team_name) in back
        assert answer in back
        assert terminal.chat.prompt == f"{me}> "


async def test_as_lists_people_by_number_and_never_reaches_the_bot(anna: Terminal) -> None:
    t = catalog("ru")
    calls = len(anna.chat.request.calls)
    listed = await anna.type("/as")
    assert t("terminal.people") in listed
    lines = listed.splitlines()
    assert "3. Анна — менеджер, Продажи ← вы" in lines
    assert "4. Лида — руководитель, Продажи" in lines
    assert "5. Ольга — администратор" in lines
    assert await anna.type("/as 9") == t("terminal.no_such_number", number=9, count=5)
    assert await anna.type("/as Борис") == t("terminal.nobody", name="Борис")
    assert await anna.type("/as л") == t("terminal.several", name="л", names="Лида, Ольга")
    assert await anna.type("/as new") == t("terminal.new_needs_name")
    assert anna.chat.request.calls[calls:] == []  # not one update went to the bot
    assert (await anna.type("/AS 4")).startswith(
        t("terminal.now", name="Лида", role="руководитель", team="Продажи")
    )
    assert anna.chat.prompt == "Лида> "


async def test_a_deactivated_person_can_be_played_and_is_refused(
    team: Core, anna: Terminal
) -> None:
    admin = await team.people.identify(13, "Ольга")
    assert admin is not None
    andy = next(p for p in await team.people.everyone() if p.name == "Andy")
    await team.people.set_active(admin, andy.id, False)
    assert "1. Andy — менеджер, Sales (доступ отключён)" in (await anna.type("/as")).splitlines()
    await anna.type("/as andy")
    refused = await anna.type("/help")  # in Andy's language: the bot knows only him
    assert plain(catalog("en")("common.refusal", company=team.settings.company_name)) in refused


async def test_a_bare_number_is_text_when_the_last_message_has_no_buttons(anna: Terminal) -> None:
    t = catalog("ru")
    helped = await anna.type("/help")
    assert "[1]" not in helped
    typed = await anna.type("1")
    assert typed.splitlines()[0] == t("terminal.number_as_text", number="1")
    assert len(typed.splitlines()) > 1  # and the bot answered it as a message


async def test_a_number_out_of_range_says_how_many_buttons_there_are(anna: Terminal) -> None:
    await anna.type("/new Ромашка")  # the new deal's card, with its buttons
    shown = await anna.type("99")
    count = int(shown.split(":")[1].split()[-2])
    assert 0 < count < 99
    assert shown == catalog("ru")("terminal.no_button", number=99, count=count)


async def test_the_leads_buttons_cannot_be_pressed_as_the_manager(anna: Terminal) -> None:
    t = catalog("ru")
    await anna.type("как оформить отпуск за свой счёт")
    asked = await anna.press(t("kb.ask_lead"))
    assert "[1] " + t("kb.answer_button") in asked  # shown numbered under «→ Лида»
    typed = await anna.type("1")  # Анна's own last message has no buttons: text, not a press
    assert typed.splitlines()[0] == t("terminal.number_as_text", number="1")
    assert plain(t("kb.answer_prompt")) not in typed
    lead_chat = await anna.type("/as Лида")
    assert "как оформить отпуск за свой счёт" in lead_chat
    assert plain(t("kb.answer_prompt")) in await anna.type("1")


@pytest.mark.parametrize("language", ["ru", "en"])
async def test_a_newcomer_joins_by_pasting_the_invite_link(
    team: Core, tmp_path: Path, language: str
) -> None:
    t = catalog(language)
    async for terminal in _terminal(team, tmp_path, 13, "Ольга", language):
        await terminal.type("/invite")
        await terminal.press(t("roles.manager"))
        await terminal.press(t("invite.new_team"))
        made = await terminal.type("Урал")
        match = LINK.search(made)
        assert match is not None
        link = match.group(0)
        new = await terminal.type("/as new Пётр Иванов")
        assert new.startswith(t("terminal.now_new", name="Пётр Иванов", id=23))
        refused = await terminal.type("привет")  # the bot does not know him yet
        assert plain(t("common.refusal", company=team.settings.company_name)) in refused
        joined = await terminal.type(link)
        command = "/start " + link.rsplit("=", 1)[1]
        assert joined.splitlines()[0] == t("terminal.following_link", command=command)
        greeting = t("start.registered", name="Пётр Иванов", role=t("roles.manager"), team="Урал")
        assert plain(greeting) in joined
        assert f"— {t('roles.manager')}, Урал ← " in await terminal.type("/as")
        await terminal.type("/as new Вера --lang en")
        again = await terminal.type(link)
        assert plain(catalog("en")("invite.used")) in again
        # The terminal's own lines follow whoever types now, not the session's --lang.
        assert again.splitlines()[0] == catalog("en")("terminal.following_link", command=command)


@pytest.mark.parametrize(
    ("language", "me", "lead", "user_id"), [("ru", "Анна", "Лида", 12), ("en", "Andy", "Linda", 22)]
)
async def test_an_offer_above_the_limit_is_approved_by_switching_to_the_lead(
    team: Core, tmp_path: Path, language: str, me: str, lead: str, user_id: int
) -> None:
    t = catalog(language)
    async for terminal in _terminal(team, tmp_path, user_id, me, language):
        await terminal.type("/new Ромашка, 500 000")
        await terminal.press(t("offer.button"))
        await terminal.press(t("offer.add_item"))
        await terminal.type("VS-PR-2700-3")  # an exact SKU picks its item at once
        await terminal.type("10")
        await terminal.press(t("offer.discount_button"))
        await terminal.type("11")
        await terminal.press(t("offer.preview_button"))
        sent = await terminal.press(t("offer.generate"))
        assert plain(t("offer.sent_for_approval", names=lead)) in sent
        assert "→ " + lead in sent
        assert "📎" not in sent
        typed = await terminal.type("1")  # not the lead's «Approve»: the manager has no buttons
        assert typed.splitlines()[0] == t("terminal.number_as_text", number="1")
        await terminal.type(f"/as {lead}")
        approved = await terminal.press(t("offer.approve"))
        assert plain(t("offer.approved_lead", name=me)) in approved
        to_me = approved.split("→ " + me, 1)[1]
        assert "📎" in to_me and (tmp_path / "files").is_dir()
        assert sorted(p.suffix for p in (tmp_path / "files").iterdir()) == [".docx", ".pdf"]
