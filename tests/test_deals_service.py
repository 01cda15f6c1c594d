"""DealsService on SQLite and PostgreSQL: moves, history, access, undo, conflicts, schedules."""

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.common.clock import FrozenClock
from bot.common.errors import Conflict, Forbidden, Invalid
from bot.container import Core
from bot.db.models import StageTransition
from bot.db.session import transaction
from bot.deals.service import Via
from bot.people.service import Person, Role


async def _team(core: Core) -> tuple[Person, Person, Person, Person]:
    people = core.people
    admin = await people.ensure_person(1, "Админ", Role.ADMIN, None)
    lead = await people.ensure_person(2, "Лида", Role.LEAD, "Урал")
    anna = await people.ensure_person(3, "Анна", Role.MANAGER, "Урал")
    boris = await people.ensure_person(4, "Борис", Role.MANAGER, "Сибирь")
    return admin, lead, anna, boris


async def _history(core: Core, deal_id: int) -> list[tuple[str | None, str, str]]:
    async with transaction(core.db) as session:
        rows = await session.execute(
            select(StageTransition.from_stage, StageTransition.to_stage, StageTransition.via)
            .where(StageTransition.deal_id == deal_id)
            .order_by(StageTransition.id)
        )
        return [(a, b, c) for a, b, c in rows]


async def test_a_new_deal_starts_in_the_first_stage_of_the_default_funnel(any_core: Core) -> None:
    _, _, anna, _ = await _team(any_core)
    deal = await any_core.deals.create(anna, "Ромашка", amount=Decimal("150000"), contact="Иван")
    assert (deal.funnel, deal.stage, deal.status) == ("b2b", "lead", "open")
    assert deal.amount == Decimal("150000.00") and deal.owner_name == "Анна"
    assert await _history(any_core, deal.id) == [(None, "lead", "create")]


async def test_every_move_writes_one_history_row(any_core: Core) -> None:
    _, _, anna, _ = await _team(any_core)
    deal = await any_core.deals.create(anna, "Ромашка")
    first = await any_core.deals.move(anna, deal.id, "presentation", via=Via.TEXT)
    assert first.forward and first.needs_next_step and first.from_stage == "lead"
    back = await any_core.deals.move(anna, deal.id, "needs", via=Via.BUTTON)
    assert not back.forward
    assert await _history(any_core, deal.id) == [
        (None, "lead", "create"),
        ("lead", "presentation", "text"),
        ("presentation", "needs", "button"),
    ]


async def test_won_and_lost_close_the_deal_and_it_can_be_reopened(any_core: Core) -> None:
    _, _, anna, _ = await _team(any_core)
    deal = await any_core.deals.create(anna, "Ромашка")
    won = await any_core.deals.move(anna, deal.id, "paid", via=Via.BUTTON, amount=Decimal(90000))
    assert won.deal.status == "won" and won.deal.amount == Decimal("90000.00")
    with pytest.raises(Invalid) as error:
        await any_core.deals.move(anna, deal.id, "lost", via=Via.BUTTON)
    assert error.value.key == "deal.lost_reason_required"
    lost = await any_core.deals.move(anna, deal.id, "lost", via=Via.BUTTON, lost_reason="price")
    assert (lost.deal.status, lost.deal.lost_reason) == ("lost", "price")
    reopened = await any_core.deals.move(anna, deal.id, "negotiation", via=Via.BUTTON)
    assert reopened.deal.status == "open" and reopened.deal.lost_reason is None


async def test_a_manager_changes_only_their_own_deals(any_core: Core) -> None:
    _, _, anna, boris = await _team(any_core)
    deal = await any_core.deals.create(anna, "Ромашка")
    with pytest.raises(Forbidden):
        await any_core.deals.move(boris, deal.id, "needs", via=Via.TEXT)
    with pytest.raises(Forbidden):
        await any_core.deals.add_note(boris, deal.id, "чужая заметка")
    assert [r.title for r in await any_core.deals.refs(boris)] == []


async def test_a_lead_changes_their_teams_deals_and_an_admin_all(any_core: Core) -> None:
    admin, lead, anna, boris = await _team(any_core)
    anna_deal = await any_core.deals.create(anna, "Ромашка")
    boris_deal = await any_core.deals.create(boris, "Лютик")
    await any_core.deals.move(lead, anna_deal.id, "needs", via=Via.BUTTON)
    with pytest.raises(Forbidden):
        await any_core.deals.move(lead, boris_deal.id, "needs", via=Via.BUTTON)
    await any_core.deals.move(admin, boris_deal.id, "needs", via=Via.BUTTON)


async def test_a_stale_version_is_refused_not_overwritten(any_core: Core) -> None:
    _, lead, anna, _ = await _team(any_core)
    deal = await any_core.deals.create(anna, "Ромашка")
    await any_core.deals.move(lead, deal.id, "needs", via=Via.BUTTON, expected_version=deal.version)
    with pytest.raises(Conflict):
        await any_core.deals.move(
            anna, deal.id, "offer", via=Via.BUTTON, expected_version=deal.version
        )
    assert (await any_core.deals.card(anna, deal.id)).stage == "needs"


