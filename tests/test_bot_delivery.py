"""Each update handled at most once, edits never repeat an action, access fails closed, and
a committed action is confirmed rather than apologised for (issue 11, items 1-3)."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.common.clock import FrozenClock
from bot.common.errors import Unavailable
from bot.common.i18n import catalog
from bot.container import Core, build_core
from bot.db.models import Deal, Note, StageTransition
from bot.db.session import transaction
from bot.tg.offline import BotMessage, ChatClient
from tests.conftest import Harness, make_settings

ru = catalog("ru")
en = catalog("en")


async def _count(core: Core, model: type[Deal] | type[StageTransition] | type[Note]) -> int:
    async with transaction(core.db) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _stage(core: Core, title: str) -> str:
    async with transaction(core.db) as session:
        return str(await session.scalar(select(Deal.stage).where(Deal.title == title)))


@pytest.fixture
async def any_harness(any_core: Core) -> AsyncIterator[Harness]:
    """The bot on SQLite and on PostgreSQL: redeliveries are a matter for the database."""
    built = Harness(any_core)
    await any_core.load_content()
    await built.app.initialize()
    yield built
    await built.app.shutdown()


async def test_a_redelivered_move_moves_once_and_says_nothing(any_harness: Harness) -> None:
    _, anna = await any_harness.person()
    await anna.send("/new Фиалка")
    await anna.send("фиалка дальше")
    stage = await _stage(any_harness.core, "Фиалка")
    assert await anna.redeliver() == []
    assert await _stage(any_harness.core, "Фиалка") == stage
    assert await _count(any_harness.core, StageTransition) == 2  # created, then one move


async def test_a_redelivered_new_deal_makes_one_deal(any_harness: Harness) -> None:
    _, anna = await any_harness.person()
    await anna.send("/new Ромашка, 100 000")
    assert await anna.redeliver() == []
    assert await _count(any_harness.core, Deal) == 1


async def test_a_redelivered_question_is_not_answered_twice(harness: Harness) -> None:
    _, anna = await harness.person()
    assert await anna.send("/deals")
    assert await anna.redeliver() == []


async def test_an_update_that_failed_is_handled_when_it_comes_again(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing was committed, so the redelivery is the update's second chance."""
    _, anna = await harness.person()
    await anna.send("/new Фиалка")

    async def crash(*args: object, **kwargs: object) -> object:
        raise RuntimeError("the process died here")

    with monkeypatch.context() as patched:
        patched.setattr(harness.core.deals, "request_move", crash)
        assert [r.text for r in await anna.send("фиалка дальше")] == [ru("common.error")]
    before = await _stage(harness.core, "Фиалка")
    assert await anna.redeliver()
    assert await _stage(harness.core, "Фиалка") != before


@pytest.mark.parametrize("language", ["ru", "en"])
async def test_an_edited_message_changes_nothing(harness: Harness, language: str) -> None:
    _, anna = await harness.person(language=language)
    await anna.send("/new Фиалка")
    await anna.send("фиалка дальше")
    stage = await _stage(harness.core, "Фиалка")
    replies = await anna.edit("фиалка дальше!")
    assert [r.text for r in replies] == [catalog(language)("common.edit_ignored")]
    assert await _stage(harness.core, "Фиалка") == stage
    await anna.send("/new Ромашка")
    await anna.edit("/new Ромашка 2")
    await anna.send("ромашка: позвонили, ждут КП")
    await anna.edit("ромашка: позвонили, ждут КП завтра")
    assert (await _count(harness.core, Deal), await _count(harness.core, Note)) == (2, 1)


async def test_a_strangers_edit_gets_only_the_refusal(harness: Harness) -> None:
    stranger = harness.stranger()
    await stranger.send("привет")
    replies = await stranger.edit("привет!")
    assert [r.text for r in replies] == [ru("common.refusal", company="Вектор Склад")]


# --- access fails closed ------------------------------------------------------------------


