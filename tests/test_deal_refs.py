"""The in-memory deal lists for matching: kept current by every write, never trusted blindly."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from bot.common.clock import FrozenClock
from bot.common.errors import Conflict, NotFound
from bot.common.i18n import catalog
from bot.container import Core
from bot.db.models import Deal
from bot.db.session import transaction
from bot.deals.matching import DealRef
from bot.deals.service import Via
from bot.deals.store import MAX_LISTS, DealLists, Scope
from bot.people.service import Person, Role
from tests.conftest import Harness

ru = catalog("ru")


def _clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 30, 7, 0, tzinfo=UTC))


def _ref(deal_id: int, stage: str = "lead", version: int = 1) -> DealRef:
    return DealRef(deal_id, f"Deal {deal_id}", None, "b2b", stage, "open", version)


def _person(role: Role, person_id: int = 7, team_id: int | None = 3) -> Person:
    return Person(person_id, 70 + person_id, "Анна", role, team_id, "Урал", "ru", True)


def test_a_scope_is_everyone_for_an_admin_the_team_for_a_lead_own_deals_for_a_manager() -> None:
    assert Scope.of(_person(Role.ADMIN)) == Scope(everyone=True)
    assert Scope.of(_person(Role.LEAD)) == Scope(team_id=3)
    assert Scope.of(_person(Role.MANAGER)) == Scope(owner_id=7)
    assert Scope(everyone=True).holds(owner_id=1, team_id=None)
    assert Scope(team_id=3).holds(1, 3) and not Scope(team_id=3).holds(1, None)
    assert Scope(owner_id=7).holds(7, 9) and not Scope(owner_id=7).holds(8, 3)
    teamless_lead = Scope.of(_person(Role.LEAD, team_id=None))
    assert not teamless_lead.holds(1, None) and not teamless_lead.holds(7, 3)


def test_a_list_expires_after_its_time_on_the_injected_clock() -> None:
    clock = _clock()
    cache = DealLists(clock)
    scope = Scope(owner_id=7)
    cache.put(scope, [_ref(1)], cache.generation)
    assert cache.get(scope) == [_ref(1)]
    clock.advance(seconds=9.9)
    assert cache.get(scope) == [_ref(1)]
    clock.advance(seconds=0.1)
    assert cache.get(scope) is None


def test_expired_lists_are_swept_out_once_there_are_many() -> None:
    clock = _clock()
    cache = DealLists(clock)
    for owner in range(MAX_LISTS):
        cache.put(Scope(owner_id=owner), [_ref(owner)], cache.generation)
    clock.advance(seconds=10)
    cache.put(Scope(owner_id=-1), [_ref(1)], cache.generation)
    assert len(cache) == 1 and cache.get(Scope(owner_id=-1)) == [_ref(1)]


def test_the_lists_are_bounded_the_oldest_go_first() -> None:
    cache = DealLists(_clock(), limit=3)
    for owner in range(5):
        cache.put(Scope(owner_id=owner), [_ref(owner)], cache.generation)
    assert len(cache) == 3
    assert cache.get(Scope(owner_id=0)) is None and cache.get(Scope(owner_id=1)) is None
    assert cache.get(Scope(owner_id=4)) == [_ref(4)]


def test_a_list_read_while_a_deal_was_written_is_not_kept() -> None:
    cache = DealLists(_clock())
    scope = Scope(owner_id=7)
    generation = cache.generation  # the read starts...
    cache.changed(_ref(1, "needs", 2), owner_id=7, team_id=3)  # ...a write lands meanwhile...
    cache.put(scope, [_ref(1)], generation)  # ...and what the read saw is already old
    assert cache.get(scope) is None


def test_a_write_updates_the_lists_holding_the_deal_and_drops_those_missing_it() -> None:
    cache = DealLists(_clock())
    own, team, other = Scope(owner_id=7), Scope(team_id=3), Scope(owner_id=8)
    everyone = Scope(everyone=True)
    for scope in (own, team, everyone):
        cache.put(scope, [_ref(1), _ref(2)], cache.generation)
    cache.put(other, [_ref(5)], cache.generation)
    cache.put(Scope(team_id=4), [_ref(6)], cache.generation)

    cache.changed(_ref(2, "needs", 2), owner_id=7, team_id=3)
    for scope in (own, team, everyone):
        assert cache.get(scope) == [_ref(1), _ref(2, "needs", 2)]
    assert cache.get(other) == [_ref(5)]

    cache.changed(_ref(9), owner_id=7, team_id=3)  # a new deal: lists that should hold it reload
    assert cache.get(own) is None and cache.get(team) is None and cache.get(everyone) is None
    assert cache.get(other) == [_ref(5)] and cache.get(Scope(team_id=4)) == [_ref(6)]


def test_a_reassigned_deal_leaves_the_old_owners_list() -> None:
    cache = DealLists(_clock())
    cache.put(Scope(owner_id=7), [_ref(1)], cache.generation)
    cache.changed(_ref(1, version=2), owner_id=8, team_id=3)
    assert cache.get(Scope(owner_id=7)) is None


# --- through the service -----------------------------------------------------------------


async def _stages(core: Core, person: Person) -> dict[str, tuple[str, int]]:
    """What the person's list in memory says, once checked against the database."""
    listed = {ref.title: (ref.stage, ref.version) for ref in await core.deals.refs(person)}
    query = select(Deal.title, Deal.stage, Deal.version)
    if person.role is Role.LEAD:
        query = query.where(Deal.team_id == person.team_id)
    else:
        query = query.where(Deal.owner_id == person.id)
    async with transaction(core.db) as session:
        stored = {title: (stage, version) for title, stage, version in await session.execute(query)}
    assert listed == stored
    return listed


