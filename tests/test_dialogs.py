"""Dialogs are kept in the database: a new process goes on where the person was."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.common.clock import FrozenClock
from bot.common.i18n import catalog
from bot.container import build_core
from bot.people.service import Person, Role
from bot.tg import dialogs
from bot.tg.dialogs import Dialog
from tests.conftest import Harness, make_settings

ru = catalog("ru")


@asynccontextmanager
async def a_process(tmp_path: Path, url: str, clock: FrozenClock) -> AsyncIterator[Harness]:
    """A whole bot process (core and Application) on the given database."""
    core = build_core(make_settings(tmp_path, url), clock=clock)
    await core.load_content()
    harness = Harness(core)
    await harness.app.initialize()
    try:
        yield harness
    finally:
        await harness.app.shutdown()
        await core.close()


async def test_a_new_deal_dialog_goes_on_in_another_process(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    async with a_process(tmp_path, database_url, clock) as first:
        person, anna = await first.person()
        assert (await anna.send("/new"))[-1].text == ru("deal.new_title")
        assert (await anna.send("Ромашка"))[-1].text == ru("deal.new_client")
        assert (await anna.send("ООО Ромашка, Иван"))[-1].text == ru("deal.new_amount")
    async with a_process(tmp_path, database_url, clock) as second:
        anna = second.client(person.telegram_id, name=person.name)
        assert (await anna.send("1,5 млн"))[-1].text == ru("deal.new_next_step")
    async with a_process(tmp_path, database_url, clock) as third:
        anna = third.client(person.telegram_id, name=person.name)
        replies = await anna.send("позвонить завтра в 11")
        assert replies[0].text.startswith(
            "✨ Сделка создана: <b>Ромашка</b>, 1\u00a0500\u00a0000\u00a0₽"
        )
        (deal,) = await third.core.deals.refs(person)
        card = await third.core.deals.card(person, deal.id)
        assert card.client == "ООО Ромашка" and card.contact == "Иван"


async def test_cancel_in_another_process_ends_the_dialog(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    async with a_process(tmp_path, database_url, clock) as first:
        person, anna = await first.person(role=Role.LEAD)
        await anna.send("/new")
    async with a_process(tmp_path, database_url, clock) as second:
        anna = second.client(person.telegram_id, name=person.name)
        await anna.send("/cancel")
    async with a_process(tmp_path, database_url, clock) as third:
        anna = third.client(person.telegram_id, name=person.name)
        replies = await anna.send("Ромашка")
        assert ru("deal.new_client") not in [r.text for r in replies]


def test_a_dialogs_data_is_checked_when_it_starts() -> None:
    with pytest.raises(ValidationError):
        Dialog(dialogs.AMOUNT, 7, {"versoin": 3})
    with pytest.raises(ValidationError):
        Dialog(dialogs.NEW_DEAL, data={"step": "price"})


def test_a_state_round_trips_with_its_types() -> None:
    user_data: dict[object, object] = {
        dialogs.DIALOG_KEY: Dialog(
            dialogs.NEW_DEAL,
            data={"step": "next_step", "title": "Ромашка", "amount": Decimal("1.50")},
        )
    }
    restored: dict[object, object] = {}
    dialogs.restore(restored, dialogs.snapshot(user_data))
    dialog = dialogs.current(restored)
    assert dialog is not None and dialog.kind is dialogs.NEW_DEAL
    assert dialog.data == {"step": "next_step", "title": "Ромашка", "amount": Decimal("1.50")}


@pytest.mark.parametrize(
    "saved",
    [
        "not json",
        '["a list"]',
        '{"dialog": {"kind": "no_such_kind", "deal_id": 1, "data": {}}}',
        '{"dialog": {"kind": "amount", "deal_id": 1, "data": {}}}',
        '{"unknown_key": 1}',
    ],
)
def test_a_state_that_no_longer_fits_is_dropped_not_misread(saved: str) -> None:
    user_data: dict[object, object] = {dialogs.DIALOG_KEY: Dialog(dialogs.NOTE, 3)}
    dialogs.restore(user_data, saved)
    assert dialogs.current(user_data) is None


def test_every_dialog_has_one_answer() -> None:
    from bot.tg.handlers.text import ANSWERS

    assert set(ANSWERS) == set(dialogs.DialogKind)
    assert set(dialogs.DATA) == set(dialogs.DialogKind)


async def test_naming_a_new_team_for_an_invite_goes_on_in_another_process(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    async with a_process(tmp_path, database_url, clock) as first:
        person, admin = await first.person(role=Role.ADMIN)
        await admin.send("/invite")
        await admin.click("менеджер")
        await admin.click("Новая команда")
    async with a_process(tmp_path, database_url, clock) as second:
        admin = second.client(person.telegram_id, name=person.name)
        replies = await admin.send("Сибирь")
        assert "https://t.me/" in replies[-1].text and "Сибирь" in replies[-1].text
        assert "Сибирь" in [name for _, name in await second.core.people.team_names(person)]


async def test_the_bot_still_answers_when_the_state_cannot_be_saved(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, anna = await harness.person()

    async def unavailable(*_args: object) -> None:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(harness.core.conversations, "keep", unavailable)
    replies = await anna.send("/new")
    assert [r.text for r in replies] == [ru("deal.new_title")]


@pytest.mark.parametrize("language", ["ru", "en"])
async def test_a_move_that_leaves_a_question_ends_it_for_good(
    tmp_path: Path, database_url: str, clock: FrozenClock, language: str
) -> None:
    """The question left and the move that left it commit together: after a restart the next
    text is not taken for the answer to a question the person moved on from."""
    t = catalog(language)
    async with a_process(tmp_path, database_url, clock) as first:
        person, anna = await first.person(language=language)
        await anna.send("/new Ромашка")
        await anna.send("/new Лютик")
        asked = await anna.send("Ромашка → квалификация")
        assert asked[0].text.endswith(t("next_step.ask_after_move"))
        moved = await anna.send("Лютик → квалификация")  # the person moves on
        assert moved[0].text.startswith("<b>Лютик</b>")
    async with a_process(tmp_path, database_url, clock) as second:
        anna = second.client(person.telegram_id, language=language, name=person.name)
        await anna.send("/skip")  # the question asked about Лютик
        replies = await anna.send("позвонить завтра в 11")
        assert not any("📅" in reply.text for reply in replies)  # no step saved for Ромашка
        card = await second.core.deals.card(person, await _deal(second, person, "Ромашка"))
        assert card.stage == "qualification" and card.next_step_text is None


@pytest.mark.parametrize("language", ["ru", "en"])
async def test_when_the_question_cannot_be_ended_the_move_is_not_made_either(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, language: str
) -> None:
    """Both or neither: a move that leaves a question, when the database refuses the
    question's end, is not made; the person is told to try again and the question stays."""
    t = catalog(language)
    person, anna = await harness.person(language=language)
    await anna.send("/new Ромашка")
    await anna.send("/new Лютик")
    await anna.send("Ромашка → квалификация")

    async def refused(*_args: object) -> None:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(harness.core.conversations, "keep_in", refused)
    replies = await anna.send("Лютик → квалификация")
    assert [reply.text for reply in replies] == [t("common.unavailable")]
    card = await harness.core.deals.card(person, await _deal(harness, person, "Лютик"))
    assert card.stage == "lead"  # not moved
    monkeypatch.undo()
    replies = await anna.send("позвонить завтра в 11")  # still the answer about Ромашка
    assert replies[0].text.startswith("📅 Ромашка")


async def _deal(harness: Harness, person: Person, title: str) -> int:
    (found,) = [ref for ref in await harness.core.deals.refs(person) if ref.title == title]
    return found.id
