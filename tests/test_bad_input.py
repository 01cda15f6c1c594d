"""Bad input never raises: each gets a clear answer and no ERROR line in the log.

Found by the fuzzer (tests/test_fuzz.py) and by hand: button data that is not the bot's
(`dv:`, `dn:1`, `tr:5:boss`) raised ValueError and IndexError; periods at the ends of the
calendar (`/stats 9999-12-31`, `/export 0001-01-01`) an OverflowError; ids of 2^31 and
2^63 in buttons overflowed SQLite's integers and PostgreSQL's (DBAPIError); a NUL in a
note or a title made PostgreSQL refuse the statement after the person was told nothing.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.common.clock import FrozenClock
from bot.common.i18n import catalog
from bot.container import build_core
from bot.people.service import Role
from tests.conftest import Harness, make_settings

ru = catalog("ru")


@pytest.fixture
async def bot(tmp_path: Path, database_url: str, clock: FrozenClock) -> AsyncIterator[Harness]:
    """The bot on each database."""
    core = build_core(make_settings(tmp_path, database_url), clock=clock)
    await core.load_content()
    harness = Harness(core)
    await harness.app.initialize()
    try:
        yield harness
    finally:
        await harness.app.shutdown()
        await core.close()


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "data",
    [
        "dv", "dv:", "dv:abc", "dv:1.5", "dv:-1", "dv:²", "dv:١", "dn:1", "dm:1", "dr:1:price",
        "dz", "dz:0:x", "tp:", "tr:1:boss", "ot:1:color", "kq:0x10", "kb:objection:²",
        f"dv:{2**31}", f"dv:{2**63}", f"dn:{2**63}:1", f"du:{2**64}", f"pf:{2**63 - 1}",
        f"oy:{'9' * 30}", f"dq:1:{2**31 - 1}", "st:1:9999-12-31",
    ],
)  # fmt: skip
async def test_button_data_that_is_not_the_bots_says_the_button_is_stale(
    bot: Harness, data: str, caplog: pytest.LogCaptureFixture
) -> None:
    _, lead = await bot.person(Role.LEAD, name="Лида")
    _, anna = await bot.person(name="Анна")
    await anna.send("/new Ромашка")
    message = (await lead.send("/help"))[-1]
    replies = await lead.press(message, data)
    assert [reply.text for reply in replies] in (
        [ru("common.expired_button")],
        [ru("stats.period_out_of_range", value="9999-12-31", first=2000, last=2099)],
        [ru("next_step.too_far", years=10)],  # a next step in 2^31 days, on a deal one may see
    )
    assert _errors(caplog) == []


@pytest.mark.parametrize("command", ["/stats", "/export", "/leaderboard"])
@pytest.mark.parametrize("period", ["9999-12-31", "0001-01-01", "9999-12", "0001-01", "1999-12"])
async def test_periods_past_the_years_of_reports_are_refused_with_the_range(
    bot: Harness, command: str, period: str, caplog: pytest.LogCaptureFixture
) -> None:
    _, lead = await bot.person(Role.LEAD)
    replies = await lead.send(f"{command} {period}")
    assert [reply.text for reply in replies] == [
        ru("stats.period_out_of_range", value=period, first=2000, last=2099)
    ]
    assert _errors(caplog) == []


async def test_a_nul_in_text_is_a_space_and_is_saved(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    person, anna = await bot.person()
    created = await anna.send("/new Ромашка\x00Плюс")
    assert "Ромашка Плюс" in created[0].text
    (deal,) = await bot.core.deals.refs(person)
    assert deal.title == "Ромашка Плюс"
    replies = await anna.send("Ромашка: звонил\x00\x07 перезвонить")
    assert replies[-1].text == ru("deal.note_saved", title="Ромашка Плюс")
    card = await bot.core.deals.card(person, deal.id)
    assert card.notes[0].text == "звонил перезвонить"
    assert _errors(caplog) == []


async def test_a_next_step_too_far_ahead_is_refused(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    _, anna = await bot.person()
    await anna.send("/new Ромашка")
    await anna.click("Ромашка", (await anna.send("/deals"))[-1])
    await anna.click("📅 Шаг")
    for text in ("через 9999999999999 часов", "через 5000 недель", "2999-01-01 10:00 звонок"):
        replies = await anna.send(text)
        too_far = f"{ru('next_step.too_far', years=10)}\n{ru('common.leave_hint')}"
        assert [reply.text for reply in replies] == [too_far], text
    assert _errors(caplog) == []
