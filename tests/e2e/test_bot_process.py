"""The real `voronka` process against the Bot API stand-in on 127.0.0.1."""

from __future__ import annotations

import pytest

from bot.common.i18n import catalog
from tests.e2e.bot_api_standin import BotApiStandin
from tests.e2e.conftest import TOKEN, BotProcess

pytestmark = pytest.mark.e2e

ru = catalog("ru")
en = catalog("en")


def say(
    standin: BotApiStandin, user_id: int, text: str, language: str = "ru", replies: int = 1
) -> str:
    """Send a message and wait for `replies` answers; returns the first one's text."""
    before = standin.sent_count(user_id)
    standin.send_message(user_id, text, first_name=f"U{user_id}", language_code=language)
    standin.wait_for_reply(user_id, after=before + replies - 1, timeout=20)
    return str(standin.sent(user_id)[before]["text"])


def test_invite_link_registers_once_then_help_and_strangers_refused(
    standin: BotApiStandin, bot_process: BotProcess
) -> None:
    invite = bot_process.invite("admin")
    assert invite["link"] == f"https://t.me/voronka_test_bot?start={invite['token']}"
    assert invite["role"] == "admin" and invite["team"] is None and invite["expires_at"]

    bot_process.start()
    methods = [name for name, _ in standin.calls]
    assert "setMyCommands" in methods
    assert methods.index("setMyCommands") < methods.index("getUpdates")
    assert standin.commands_for("default", "ru") is not None
    assert standin.commands_for("default", "en") is not None

    welcome = say(standin, 5001, f"/start {invite['token']}", replies=2)
    assert welcome.startswith("Добро пожаловать, U5001! Вы зарегистрированы как администратор")
    assert "Что я умею" in say(standin, 5001, "/help")

    refusal = ru("common.refusal", company="Вектор Склад")
    assert say(standin, 5002, "/help") == refusal
    assert say(standin, 5003, "hello", language="en") == en(
        "common.refusal", company="Вектор Склад"
    )
    assert say(standin, 5004, f"/start {invite['token']}") == ru("invite.used")

    log = bot_process.stop()
    assert standin.unknown_methods == []
    assert TOKEN not in log
    assert "handler=start outcome=ok" in log
    assert "/help" not in log  # no message text at INFO


def test_an_admin_invites_a_manager_from_the_bot(
    standin: BotApiStandin, bot_process: BotProcess
) -> None:
    admin = bot_process.invite("admin")
    bot_process.start()
    say(standin, 6001, f"/start {admin['token']}", replies=2)
    say(standin, 6001, "/invite")
    before = standin.sent_count(6001)
    standin.click_button(6001, "менеджер")
    standin.wait_for_reply(6001, after=before)
    before = standin.sent_count(6001)
    standin.click_button(6001, "➕ Новая команда")
    standin.wait_for_reply(6001, after=before)
    link = say(standin, 6001, "Урал")
    token = link.split("?start=")[1].split()[0]
    greeting = say(standin, 6002, f"/start {token}", replies=2)
    assert "менеджер в команде «Урал»" in greeting


def test_run_without_a_token_explains_itself(bot_process: BotProcess) -> None:
    bot_process.env.pop("VORONKA_BOT_TOKEN")
    result = bot_process.cli("run", check=False)
    assert result.returncode == 2
    assert "@BotFather" in result.stderr and "voronka chat" in result.stderr


def test_an_invalid_setting_stops_the_start_naming_it(bot_process: BotProcess) -> None:
    bot_process.env["VORONKA_TIMEZONE"] = "Europe/Atlantis"
    result = bot_process.cli("run", check=False)
    assert result.returncode == 2
    assert "VORONKA_TIMEZONE: unknown time zone" in result.stderr
    assert "Traceback" not in result.stderr
