"""A dialog begun before `voronka run` is killed goes on after it starts again."""

from __future__ import annotations

import pytest

from bot.common.i18n import catalog
from tests.e2e.bot_api_standin import BotApiStandin
from tests.e2e.conftest import BotProcess
from tests.e2e.test_bot_process import say

pytestmark = pytest.mark.e2e

ru = catalog("ru")
ANNA = 7101


def click(standin: BotApiStandin, user_id: int, label: str) -> str:
    """Press the first button whose label contains `label` on the latest keyboard, and
    wait for the message it sends or edits; returns that text."""
    shown = next(r for r in reversed(standin.sent(user_id)) if r["reply_markup"])
    markup = shown["reply_markup"] or {}
    labels = [b["text"] for row in markup["inline_keyboard"] for b in row]
    before = standin.sent_count(user_id)
    matching = [text for text in labels if label in text]
    assert matching, f"no button {label!r} among {labels}"
    standin.click_button(user_id, matching[0])
    return str(standin.wait_for_reply(user_id, after=before, timeout=20)["text"])


def test_new_deal_offer_builder_and_win_amount_survive_kill_9(
    standin: BotApiStandin, bot_process: BotProcess
) -> None:
    invite = bot_process.invite("manager", team="Урал")
    bot_process.start()
    say(standin, ANNA, f"/start {invite['token']}", replies=2)

    # /new, killed after each answer
    assert say(standin, ANNA, "/new") == ru("deal.new_title")
    assert say(standin, ANNA, "Ромашка") == ru("deal.new_client")
    bot_process.restart()
    assert say(standin, ANNA, "ООО Ромашка, Иван Петров") == ru("deal.new_amount")
    bot_process.restart()
    assert say(standin, ANNA, "500 000") == ru("deal.new_next_step")
    bot_process.restart()
    created = say(standin, ANNA, "позвонить завтра в 11", replies=2)
    assert created.startswith("✨ Сделка создана: Ромашка, 500\u00a0000\u00a0₽")

    # the offer builder: a catalog line chosen, killed before its quantity
    click(standin, ANNA, "📄 КП")
    click(standin, ANNA, "➕ Товар")
    say(standin, ANNA, "VS-PR-2700-3")  # an exact SKU: the quantity is asked at once
    bot_process.restart()
    say(standin, ANNA, "10")
    preview = click(standin, ANNA, "👁 Предпросмотр")
    assert "Стеллаж паллетный" in preview

    # the final amount of a win, killed while the bot waits for it
    say(standin, ANNA, "/deals")
    click(standin, ANNA, "Ромашка")
    click(standin, ANNA, "✅ Выиграна")
    assert click(standin, ANNA, "Другая сумма") == ru("deal.amount_prompt", title="Ромашка")
    bot_process.restart()
    won = say(standin, ANNA, "450 000")
    assert won.startswith("🏆 Ромашка выиграна — 450\u00a0000\u00a0₽")
    assert standin.unknown_methods == []
