"""Scheduled notices are never lost and never doubled (issue 11, item 4): digests, nudges and
follow-ups go through the sent log as an outbox, claimed with a lease, confirmed when sent."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.common.clock import FrozenClock
from bot.container import Core, build_core
from bot.deals.telegram.nudges import send_followups, send_nudges
from bot.people.service import Role
from bot.reports.telegram import jobs
from bot.reports.telegram.jobs import send_digests
from tests.conftest import Harness, make_settings
from tests.test_metrics import _dataset, at


@pytest.fixture(autouse=True)
def _no_retry_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "RETRY_DELAYS", (0.0, 0.0, 0.0))


@pytest.fixture
async def two_processes(
    any_core: Core, tmp_path: Path, database_url: str, clock: FrozenClock
) -> AsyncIterator[tuple[Harness, Harness]]:
    """Two bots on one database, as two `voronka run` processes would be."""
    other_core = build_core(make_settings(tmp_path, database_url), clock=clock)
    first, second = Harness(any_core), Harness(other_core)
    for harness in (first, second):
        await harness.core.load_content()
        await harness.app.initialize()
    yield first, second
    for harness in (first, second):
        await harness.app.shutdown()
    await other_core.close()


async def test_two_processes_ask_each_followup_once(
    two_processes: tuple[Harness, Harness], clock: FrozenClock
) -> None:
    first, second = two_processes
    managers = [await first.person(name=f"Менеджер {n}") for n in range(5)]
    for number, (person, _) in enumerate(managers):
        for deal in range(3):
            view = await first.core.deals.create(person, f"Сделка {number}-{deal}")
            await first.core.deals.set_next_step(person, view.id, "звонок", clock())
    clock.advance(hours=1)
    counts = await asyncio.gather(send_followups(first.app), send_followups(second.app))
    assert sum(counts) == 15
    asked = first.request.calls_of("sendMessage") + second.request.calls_of("sendMessage")
    assert len(asked) == 15
    assert await send_followups(first.app) + await send_followups(second.app) == 0


async def test_two_processes_send_each_digest_once(
    two_processes: tuple[Harness, Harness], clock: FrozenClock
) -> None:
    first, second = two_processes
    await _dataset(first.core, clock)
    await first.person(Role.ADMIN, name="Ольга")
    at(clock, "2026-12-01 09:00")
    counts = await asyncio.gather(send_digests(first.app), send_digests(second.app))
    assert sum(counts) == 3
    photos = first.request.calls_of("sendPhoto") + second.request.calls_of("sendPhoto")
    assert len(photos) == 3


async def test_a_digest_claimed_by_a_process_that_died_is_sent_after_its_lease(
    harness: Harness, clock: FrozenClock
) -> None:
    await _dataset(harness.core, clock)
    lead = harness.client(4, name="Лида")
    at(clock, "2026-12-01 09:00")
    (run,) = [r for r in await harness.core.reports.digests_due() if r.recipients]
    # A process claimed it, then was killed while sending.
    assert await harness.core.sent_log.claim(run.kind, lead.user_id, run.key)
    assert await send_digests(harness.app) == 0  # held by the claim
    clock.advance(minutes=6)
    assert await send_digests(harness.app) == 1  # the lease ran out: sent
    assert any(m.photo for m in lead.messages())
    clock.advance(minutes=6)
    assert await send_digests(harness.app) == 0  # confirmed: never again


async def test_a_digest_that_fails_to_build_does_not_stop_the_others(
    harness: Harness, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _dataset(harness.core, clock)
    await harness.person(Role.ADMIN, name="Ольга")
    at(clock, "2026-12-01 09:00")
    real = harness.core.reports.digest
    (broken, *_) = [r.team_id for r in await harness.core.reports.digests_due()]

    async def digest(person: object, run: jobs.Any) -> object:
        if run.team_id == broken:
            raise RuntimeError("a team's figures could not be read")
        return await real(person, run)  # type: ignore[arg-type]

    with monkeypatch.context() as patched:
        patched.setattr(harness.core.reports, "digest", digest)
        first_run = await send_digests(harness.app)
    assert first_run >= 1
    assert await send_digests(harness.app) == 3 - first_run  # given back, sent now
    assert await send_digests(harness.app) == 0


async def test_a_nudge_that_fails_is_given_back_and_the_others_go(
    harness: Harness, clock: FrozenClock
) -> None:
    _, anna = await harness.person(name="Анна")
    _, boris = await harness.person(name="Борис")
    for chat, title in ((anna, "Ромашка"), (boris, "Лютик")):
        await chat.send(f"/new {title}")
        await chat.send(f"{title} дальше")
        await chat.send("звонок завтра")
    clock.advance(days=1)
    clock.now = clock.now.replace(hour=6, minute=0)
    harness.request.fail("sendMessage", 500, times=1)
    assert await send_nudges(harness.app) == 1
    assert await send_nudges(harness.app) == 1  # the failed one, on the next run
    assert await send_nudges(harness.app) == 0