async def test_every_kind_of_write_shows_in_the_lists_at_once(any_core: Core) -> None:
    deals, people = any_core.deals, any_core.people
    lead = await people.ensure_person(1, "Лида", Role.LEAD, "Урал")
    anna = await people.ensure_person(2, "Анна", Role.MANAGER, "Урал")
    boris = await people.ensure_person(3, "Борис", Role.MANAGER, "Урал")
    deal = await deals.create(anna, "Ромашка")
    assert await _stages(any_core, anna) == {"Ромашка": ("lead", 1)}
    assert await _stages(any_core, lead) == {"Ромашка": ("lead", 1)}

    await deals.create(anna, "Вектор")  # both lists learn of a new deal
    assert set(await _stages(any_core, anna)) == set(await _stages(any_core, lead)) == {
        "Ромашка", "Вектор",
    }  # fmt: skip
    moved = await deals.move(anna, deal.id, "needs", via=Via.TEXT)
    assert (await _stages(any_core, lead))["Ромашка"] == ("needs", moved.deal.version)
    undone = await deals.undo(anna, moved.transition_id)
    assert (await _stages(any_core, anna))["Ромашка"] == ("lead", undone.version)
    stepped = await deals.set_next_step(anna, deal.id, "звонок", None)
    assert (await _stages(any_core, anna))["Ромашка"] == ("lead", stepped.version)
    priced = await deals.set_amount(anna, deal.id, Decimal(5000))
    assert (await _stages(any_core, anna))["Ромашка"] == ("lead", priced.version)

    await deals.reassign(lead, deal.id, boris.id)
    assert set(await _stages(any_core, anna)) == {"Вектор"}
    assert set(await _stages(any_core, boris)) == {"Ромашка"}


async def test_a_lead_without_a_team_reaches_no_deal(any_core: Core) -> None:
    anna = await any_core.people.ensure_person(2, "Анна", Role.MANAGER, "Урал")
    loner = await any_core.people.ensure_person(5, "Лев", Role.LEAD, None)
    deal = await any_core.deals.create(anna, "Ромашка")
    assert await any_core.deals.refs(loner) == []
    assert (await any_core.deals.list_open(loner)).total == 0
    with pytest.raises(NotFound):
        await any_core.deals.move(loner, deal.id, "needs", via=Via.TEXT)


async def test_a_move_inside_a_callers_transaction_shows_only_once_committed(
    any_core: Core,
) -> None:
    deals = any_core.deals
    anna = await any_core.people.ensure_person(2, "Анна", Role.MANAGER, "Урал")
    deal = await deals.create(anna, "Ромашка")
    await deals.refs(anna)  # kept in memory from here on
    with pytest.raises(RuntimeError):
        async with transaction(any_core.db) as session:
            await deals.move_in(session, anna, deal.id, "offer", via=Via.OFFER)
            raise RuntimeError("the offer could not be rendered")
    assert (await _stages(any_core, anna))["Ромашка"] == ("lead", 1)
    async with transaction(any_core.db) as session:
        await deals.move_in(session, anna, deal.id, "offer", via=Via.OFFER)
    assert (await _stages(any_core, anna))["Ромашка"] == ("offer", 2)


async def test_a_write_by_another_process_conflicts_once_then_is_seen(any_core: Core) -> None:
    deals = any_core.deals
    anna = await any_core.people.ensure_person(2, "Анна", Role.MANAGER, "Урал")
    deal = await deals.create(anna, "Ромашка")
    ref = (await deals.refs(anna))[0]
    async with transaction(any_core.db) as session:  # as `voronka deals import` would
        await session.execute(
            update(Deal).where(Deal.id == deal.id).values(stage="needs", version=Deal.version + 1)
        )
    if any_core.engine.dialect.name == "sqlite":  # one bot process: the list is kept...
        assert (await deals.refs(anna))[0] == ref
        with pytest.raises(Conflict):
            await deals.move(anna, deal.id, "offer", via=Via.TEXT, expected_version=ref.version)
    fresh = (await deals.refs(anna))[0]  # ...until a move finds it stale; PostgreSQL: at once
    assert (fresh.stage, fresh.version) == ("needs", 2)
    moved = await deals.move(anna, deal.id, "offer", via=Via.TEXT, expected_version=fresh.version)
    assert moved.from_stage == "needs"


async def test_a_text_move_on_a_deal_changed_elsewhere_says_so_then_works(
    harness: Harness,
) -> None:
    person, anna = await harness.person()
    await anna.send("/new Ромашка")
    deal_id = (await harness.core.deals.refs(person))[0].id
    async with transaction(harness.core.db) as session:
        await session.execute(
            update(Deal).where(Deal.id == deal_id).values(stage="needs", version=Deal.version + 1)
        )
    replies = await anna.send("Ромашка → переговоры")
    assert replies[0].text == ru("deal.changed", title="Ромашка")
    assert "📍 Выявление потребностей" in replies[-1].text
    replies = await anna.send("Ромашка → переговоры")
    assert replies[0].text.split("\n\n")[0] == "<b>Ромашка</b>: Выявление потребностей → Переговоры"
