"""Invites, registration and the team roster through the real Application."""

import logging

import pytest

from bot.common.clock import FrozenClock
from bot.common.i18n import catalog
from bot.people.service import Role
from bot.tg.app import register_commands
from tests.conftest import Harness

ru = catalog("ru")
en = catalog("en")


def _token(text: str) -> str:
    return text.split("?start=")[1].split()[0]


async def test_an_admin_invites_a_manager_into_a_new_team(harness: Harness) -> None:
    _, admin = await harness.person(Role.ADMIN)
    assert admin.last_reply  # nothing sent yet is fine
    await admin.send("/invite")
    await admin.click("менеджер")
    await admin.click("Новая команда")
    link_message = (await admin.send("Урал"))[-1]
    assert "https://t.me/voronka_bot?start=" in link_message.text
    assert "команда «Урал»" in link_message.text

    newcomer = harness.client(9001, name="Анна")
    replies = await newcomer.send(f"/start {_token(link_message.text)}")
    assert replies[0].text.startswith("Добро пожаловать, Анна! Вы зарегистрированы как менеджер")
    assert "/help" in replies[1].text
    person = await harness.core.people.identify(9001, "Анна")
    assert person is not None and person.team_name == "Урал"


async def test_an_admin_picks_an_existing_team(harness: Harness) -> None:
    await harness.core.people.create_team(None, "Сибирь")
    _, admin = await harness.person(Role.ADMIN)
    await admin.send("/invite")
    await admin.click("руководитель")
    reply = (await admin.click("Сибирь"))[-1]
    assert "руководитель, команда «Сибирь»" in reply.text


async def test_a_used_link_is_refused_for_the_next_person(harness: Harness) -> None:
    _, lead = await harness.person(Role.LEAD, team="Урал")
    link = (await lead.send("/invite"))[-1].text
    await harness.client(9001).send(f"/start {_token(link)}")
    replies = await harness.client(9002).send(f"/start {_token(link)}")
    assert [r.text for r in replies] == [ru("invite.used")]
    assert await harness.core.people.identify(9002, "x") is None


async def test_an_expired_link_is_refused(harness: Harness, clock: FrozenClock) -> None:
    _, lead = await harness.person(Role.LEAD, team="Урал")
    link = (await lead.send("/invite"))[-1].text
    clock.advance(days=8)
    replies = await harness.client(9001, language="en").send(f"/start {_token(link)}")
    assert [r.text for r in replies] == [en("invite.expired")]


async def test_a_malformed_token_is_refused(harness: Harness) -> None:
    replies = await harness.client(9001).send("/start ../../etc/passwd")
    assert [r.text for r in replies] == [ru("invite.malformed")]


async def test_a_new_team_name_that_is_too_long_is_asked_again(harness: Harness) -> None:
    _, admin = await harness.person(Role.ADMIN)
    await admin.send("/invite")
    await admin.click("менеджер")
    await admin.click("Новая команда")
    replies = await admin.send("Я" * 150)
    assert [r.text for r in replies] == [
        f"{ru('team.bad_name', limit=100)}\n{ru('common.leave_hint')}"
    ]
    replies = await admin.send("Урал")
    assert "команда «Урал»" in replies[-1].text


async def test_cancel_leaves_the_invite_dialog(harness: Harness) -> None:
    _, admin = await harness.person(Role.ADMIN)
    await admin.send("/invite")
    await admin.click("менеджер")
    await admin.click("Новая команда")
    assert (await admin.send("/cancel"))[-1].text == ru("common.cancelled")
    assert (await admin.send("Урал"))[-1].text == ru("kb.not_found_alone")  # a question now


async def test_an_admin_deactivates_a_manager_from_the_roster(harness: Harness) -> None:
    _, admin = await harness.person(Role.ADMIN)
    _, manager_chat = await harness.person(Role.MANAGER, team="Урал", name="Борис")
    await admin.send("/team")
    await admin.click("Борис")
    await admin.click("Отключить")
    reply = (await admin.click("Да"))[-1]
    assert reply.text.startswith("Борис: доступ отключён")
    refusal = ru("common.refusal", company="Вектор Склад")
    assert [r.text for r in await manager_chat.send("/help")] == [refusal]


