"""An outsider's first hour with deals (issue 12): amounts, dates, notes, closed deals, losses.

Each test is the session that went wrong, replayed through the real Application offline.
"""

from bot.common.i18n import catalog
from tests.conftest import Harness

ru = catalog("ru")
en = catalog("en")


async def test_abbreviated_next_week_words_are_read_as_the_words_they_stand_for(
    harness: Harness,
) -> None:
    _, anna = await harness.person()
    await anna.send("/new Ромашка")
    await anna.send("ромашка дальше")
    replies = await anna.send("в след. вторник демо")
    assert replies[-1].text == "📅 Ромашка: демо — вт 01.12 10:00"
    await anna.send("ромашка дальше")
    replies = await anna.send("на след. неделе презентация")
    assert replies[-1].text == "📅 Ромашка: презентация — пн 07.12 10:00"
    await anna.send("ромашка дальше")
    replies = await anna.send("в эту пятницу созвон")
    assert replies[-1].text == "📅 Ромашка: созвон — пт 04.12 10:00"


async def test_an_unreadable_abbreviation_is_still_asked_again(harness: Harness) -> None:
    _, anna = await harness.person()
    await anna.send("/new Ромашка")
    await anna.send("ромашка дальше")
    replies = await anna.send("след. демо")
    assert replies[-1].text == f"{ru('next_step.not_understood')}\n{ru('common.leave_hint')}"
