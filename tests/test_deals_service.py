"""DealsService on SQLite and PostgreSQL: moves, history, access, undo, conflicts, schedules."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.common.clock import FrozenClock
from bot.common.errors import Conflict, Forbidden, Invalid, NotFound
from bot.container import Core
from bot.db.models import Deal, StageTransition
from bot.db.session import transaction
from bot.deals.service import Ask, MoveResult, Question, Via
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
    with pytest.raises(NotFound):  # as if there were no such deal: ids tell nothing
        await any_core.deals.move(boris, deal.id, "needs", via=Via.TEXT)
    with pytest.raises(NotFound):
        await any_core.deals.add_note(boris, deal.id, "чужая заметка")
    assert [r.title for r in await any_core.deals.refs(boris)] == []


async def test_a_lead_changes_their_teams_deals_and_an_admin_all(any_core: Core) -> None:
    admin, lead, anna, boris = await _team(any_core)
    anna_deal = await any_core.deals.create(anna, "Ромашка")
    boris_deal = await any_core.deals.create(boris, "Лютик")
    await any_core.deals.move(lead, anna_deal.id, "needs", via=Via.BUTTON)
    with pytest.raises(NotFound):
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
    with pytest.raises(NotFound):  # another team's manager is not the lead's to know
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
    (due,) = await any_core.deals.followups_due(grace)
    assert due.title == "Ромашка"
    assert await any_core.deals.followups_due(grace) == [due]  # due until it is asked
    assert due.next_step_due is not None
    await any_core.deals.followup_asked(due.id, due.next_step_due)
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


# --- the rules the Telegram handlers used to hold ------------------------------------------


async def _stored(core: Core, deal_id: int) -> tuple[Any, ...]:
    """The deal as the database holds it (not as any list in memory has it)."""
    async with transaction(core.db) as session:
        row = (
            await session.execute(
                select(Deal.stage, Deal.status, Deal.amount, Deal.currency, Deal.version).where(
                    Deal.id == deal_id
                )
            )
        ).one()
    return tuple(row)


Stale = Callable[[Core, Any, int, int], Awaitable[object]]
STALE_ACTIONS: dict[str, Stale] = {
    "win": lambda core, who, deal, v: core.deals.win(who, deal, via=Via.BUTTON, expected_version=v),
    "win at another amount": lambda core, who, deal, v: core.deals.win(
        who, deal, via=Via.TEXT, expected_version=v, amount=Decimal(5), currency="USD"
    ),
    "loss": lambda core, who, deal, v: core.deals.lose(
        who, deal, "price", via=Via.BUTTON, expected_version=v
    ),
    "stage picked": lambda core, who, deal, v: core.deals.request_move(
        who, deal, "offer", via=Via.BUTTON, expected_version=v
    ),
    "next stage": lambda core, who, deal, v: core.deals.move_next(
        who, deal, via=Via.BUTTON, expected_version=v
    ),
    "the stage list, the win and loss questions": lambda core, who, deal, v: core.deals.as_shown(
        who, deal, v
    ),
}


@pytest.mark.parametrize("action", STALE_ACTIONS)
async def test_a_stale_version_is_refused_by_every_way_in(any_core: Core, action: str) -> None:
    _, lead, anna, _ = await _team(any_core)
    deal = await any_core.deals.create(anna, "Ромашка", amount=Decimal(100))
    await any_core.deals.move(lead, deal.id, "needs", via=Via.BUTTON)  # the card is now stale
    before = await _stored(any_core, deal.id)
    with pytest.raises(Conflict) as error:
        await STALE_ACTIONS[action](any_core, anna, deal.id, deal.version)
    assert (error.value.key, error.value.params) == ("deal.changed", {"title": "Ромашка"})
    assert await _stored(any_core, deal.id) == before
    assert len(await _history(any_core, deal.id)) == 2


@pytest.mark.parametrize("action", STALE_ACTIONS)
async def test_someone_elses_deal_is_refused_by_every_way_in(any_core: Core, action: str) -> None:
    _, _, anna, boris = await _team(any_core)
    deal = await any_core.deals.create(anna, "Ромашка")
    with pytest.raises(NotFound) as error:
        await STALE_ACTIONS[action](any_core, boris, deal.id, deal.version)
    assert (error.value.key, error.value.params) == ("deal.not_found", {})  # no title in it
    assert await _stored(any_core, deal.id) == ("lead", "open", None, "RUB", 1)


async def test_a_stale_undo_is_refused_and_changes_nothing(any_core: Core) -> None:
    _, lead, anna, _ = await _team(any_core)
    deal = await any_core.deals.create(anna, "Ромашка")
    won = await any_core.deals.win(anna, deal.id, via=Via.BUTTON, expected_version=deal.version)
    await any_core.deals.move(lead, deal.id, "negotiation", via=Via.BUTTON)  # reopened meanwhile
    before = await _stored(any_core, deal.id)
    with pytest.raises(Invalid) as error:
        await any_core.deals.undo(anna, won.transition_id)
    assert error.value.key == "deal.undo_expired"
    assert await _stored(any_core, deal.id) == before
    assert [to for _, to, _ in await _history(any_core, deal.id)] == ["lead", "paid", "negotiation"]


async def test_a_loss_asks_its_reason_and_a_win_its_amount_before_anything_changes(
    any_core: Core,
) -> None:
    _, _, anna, _ = await _team(any_core)
    deal = await any_core.deals.create(anna, "Ромашка")
    deals = any_core.deals
    lost = await deals.request_move(anna, deal.id, "lost", via=Via.TEXT, expected_version=1)
    won = await deals.request_move(anna, deal.id, "paid", via=Via.TEXT, expected_version=1)
    assert isinstance(lost, Ask) and lost.question is Question.LOST_REASON
    assert isinstance(won, Ask) and won.question is Question.WIN_AMOUNT
    assert await _stored(any_core, deal.id) == ("lead", "open", None, "RUB", 1)
    moved = await deals.request_move(anna, deal.id, "needs", via=Via.TEXT, expected_version=1)
    assert isinstance(moved, MoveResult) and moved.deal.stage == "needs"
    last = await deals.move_next(anna, deal.id, via=Via.BUTTON, expected_version=2)
    assert isinstance(last, MoveResult) and (last.from_stage, last.to_stage) == (
        "needs",
        "presentation",
    )


async def test_the_stage_before_the_win_asks_the_amount_and_a_lost_deal_has_no_next(
    any_core: Core,
) -> None:
    _, _, anna, _ = await _team(any_core)
    deal = await any_core.deals.create(anna, "Ромашка")
    contract = await any_core.deals.move(anna, deal.id, "contract", via=Via.TEXT)
    version = contract.deal.version
    asked = await any_core.deals.move_next(anna, deal.id, via=Via.BUTTON, expected_version=version)
    assert isinstance(asked, Ask) and asked.question is Question.WIN_AMOUNT
    lost = await any_core.deals.lose(
        anna, deal.id, "price", via=Via.BUTTON, expected_version=version
    )
    with pytest.raises(Invalid) as error:
        await any_core.deals.move_next(
            anna, deal.id, via=Via.BUTTON, expected_version=lost.deal.version
        )
    assert error.value.key == "deal.no_next_stage"


async def test_a_win_in_another_currency_is_one_change(any_core: Core) -> None:
    _, _, anna, _ = await _team(any_core)
    deal = await any_core.deals.create(anna, "Ромашка", amount=Decimal(150000))
    won = await any_core.deals.win(
        anna, deal.id, via=Via.TEXT, expected_version=deal.version,
        amount=Decimal(3000), currency="USD",
    )  # fmt: skip
    assert (won.deal.amount, won.deal.currency) == (Decimal("3000.00"), "USD")
    # one UPDATE: the version went up once, and the move is one history row
    assert await _stored(any_core, deal.id) == ("paid", "won", Decimal("3000.00"), "USD", 2)
    assert await _history(any_core, deal.id) == [(None, "lead", "create"), ("lead", "paid", "text")]


async def test_a_loss_with_an_unknown_reason_is_refused_and_changes_nothing(
    any_core: Core,
) -> None:
    _, _, anna, _ = await _team(any_core)
    deal = await any_core.deals.create(anna, "Ромашка")
    with pytest.raises(Invalid) as error:
        await any_core.deals.lose(anna, deal.id, "weather", via=Via.BUTTON, expected_version=1)
    assert error.value.key == "deal.lost_reason_required"
    assert await _stored(any_core, deal.id) == ("lead", "open", None, "RUB", 1)


async def test_quick_and_typed_next_steps_and_later(any_core: Core, clock: FrozenClock) -> None:
    _, _, anna, boris = await _team(any_core)
    deal = await any_core.deals.create(anna, "Ромашка")
    moscow = ZoneInfo("Europe/Moscow")
    quick = await any_core.deals.next_step_in(anna, deal.id, 3, "Связаться")
    assert quick.next_step_due is not None and quick.next_step_text == "Связаться"
    assert quick.next_step_due.astimezone(moscow).strftime("%d.%m %H:%M") == "03.12 10:00"
    typed = await any_core.deals.plan_next_step(anna, deal.id, "завтра в 11", "Связаться")
    assert typed.next_step_due is not None and typed.next_step_text == "Связаться"
    assert typed.next_step_due.astimezone(moscow).strftime("%d.%m %H:%M") == "01.12 11:00"
    later = await any_core.deals.snooze_next_step(anna, deal.id)
    assert (later.next_step_text, later.next_step_due) == (
        "Связаться",
        clock() + timedelta(hours=2),
    )
    with pytest.raises(Invalid):
        await any_core.deals.plan_next_step(anna, deal.id, "купить слона", "Связаться")
    for refused in (
        any_core.deals.next_step_in(boris, deal.id, 1, "x"),
        any_core.deals.snooze_next_step(boris, deal.id),
        any_core.deals.plan_next_step(boris, deal.id, "завтра", "x"),
    ):
        with pytest.raises(NotFound):
            await refused


async def test_reassign_choices_are_the_teams_people_but_the_owner(any_core: Core) -> None:
    admin, lead, anna, _ = await _team(any_core)
    deal = await any_core.deals.create(anna, "Ромашка")
    choice = await any_core.deals.reassign_choices(lead, deal.id)
    assert choice.deal.id == deal.id
    assert [p.name for p in choice.people] == ["Лида"]
    with pytest.raises(Forbidden) as error:
        await any_core.deals.reassign_choices(anna, deal.id)
    assert error.value.key == "deal.reassign_forbidden"
    assert [o.name for o in await any_core.deals.owners(admin)] == [
        "Админ", "Анна", "Борис", "Лида",
    ]  # fmt: skip
    assert [o.name for o in await any_core.deals.owners(lead)] == ["Анна", "Лида"]
