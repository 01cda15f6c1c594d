"""PeopleService on SQLite and PostgreSQL."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.common.clock import FrozenClock
from bot.common.errors import Forbidden, Invalid, NotFound
from bot.container import Core, build_core
from bot.db.models import User
from bot.db.session import transaction
from bot.people.service import IDENTITY_TTL, Person, Role
from bot.people.store import Identities
from tests.conftest import make_settings


async def test_an_invite_registers_one_person_with_its_role_and_team(any_core: Core) -> None:
    invite = await any_core.people.create_invite(None, Role.MANAGER, team_name="Урал")
    person = await any_core.people.redeem_invite(invite.token, 501, "Анна Смирнова")
    assert (person.role, person.team_name, person.name) == (Role.MANAGER, "Урал", "Анна Смирнова")
    assert await any_core.people.identify(501, "Анна Смирнова") == person


async def test_identifying_keeps_the_name_current_and_notices_an_unblock(any_core: Core) -> None:
    person = await any_core.people.ensure_person(503, "Анна", Role.MANAGER, "Урал")
    await any_core.people.mark_unreachable(503)
    any_core.people.forget()
    renamed = await any_core.people.identify(503, "  Анна   Смирнова ")
    assert renamed == replace(person, name="Анна Смирнова")
    async with transaction(any_core.db) as session:
        user = await session.scalar(select(User).where(User.telegram_id == 503))
    assert user is not None and (user.name, user.reachable) == ("Анна Смирнова", True)


async def test_an_invite_works_only_once(any_core: Core) -> None:
    invite = await any_core.people.create_invite(None, Role.MANAGER, team_name="Урал")
    await any_core.people.redeem_invite(invite.token, 501, "Анна")
    with pytest.raises(Invalid) as error:
        await any_core.people.redeem_invite(invite.token, 502, "Борис")
    assert error.value.key == "invite.used"
    assert await any_core.people.identify(502, "Борис") is None


async def test_two_people_racing_for_one_invite_register_only_one(any_core: Core) -> None:
    invite = await any_core.people.create_invite(None, Role.MANAGER, team_name="Урал")
    results = await asyncio.gather(
        *(any_core.people.redeem_invite(invite.token, 600 + i, f"P{i}") for i in range(4)),
        return_exceptions=True,
    )
    registered = [r for r in results if not isinstance(r, BaseException)]
    assert len(registered) == 1
    assert all(
        isinstance(r, Exception) and not isinstance(r, AssertionError)
        for r in results
        if r not in registered
    )


async def test_an_expired_invite_is_refused(any_core: Core, clock: FrozenClock) -> None:
    invite = await any_core.people.create_invite(None, Role.MANAGER, team_name="Урал")
    clock.advance(days=7, seconds=1)
    with pytest.raises(Invalid) as error:
        await any_core.people.redeem_invite(invite.token, 501, "Анна")
    assert error.value.key == "invite.expired"


@pytest.mark.parametrize(
    ("token", "key"), [("short", "invite.malformed"), ("<script>" * 3, "invite.malformed")]
)
async def test_a_malformed_token_is_refused(any_core: Core, token: str, key: str) -> None:
    with pytest.raises(Invalid) as error:
        await any_core.people.redeem_invite(token, 501, "Анна")
    assert error.value.key == key


async def test_an_unknown_token_is_not_found(any_core: Core) -> None:
    with pytest.raises(NotFound):
        await any_core.people.redeem_invite("A" * 24, 501, "Анна")


async def test_a_registered_person_keeps_the_invite_unused(any_core: Core) -> None:
    await any_core.people.ensure_person(501, "Анна", Role.MANAGER, "Урал")
    invite = await any_core.people.create_invite(None, Role.LEAD, team_name="Урал")
    with pytest.raises(Invalid) as error:
        await any_core.people.redeem_invite(invite.token, 501, "Анна")
    assert error.value.key == "invite.already_registered"
    other = await any_core.people.redeem_invite(invite.token, 502, "Борис")
    assert other.role is Role.LEAD


async def test_a_lead_invites_only_managers_to_their_own_team(any_core: Core) -> None:
    lead = await any_core.people.ensure_person(10, "Лид", Role.LEAD, "Урал")
    invite = await any_core.people.create_invite(lead, Role.MANAGER)
    assert invite.team_name == "Урал"
    with pytest.raises(Forbidden):
        await any_core.people.create_invite(lead, Role.ADMIN)
    with pytest.raises(Forbidden):
        await any_core.people.create_invite(lead, Role.MANAGER, team_name="Сибирь")


async def test_a_manager_cannot_invite(any_core: Core) -> None:
    manager = await any_core.people.ensure_person(11, "М", Role.MANAGER, "Урал")
    with pytest.raises(Forbidden):
        await any_core.people.create_invite(manager, Role.MANAGER)


async def test_a_manager_invite_needs_a_team(any_core: Core) -> None:
    with pytest.raises(Invalid) as error:
        await any_core.people.create_invite(None, Role.MANAGER)
    assert error.value.key == "invite.team_required"


async def test_an_overlong_team_name_is_refused(any_core: Core) -> None:
    with pytest.raises(Invalid) as error:
        await any_core.people.create_invite(None, Role.MANAGER, team_name="Я" * 101)
    assert error.value.key == "team.bad_name"


async def test_ids_from_settings_become_admins_on_first_contact(
    tmp_path, database_url: str, clock: FrozenClock
) -> None:
    core = build_core(make_settings(tmp_path, database_url, admins=(777,)), clock=clock)
    try:
        admin = await core.people.identify(777, "Owner")
        assert admin is not None and admin.role is Role.ADMIN
        assert await core.people.identify(778, "Someone") is None
    finally:
        await core.close()


async def test_an_admin_changes_role_and_team_and_deactivates(any_core: Core) -> None:
    admin = await any_core.people.ensure_person(1, "Админ", Role.ADMIN, None)
    manager = await any_core.people.ensure_person(2, "Менеджер", Role.MANAGER, "Урал")
    siberia, _ = await any_core.people.create_team(admin, "Сибирь")
    assert (await any_core.people.set_role(admin, manager.id, Role.LEAD)).role is Role.LEAD
    assert (await any_core.people.set_team(admin, manager.id, siberia)).team_name == "Сибирь"
    assert not (await any_core.people.set_active(admin, manager.id, False)).active
    found = await any_core.people.identify(2, "Менеджер")
    assert found is not None and not found.active


async def test_only_an_admin_changes_people_and_not_themself(any_core: Core) -> None:
    admin = await any_core.people.ensure_person(1, "Админ", Role.ADMIN, None)
    lead = await any_core.people.ensure_person(2, "Лид", Role.LEAD, "Урал")
    manager = await any_core.people.ensure_person(3, "М", Role.MANAGER, "Урал")
    with pytest.raises(Forbidden):
        await any_core.people.set_active(lead, manager.id, False)
    with pytest.raises(Invalid):
        await any_core.people.set_active(admin, admin.id, False)


async def test_a_lead_sees_only_their_team(any_core: Core) -> None:
    lead = await any_core.people.ensure_person(2, "Лид", Role.LEAD, "Урал")
    await any_core.people.ensure_person(3, "Свой", Role.MANAGER, "Урал")
    stranger = await any_core.people.ensure_person(4, "Чужой", Role.MANAGER, "Сибирь")
    teams = await any_core.people.teams(lead)
    assert [t.name for t in teams] == ["Урал"]
    assert {m.name for m in teams[0].members} == {"Лид", "Свой"}
    with pytest.raises(NotFound):  # as if there were nobody: another team's people are hidden
        await any_core.people.person(lead, stranger.id)


async def test_a_deactivated_person_invited_again_is_back(any_core: Core) -> None:
    admin = await any_core.people.ensure_person(1, "Админ", Role.ADMIN, None)
    manager = await any_core.people.ensure_person(2, "М", Role.MANAGER, "Урал")
    await any_core.people.set_active(admin, manager.id, False)
    invite = await any_core.people.create_invite(admin, Role.MANAGER, team_name="Урал")
    back = await any_core.people.redeem_invite(invite.token, 2, "М")
    assert back.active and back.id == manager.id


async def test_telegram_ids_are_64_bit(any_core: Core) -> None:
    big = 2**62 + 12345
    person = await any_core.people.ensure_person(big, "Big", Role.MANAGER, "Урал")
    assert person.telegram_id == big
    assert (await any_core.people.identify(big, "Big")) == person


async def test_invites_expire_after_the_configured_days(any_core: Core, clock: FrozenClock) -> None:
    invite = await any_core.people.create_invite(None, Role.ADMIN)
    assert invite.expires_at - clock() == timedelta(days=7)


async def test_a_change_by_another_process_shows_once_the_memory_expires(
    tmp_path, database_url: str, clock: FrozenClock
) -> None:
    """On SQLite the bot remembers who writes for IDENTITY_TTL on its clock, its own changes
    seen at once; on PostgreSQL, where another worker may make the change, it remembers
    nothing between updates."""
    bot = build_core(make_settings(tmp_path, database_url), clock=clock)
    shell = build_core(make_settings(tmp_path, database_url), clock=clock)
    try:
        admin = await bot.people.ensure_person(1, "Админ", Role.ADMIN, None)
        anna = await bot.people.ensure_person(2, "Анна", Role.MANAGER, "Урал")
        assert await bot.people.identify(2, "Анна") == anna
        await shell.people.set_active(admin, anna.id, False)
        if bot.engine.dialect.name == "sqlite":
            assert await bot.people.identify(2, "Анна") == anna  # still remembered
            clock.advance(seconds=IDENTITY_TTL.total_seconds())
        refused = await bot.people.identify(2, "Анна")
        assert refused is not None and not refused.active
        await bot.people.set_active(admin, anna.id, True)  # this process: seen at once
        back = await bot.people.identify(2, "Анна")
        assert back is not None and back.active
    finally:
        await bot.close()
        await shell.close()


def test_the_identity_memory_is_bounded_and_forgets_the_least_recent() -> None:
    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    memory = Identities(clock, ttl=timedelta(seconds=10), limit=2)
    people = [Person(i, 100 + i, f"P{i}", Role.MANAGER, None, None, "ru", True) for i in range(3)]
    memory.put(people[0])
    memory.put(people[1])
    assert memory.get(100) == people[0]  # now the most recent
    memory.put(people[2])
    assert (memory.get(100), memory.get(101), memory.get(102)) == (people[0], None, people[2])
    clock.advance(seconds=10)
    assert memory.get(100) is None


async def test_only_an_admin_lists_teams_and_a_manager_gets_no_quick_invite(any_core: Core) -> None:
    admin = await any_core.people.ensure_person(1, "Админ", Role.ADMIN, None)
    lead = await any_core.people.ensure_person(2, "Лида", Role.LEAD, "Урал")
    manager = await any_core.people.ensure_person(3, "Анна", Role.MANAGER, "Урал")
    assert await any_core.people.team_names(admin) == [(lead.team_id, "Урал")]
    for person in (lead, manager):
        with pytest.raises(Forbidden) as error:
            await any_core.people.team_names(person)
        assert error.value.key == "team.admin_only"
    with pytest.raises(Forbidden) as refused:
        await any_core.people.quick_invite(manager)
    assert refused.value.key == "invite.forbidden"
    assert await any_core.people.quick_invite(admin) is None  # an admin chooses
    invite = await any_core.people.quick_invite(lead)
    assert invite is not None and (invite.role, invite.team_name) == (Role.MANAGER, "Урал")
