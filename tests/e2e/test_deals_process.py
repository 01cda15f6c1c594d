"""Deals through the real `voronka run` process and the Bot API stand-in."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.bot_api_standin import BotApiStandin
from tests.e2e.conftest import BotProcess
from tests.e2e.test_bot_process import say

pytestmark = pytest.mark.e2e

ANNA, BORIS = 7001, 7002


def test_create_move_undo_lose_and_another_manager_refused(
    standin: BotApiStandin, bot_process: BotProcess
) -> None:
    anna_invite = bot_process.invite("manager", team="Урал")
    boris_invite = bot_process.invite("manager", team="Урал")
    bot_process.start()
    say(standin, ANNA, f"/start {anna_invite['token']}", replies=2)
    say(standin, BORIS, f"/start {boris_invite['token']}", replies=2)

    created = say(standin, ANNA, "/new Ромашка, 150 000, Иван Петров", replies=2)
    assert created.startswith("✨ Сделка создана: Ромашка, 150\u00a0000\u00a0₽")

    before = standin.sent_count(ANNA)
    moved = say(standin, ANNA, "ромашку в переговоры")
    assert moved.split("\n\n")[0] == "Ромашка: Новый лид → Переговоры"
    confirmation = standin.sent(ANNA)[before]["message_id"]
    before = standin.sent_count(ANNA)
    standin.click_button(ANNA, "↩ Отменить", message_id=confirmation)
    undone = standin.wait_for_reply(ANNA, after=before)
    assert str(undone["text"]).startswith("↩ Отменено: Ромашка снова на этапе «Новый лид»")

    assert say(standin, ANNA, "Ромашка → проиграна") == "Почему «Ромашка» проиграна?"
    before = standin.sent_count(ANNA)
    standin.click_button(ANNA, "Цена")
    standin.wait_for_reply(ANNA, after=before)
    lost = standin.sent(ANNA)[before]
    assert str(lost["text"]).startswith("Ромашка закрыта как проигранная: Цена.")

    refused = say(standin, BORIS, "Ромашка → договор")
    assert refused.startswith("Не нашёл сделку «Ромашка» среди ваших")
    log = bot_process.stop()
    assert "handler=on_text outcome=ok" in log
    assert standin.unknown_methods == []


def test_an_invalid_funnel_file_stops_the_start(bot_process: BotProcess, tmp_path: Path) -> None:
    funnel = tmp_path / "funnel.yaml"
    funnel.write_text("funnels:\n  - key: B2B\n", encoding="utf-8")
    bot_process.env["VORONKA_FUNNEL_FILE"] = str(funnel)
    result = bot_process.cli("run", check=False)
    assert result.returncode == 2
    assert "funnel #1, field 'key'" in result.stderr