async def test_an_admin_changes_a_role_and_a_team(harness: Harness) -> None:
    await harness.core.people.create_team(None, "Сибирь")
    _, admin = await harness.person(Role.ADMIN)
    await harness.person(Role.MANAGER, team="Урал", name="Борис")
    await admin.send("/team")
    await admin.click("Борис")
    await admin.click("Сменить роль")
    assert (await admin.click("руководитель"))[-1].text.startswith("Борис: теперь руководитель")
    await admin.click("Сменить команду")
    assert "теперь в команде «Сибирь»" in (await admin.click("Сибирь"))[-1].text


async def test_a_lead_sees_the_team_without_management_buttons(harness: Harness) -> None:
    _, lead = await harness.person(Role.LEAD, team="Урал", name="Лида")
    await harness.person(Role.MANAGER, team="Урал", name="Борис")
    await harness.person(Role.MANAGER, team="Сибирь", name="Чужой")
    reply = (await lead.send("/team"))[-1]
    assert "Борис — менеджер" in reply.text and "Чужой" not in reply.text
    assert reply.buttons == []


async def test_names_with_markup_are_shown_literally(harness: Harness) -> None:
    _, admin = await harness.person(Role.ADMIN)
    await harness.person(Role.MANAGER, team="Урал", name="<b>Боб</b> & Co")
    reply = (await admin.send("/team"))[-1]
    assert "&lt;b&gt;Боб&lt;/b&gt; &amp; Co" in reply.text


async def test_help_in_english_for_an_english_speaker(harness: Harness) -> None:
    _, lead = await harness.person(Role.LEAD, team="Урал", language="en")
    text = (await lead.send("/help"))[-1].text
    assert text.startswith("<b>What I can do</b>")
    assert "/invite — invite a manager to your team" in text


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("😀😀😀", "common.no_meaning"),
        ("?!...", "common.no_meaning"),
        ("1", "common.no_meaning"),  # a number is not a question for the knowledge base
        ("12 345", "common.no_meaning"),
        ("/frobnicate", "common.unknown_command"),
        ("x" * 4096, "kb.not_found_alone"),  # nobody above this manager to ask
    ],
)
async def test_bad_input_gets_a_clear_answer(harness: Harness, text: str, key: str) -> None:
    _, chat = await harness.person(Role.MANAGER)
    replies = await chat.send(text)
    assert len(replies) == 1
    assert replies[0].text == ru(key, command="/frobnicate")


async def test_a_sticker_gets_told_what_works(harness: Harness) -> None:
    _, chat = await harness.person(Role.MANAGER)
    assert [r.text for r in await chat.send_sticker()] == [ru("common.not_text")]


async def test_commands_are_registered_in_russian_and_english(harness: Harness) -> None:
    await register_commands(harness.app)
    calls = harness.request.calls_of("setMyCommands")
    by_language = {c.params.get("language_code"): c.params["commands"] for c in calls}
    assert set(by_language) == {"ru", "en", None}
    assert {"command": "help", "description": "Что умеет бот"} in by_language["ru"]
    assert {"command": "help", "description": "What the bot can do"} in by_language["en"]
    assert by_language[None] == by_language["en"]


async def test_an_unexpected_error_is_apologised_for_and_logged(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _, chat = await harness.person(Role.LEAD, team="Урал")

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(harness.core.people, "teams", broken)
    with caplog.at_level(logging.ERROR):
        replies = await chat.send("/team")
    assert [r.text for r in replies] == [ru("common.error")]
    assert "database on fire" in caplog.text


async def test_one_log_line_per_update_without_the_text(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    person, chat = await harness.person(Role.MANAGER)
    with caplog.at_level(logging.INFO, logger="voronka.updates"):
        await chat.send("секретный текст клиента")
        await harness.stranger().send("/help")
    lines = [r.getMessage() for r in caplog.records if r.name == "voronka.updates"]
    assert len(lines) == 2
    assert f"user={person.telegram_id} handler=on_text outcome=not_found ms=" in lines[0]
    assert "handler=gate outcome=refused" in lines[1]
    assert "секретный" not in caplog.text