@pytest.fixture
def outage(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Who is writing cannot be read: the database is down (people are not in memory)."""
    harness.core.people.forget()

    async def down(*args: object, **kwargs: object) -> None:
        raise Unavailable("connection refused")

    monkeypatch.setattr(harness.core.people, "identify", down)


@pytest.mark.parametrize("text", ["/kb", "/script", "/help", "клиент говорит дорого", "/deals"])
async def test_nobody_gets_past_the_gate_while_the_database_is_down(
    harness: Harness, outage: None, text: str
) -> None:
    stranger = harness.stranger()
    assert [r.text for r in await stranger.send(text)] == [ru("common.unavailable")]
    english = harness.stranger("en")
    assert [r.text for r in await english.send(text)] == [en("common.unavailable")]


async def test_buttons_and_inline_queries_reveal_nothing_while_down(
    harness: Harness, outage: None
) -> None:
    stranger = harness.stranger()
    assert (await stranger.inline("дорого"))[0].params["results"] == []
    before = len(harness.request.calls)
    await stranger.press(_a_message(stranger), "kb:0")
    calls = harness.request.calls[before:]
    assert [c.method for c in calls] == ["answerCallbackQuery"]
    assert calls[0].params["text"] == ru("common.unavailable")[:200]


def _a_message(chat: ChatClient) -> BotMessage:
    raw = {"message_id": 1, "date": 0, "chat": {"id": chat.user_id, "type": "private"}}
    return BotMessage(chat.user_id, 1, "", [], raw=raw)


# --- a committed action is confirmed --------------------------------------------------------


def _texts_sent(harness: Harness, since: int) -> list[str]:
    calls = harness.request.calls[since:]
    return [str(c.params.get("text")) for c in calls if c.method == "sendMessage"]


@pytest.mark.parametrize("status", [500, 429, 502])
async def test_a_move_whose_answer_fails_at_first_is_confirmed_once(
    harness: Harness, status: int
) -> None:
    _, anna = await harness.person()
    await anna.send("/new Фиалка")
    harness.request.fail("sendMessage", status, times=2)
    replies = await anna.send("фиалка дальше")
    assert await _count(harness.core, StageTransition) == 2
    assert replies and "Фиалка" in replies[0].text
    assert ru("common.error") not in [r.text for r in replies]


async def test_a_reply_that_timed_out_after_reaching_telegram_is_not_sent_again(
    harness: Harness,
) -> None:
    """Telegram carried out the send but its answer never came: a second send would show
    the person the same confirmation twice (found by an outsider: a stale copy came last)."""
    _, anna = await harness.person()
    await anna.send("/new Фиалка")
    before = len(harness.request.calls)
    harness.request.time_out("sendMessage", reached=True)
    await anna.send("фиалка дальше")
    assert await _count(harness.core, StageTransition) == 2
    moved = [text for text in _texts_sent(harness, before) if "Фиалка" in text]
    assert len(moved) == 1


async def test_a_reply_that_could_not_connect_is_sent_once_it_can(harness: Harness) -> None:
    _, anna = await harness.person()
    await anna.send("/new Фиалка")
    before = len(harness.request.calls)
    harness.request.time_out("sendMessage", reached=False)
    replies = await anna.send("фиалка дальше")
    assert await _count(harness.core, StageTransition) == 2
    assert [r.text for r in replies if "Фиалка" in r.text] == [replies[0].text]
    assert len([t for t in _texts_sent(harness, before) if "Фиалка" in t]) == 1


async def test_a_move_whose_answer_never_gets_through_is_not_apologised_for(
    harness: Harness,
) -> None:
    """Telegram refuses everything for a while: nothing asks to repeat a done move."""
    _, anna = await harness.person()
    await anna.send("/new Фиалка")
    before = len(harness.request.calls)
    harness.request.fail("sendMessage", 500, times=50)
    await anna.send("фиалка дальше")
    assert await _count(harness.core, StageTransition) == 2
    attempts = _texts_sent(harness, before)
    assert ru("common.error") not in attempts
    assert ru("common.done_unconfirmed") in attempts  # tried, once the answer itself failed
    harness.request.failures.clear()


async def test_an_answer_that_fails_before_anything_is_saved_asks_to_try_again(
    harness: Harness,
) -> None:
    _, anna = await harness.person()
    await anna.send("/new Фиалка")
    await anna.send("/help")  # a read: nothing is committed by the next /help either
    harness.request.fail("sendMessage", 500, times=1)
    replies = await anna.send("/help")
    assert [r.text for r in replies] == [ru("common.error")]


async def test_handled_updates_are_forgotten_after_two_days(
    any_core: Core, clock: FrozenClock
) -> None:
    await any_core.deliveries.mark_handled(7)
    await any_core.deliveries.mark_handled(7)  # twice is still one record
    clock.advance(days=1)
    assert await any_core.deliveries.forget_old() == 0
    assert await any_core.deliveries.handled(7)
    clock.advance(days=1, minutes=1)
    assert await any_core.deliveries.forget_old() == 1
    assert not await any_core.deliveries.handled(7)


async def test_a_database_that_cannot_be_opened_lets_no_one_in(tmp_path: Path) -> None:
    unopenable = tmp_path / "voronka.db"
    unopenable.mkdir()  # a folder where the database file should be
    core = build_core(make_settings(tmp_path, f"sqlite+aiosqlite:///{unopenable}"))
    harness = Harness(core)
    await harness.app.initialize()
    try:
        stranger = harness.stranger()
        for text in ("/kb", "клиент говорит дорого", "/start"):
            assert [r.text for r in await stranger.send(text)] == [ru("common.unavailable")]
        assert (await stranger.inline("дорого"))[0].params["results"] == []
    finally:
        await harness.app.shutdown()
        await core.close()