async def test_two_simultaneous_moves_one_wins_the_other_is_told(any_core: Core) -> None:
    _, lead, anna, _ = await _team(any_core)
    deal = await any_core.deals.create(anna, "Ромашка")
    results = await asyncio.gather(
        any_core.deals.move(anna, deal.id, "needs", via=Via.TEXT, expected_version=deal.version),
        any_core.deals.move(lead, deal.id, "offer", via=Via.TEXT, expected_version=deal.version),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1 and len(losers) == 1
    assert isinstance(losers[0], Conflict)
    assert len(await _history(any_core, deal.id)) == 2


async def test_undo_within_ten_minutes_restores_and_forgets_the_move(
    any_core: Core, clock: FrozenClock
) -> None:
    _, _, anna, _ = await _team(any_core)
    deal = await any_core.deals.create(anna, "Ромашка")
    clock.advance(hours=1)
    moved = await any_core.deals.move(anna, deal.id, "lost", via=Via.TEXT, lost_reason="price")
    clock.advance(minutes=9)
    restored = await any_core.deals.undo(anna, moved.transition_id)
    assert (restored.stage, restored.status, restored.lost_reason) == ("lead", "open", None)
    assert restored.stage_changed_at == deal.created_at
    assert await _history(any_core, deal.id) == [(None, "lead", "create")]


async def test_undoing_a_reopen_brings_back_the_lost_reason(any_core: Core) -> None:
    _, _, anna, _ = await _team(any_core)
    deal = await any_core.deals.create(anna, "Ромашка")
    lost = await any_core.deals.move(anna, deal.id, "lost", via=Via.TEXT, lost_reason="price")
    reopened = await any_core.deals.move(anna, deal.id, "negotiation", via=Via.BUTTON)
    assert reopened.deal.lost_reason is None
    restored = await any_core.deals.undo(anna, reopened.transition_id)
    assert (restored.stage, restored.status, restored.lost_reason) == ("lost", "lost", "price")
    assert restored.stage_changed_at == lost.deal.stage_changed_at


async def test_undo_after_ten_minutes_or_a_later_move_expires(
    any_core: Core, clock: FrozenClock
) -> None:
    _, _, anna, _ = await _team(any_core)
    deal = await any_core.deals.create(anna, "Ромашка")
    first = await any_core.deals.move(anna, deal.id, "needs", via=Via.TEXT)
    second = await any_core.deals.move(anna, deal.id, "offer", via=Via.TEXT)
    with pytest.raises(Invalid):
        await any_core.deals.undo(anna, first.transition_id)
    clock.advance(minutes=10, seconds=1)
    with pytest.raises(Invalid) as error:
        await any_core.deals.undo(anna, second.transition_id)
    assert error.value.key == "deal.undo_expired"


async def test_reassign_by_a_lead_within_the_team(any_core: Core) -> None:
    _, lead, anna, boris = await _team(any_core)
    vera = await any_core.people.ensure_person(5, "Вера", Role.MANAGER, "Урал")
    deal = await any_core.deals.create(anna, "Ромашка")
    moved = await any_core.deals.reassign(lead, deal.id, vera.id)
    assert moved.owner_name == "Вера"
    with pytest.raises(Forbidden):
        await any_core.deals.reassign(lead, deal.id, boris.id)
    with pytest.raises(Forbidden):
        await any_core.deals.reassign(anna, deal.id, vera.id)


@pytest.mark.parametrize("title", ["", "   ", "Я" * 201])
async def test_a_bad_title_is_refused(any_core: Core, title: str) -> None:
    _, _, anna, _ = await _team(any_core)
    with pytest.raises(Invalid) as error:
        await any_core.deals.create(anna, title)
    assert error.value.key == "deal.bad_title"


async def test_nudges_list_due_overdue_and_stalled(any_core: Core, clock: FrozenClock) -> None:
    _, _, anna, _ = await _team(any_core)
    deals = any_core.deals
    due = await deals.create(anna, "Сегодня")
    await deals.set_next_step(anna, due.id, "позвонить", clock() + timedelta(hours=3))
    late = await deals.create(anna, "Просрочка")
    await deals.set_next_step(anna, late.id, "встреча", clock() + timedelta(minutes=5))
    await deals.create(anna, "Застряла")
    planned = await deals.create(anna, "Застряла, но с планом")
    clock.advance(days=3)
    await deals.set_next_step(anna, planned.id, "звонок", clock() + timedelta(days=2))
    await deals.set_next_step(anna, due.id, "позвонить", clock() + timedelta(hours=3))
    (nudge,) = await deals.nudges()
    assert [d.title for d in nudge.due_today] == ["Сегодня"]
    assert [d.title for d in nudge.overdue] == ["Просрочка"]
    assert {d.title for d in nudge.stalled} == {"Просрочка", "Застряла"}


async def test_followups_are_asked_once_per_next_step(any_core: Core, clock: FrozenClock) -> None:
    _, _, anna, _ = await _team(any_core)
    deal = await any_core.deals.create(anna, "Ромашка")
    await any_core.deals.set_next_step(anna, deal.id, "звонок", clock() + timedelta(hours=1))
    grace = timedelta(minutes=30)
    clock.advance(minutes=89)
    assert await any_core.deals.followups_due(grace) == []
    clock.advance(minutes=2)
    assert [d.title for d in await any_core.deals.followups_due(grace)] == ["Ромашка"]
    assert await any_core.deals.followups_due(grace) == []
    await any_core.deals.set_next_step(anna, deal.id, "встреча", clock() + timedelta(hours=1))
    clock.advance(hours=2)
    assert len(await any_core.deals.followups_due(grace)) == 1


async def test_history_counts_stay_one_per_move(any_core: Core) -> None:
    _, _, anna, _ = await _team(any_core)
    deal = await any_core.deals.create(anna, "Ромашка")
    for stage in ("needs", "presentation", "offer", "needs"):
        await any_core.deals.move(anna, deal.id, stage, via=Via.TEXT)
    async with transaction(any_core.db) as session:
        count = await session.scalar(select(func.count()).select_from(StageTransition))
    assert count == 5
