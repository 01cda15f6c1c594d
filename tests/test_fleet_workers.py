"""Two bot workers on one PostgreSQL database, as behind a webhook proxy: whichever worker
gets a person's next update, it answers as if there were one (issue 14, item 3).

Each worker is a real `Application` with a core of its own (its own caches, its own
engine); they share the database and "Telegram" (one offline request, so a message one
worker sent is the one the person presses a button of on the other)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.common.clock import FrozenClock
from bot.common.i18n import catalog
from bot.container import Core, build_core
from bot.people.service import Person, Role
from bot.tg.app import build_application
from bot.tg.offline import ChatClient, OfflineRequest
from tests.conftest import _truncate, make_settings

pytestmark = pytest.mark.postgres

ru, en = catalog("ru"), catalog("en")
App = Any


@dataclass
class Worker:
    core: Core
    app: App

    def client(self, request: OfflineRequest, person: Person, language: str = "ru") -> ChatClient:
        return ChatClient(
            self.app, request, person.telegram_id, first_name=person.name, language_code=language
        )


@dataclass
class Fleet:
    request: OfflineRequest
    a: Worker
    b: Worker


@pytest.fixture
async def fleet(postgres_database: str, tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Fleet]:
    await _truncate(postgres_database)
    request = OfflineRequest()
    workers = []
    for name in ("a", "b"):
        settings = make_settings(  # webhook workers: the mode whose updates take chat turns
            tmp_path / name,
            postgres_database,
            webhook_url="https://bot.example.com/tg",
            webhook_secret="s3cret",
        )
        core = build_core(settings, clock=clock)
        app = build_application(core, request=request, rate_limit=False, backoff=(0.0,) * 4)
        await core.load_content()
        await app.initialize()
        workers.append(Worker(core, app))
    yield Fleet(request, *workers)
    for worker in workers:
        await worker.app.shutdown()
        await worker.core.close()


async def manager(fleet: Fleet, telegram_id: int, language: str = "ru") -> Person:
    return await fleet.a.core.people.ensure_person(
        telegram_id, f"Manager {telegram_id}", Role.MANAGER, "Урал", language
    )


def texts(replies: list[Any]) -> list[str]:
    return [reply.text for reply in replies]


async def test_a_dialog_goes_on_whichever_worker_gets_the_next_message(fleet: Fleet) -> None:
    anna = await manager(fleet, 8101)
    on_a, on_b = fleet.a.client(fleet.request, anna), fleet.b.client(fleet.request, anna)
    created = await on_a.send("/new Фиалка, 100 000")
    assert created[0].text.startswith("✨ Сделка создана: <b>Фиалка</b>")
    assert (await on_b.send("фиалка дальше"))[0].text.startswith("<b>Фиалка</b>: Новый лид →")

    # /new step by step, each answer to the other worker
    assert texts(await on_a.send("/new")) == [ru("deal.new_title")]
    assert texts(await on_b.send("Ромашка")) == [ru("deal.new_client")]
    assert texts(await on_a.send("ООО Ромашка, Иван Петров")) == [ru("deal.new_amount")]
    assert texts(await on_b.send("500 000")) == [ru("deal.new_next_step")]
    created = await on_a.send("позвонить завтра в 11")
    assert created[0].text.startswith("✨ Сделка создана: <b>Ромашка</b>, 500\u00a0000\u00a0₽")
    # the deal made on A is moved on B at once, though B had read Anna's deals before
    moved = await on_b.send("ромашка дальше")
    assert moved[0].text.startswith("<b>Ромашка</b>: Новый лид →"), moved[0].text
    # and the move made on B is undone on A, from B's own message
    undone = await on_a.click("↩ Отменить", moved[0])
    assert undone[-1].text.startswith("↩ Отменено: <b>Ромашка</b> снова на этапе «Новый лид»")


async def test_a_person_deactivated_on_one_worker_is_refused_on_the_other(fleet: Fleet) -> None:
    admin = await fleet.a.core.people.ensure_person(8100, "Admin", Role.ADMIN, None, "en")
    boris = await manager(fleet, 8102, language="en")
    on_b = fleet.b.client(fleet.request, boris, language="en")
    assert (await on_b.send("/new Lily, 100 000"))[0].text.startswith("✨")  # B knows Boris now
    await fleet.a.core.people.set_active(admin, boris.id, False)
    refused = await on_b.send("lily next")
    assert "Lily" not in refused[0].text
    assert refused[0].text == en("common.refusal", company="Вектор Склад")


async def test_one_update_delivered_to_both_workers_at_once_is_applied_once(
    fleet: Fleet,
) -> None:
    vera = await manager(fleet, 8103)
    on_a, on_b = fleet.a.client(fleet.request, vera), fleet.b.client(fleet.request, vera)
    await on_a.send("/new Фиалка, 100 000")
    before = len(fleet.request.outbox)
    await on_a.send("фиалка дальше")  # delivered to A ...
    assert on_a.last_update is not None
    again = dict(on_a.last_update)
    replies = await asyncio.gather(on_a.feed(dict(again)), on_b.feed(dict(again)))  # ... twice
    assert replies == [[], []]  # redeliveries, to either worker, change and send nothing
    moves = [m.text for m in fleet.request.outbox[before:] if m.chat_id == vera.telegram_id]
    assert len(moves) == 1 and moves[0].startswith("<b>Фиалка</b>: Новый лид →")

    # Both at the same moment, before either has recorded it: one applies it, one answer.
    before = len(fleet.request.outbox)
    update = {"update_id": 9_000_000_001, "message": {**again["message"], "message_id": 77}}
    await asyncio.gather(on_a.feed(dict(update)), on_b.feed(dict(update)))
    moves = [m.text for m in fleet.request.outbox[before:] if m.chat_id == vera.telegram_id]
    assert len(moves) == 1, moves
    assert moves[0].startswith("<b>Фиалка</b>: Квалификация → Выявление потребностей")


async def test_two_quick_messages_of_one_person_on_two_workers_are_applied_in_turn(
    fleet: Fleet,
) -> None:
    gleb = await manager(fleet, 8104)
    on_a, on_b = fleet.a.client(fleet.request, gleb), fleet.b.client(fleet.request, gleb)
    await on_a.send("/new Фиалка, 100 000")
    await on_b.send("/deals")  # both workers have met Gleb and his deal
    await on_a.send("/deals")
    before = len(fleet.request.outbox)
    # "дальше" twice in a row, each to another worker, the second before the first is done
    await asyncio.gather(on_a.send("фиалка дальше"), on_b.send("фиалка дальше"))
    answers = [m.text for m in fleet.request.outbox[before:] if m.chat_id == gleb.telegram_id]
    assert [a.split("\n")[0] for a in answers] == [
        "<b>Фиалка</b>: Новый лид → Квалификация",
        "<b>Фиалка</b>: Квалификация → Выявление потребностей",
    ]
