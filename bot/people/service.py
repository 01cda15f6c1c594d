"""People, teams, roles and invites: who may use the bot and what they may see."""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.common.clock import Clock
from bot.common.errors import Forbidden, Invalid, NotFound
from bot.db.session import Session, SessionFactory, reading, transaction
from bot.people import store
from bot.people.profile import Field, Profile, cleaned
from bot.people.store import Person, Role, TeamRow

__all__ = [
    "MAX_PERSON_NAME",
    "MAX_TEAM_NAME",
    "Addressees",
    "InviteInfo",
    "PeopleService",
    "Person",
    "Role",
    "TeamInfo",
    "clean_name",
    "person_of",
]

INVITE_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_TEAM_NAME = 100
MAX_PERSON_NAME = 200
IDENTITY_TTL = timedelta(seconds=10)  # how long another process's change may go unnoticed
IDENTITY_LIMIT = 10_000  # people remembered at once


@dataclass(frozen=True, slots=True)
class TeamInfo:
    id: int
    name: str
    members: tuple[Person, ...]


@dataclass(frozen=True, slots=True)
class InviteInfo:
    token: str
    role: Role
    team_id: int | None
    team_name: str | None
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Addressees:
    """Who a message meant for one person reaches.

    The person themselves while active. For a deactivated person, nobody but the people who
    now answer for their work: their team's active leads, or the active admins when the team
    has none; `instead_of` is then the deactivated person, so the message can say so.
    """

    people: tuple[Person, ...]
    instead_of: Person | None = None


class _UserLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def telegram_id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def team_id(self) -> int | None: ...
    @property
    def language(self) -> str: ...
    @property
    def active(self) -> bool: ...


class _Named(Protocol):
    @property
    def name(self) -> str: ...


def person_of(user: _UserLike, team: _Named | str | None = None) -> Person:
    """The plain value of a user row (with its team's name when known), for other features."""
    return Person(
        id=user.id,
        telegram_id=user.telegram_id,
        name=user.name,
        role=Role(user.role),
        team_id=user.team_id,
        team_name=team if team is None or isinstance(team, str) else team.name,
        language=user.language,
        active=user.active,
    )


def clean_name(name: str, limit: int) -> str:
    """Collapse white space; empty or overlong names are refused by callers."""
    return " ".join(name.split())[:limit]


class PeopleService:
    """Registration, invites and the team roster. Every method is one transaction, except that
    identify reads without one and writes only when the name changed or the bot was unblocked.
    """

    def __init__(
        self,
        db: SessionFactory,
        *,
        clock: Clock,
        admins: Collection[int] = (),
        invite_ttl: timedelta = timedelta(days=7),
        sole_writer: bool = True,
    ) -> None:
        """`sole_writer`: no other bot process serves this database (SQLite). Where several
        may (PostgreSQL, webhook workers), who is writing is read at every update: a person
        deactivated, or given another role, through one worker is treated so by the next
        update on any other, not ten seconds later."""
        self._db = db
        self._clock = clock
        self._admins = frozenset(admins)
        self._invite_ttl = invite_ttl
        ttl = IDENTITY_TTL if sole_writer else timedelta(0)
        self._recent = store.Identities(clock, ttl=ttl, limit=IDENTITY_LIMIT)

    # --- identification -------------------------------------------------------------

    async def identify(self, telegram_id: int, name: str, language: str = "ru") -> Person | None:
        """The registered person behind a Telegram id, or None for a stranger.

        Ids listed in VORONKA_ADMINS become admins on first contact. This is the gate
        itself, so it takes no actor.
        """
        cached = self._recent.get(telegram_id)
        if cached is not None:
            return cached
        person = await self._identify(telegram_id, name, language)
        if person is not None:
            self._recent.put(person)
        return person

    def forget(self) -> None:
        """Drop remembered identities after a change to people, roles or teams."""
        self._recent.forget()

    async def _identify(self, telegram_id: int, name: str, language: str) -> Person | None:
        async with reading(self._db) as connection:
            found = await store.identity(connection, telegram_id)
        if found is not None:
            person = found.person
            changes: dict[str, object] = {}
            cleaned = clean_name(name, MAX_PERSON_NAME)
            if person.active and cleaned and person.name != cleaned:
                changes["name"] = cleaned
            if not found.reachable:  # they write again, so they unblocked the bot
                changes["reachable"] = True
            if changes:  # rare: a write only then
                async with transaction(self._db) as session:
                    await store.update_user(session, person.id, **changes)
                if "name" in changes:
                    person = Person(
                        person.id, person.telegram_id, cleaned, person.role, person.team_id,
                        person.team_name, person.language, person.active,
                    )  # fmt: skip
            return person
        if telegram_id not in self._admins:
            return None
        async with transaction(self._db) as session:
            return await self._new_user(session, telegram_id, name, Role.ADMIN, None, language)

    async def ensure_person(
        self, telegram_id: int, name: str, role: Role, team_name: str | None, language: str = "ru"
    ) -> Person:
        """Create or update a person directly: for the operator's CLI and `voronka chat`."""
        self.forget()
        async with transaction(self._db) as session:
            team = await self._ensure_team(session, team_name) if team_name else None
            found = await store.person_by_telegram_id(session, telegram_id)
            if found is None:
                return await self._new_user(session, telegram_id, name, role, team, language)
            changes: dict[str, object] = {"role": role.value, "active": True}
            if team is not None:
                changes["team_id"] = team.id
            await store.update_user(session, found.id, **changes)
            return await self._reread(session, found.id)

    # --- invites ---------------------------------------------------------------------

    async def create_invite(
        self,
        actor: Person | None,
        role: Role,
        *,
        team_name: str | None = None,
        team_id: int | None = None,
    ) -> InviteInfo:
        """A single-use, expiring invite. `actor` None is the operator at the shell."""
        async with transaction(self._db) as session:
            team = await self._invite_team(session, actor, role, team_name, team_id)
            now = self._clock()
            token = secrets.token_urlsafe(18)
            expires_at = now + self._invite_ttl
            await store.insert_invite(
                session,
                token=token,
                role=role.value,
                team_id=team.id if team else None,
                created_by_id=actor.id if actor else None,
                created_at=now,
                expires_at=expires_at,
            )
            return InviteInfo(
                token, role, team.id if team else None, team.name if team else None, expires_at
            )

    async def quick_invite(self, actor: Person) -> InviteInfo | None:
        """/invite: a lead's invite is made at once (a manager for their own team); an admin
        chooses role and team first (None); anyone else is refused.
        """
        if actor.is_lead:
            return await self.create_invite(actor, Role.MANAGER)
        if not actor.is_admin:
            raise Forbidden("invite.forbidden")
        return None

    async def _invite_team(
        self,
        session: Session,
        actor: Person | None,
        role: Role,
        team_name: str | None,
        team_id: int | None,
    ) -> TeamRow | None:
        if actor is not None and not actor.is_admin:
            if not actor.is_lead or role is not Role.MANAGER:
                raise Forbidden("invite.forbidden")
            if team_id not in (None, actor.team_id) or actor.team_id is None:
                raise Forbidden("invite.forbidden")
            if team_name is not None and team_name != actor.team_name:
                raise Forbidden("invite.forbidden")
            team_id = actor.team_id
        if team_id is not None:
            team = await store.team_by_id(session, team_id)
            if team is None:
                raise NotFound("team.not_found")
            return team
        if team_name:
            if actor is not None and not actor.is_admin:
                raise Forbidden("invite.forbidden")
            return await self._ensure_team(session, team_name)
        if role is not Role.ADMIN:
            raise Invalid("invite.team_required")
        return None

    async def redeem_invite(
        self, token: str, telegram_id: int, name: str, language: str = "ru"
    ) -> Person:
        """Register the person who opened an invite link; the invite is spent atomically.

        The invite is the permission: the one opening it is nobody yet, so no actor.
        """
        self.forget()
        if not INVITE_TOKEN.match(token):
            raise Invalid("invite.malformed")
        async with transaction(self._db) as session:
            invite = await store.invite_by_token(session, token)
            if invite is None:
                raise NotFound("invite.unknown")
            if invite.used_at is not None:
                raise Invalid("invite.used")
            now = self._clock()
            if invite.expires_at <= now:
                raise Invalid("invite.expired")
            found = await store.person_by_telegram_id(session, telegram_id)
            if found is not None and found.active:
                raise Invalid("invite.already_registered", role=found.role.value)
            if found is None:
                team = await store.team_by_id(session, invite.team_id) if invite.team_id else None
                person = await self._new_user(
                    session, telegram_id, name, invite.role, team, language
                )
            else:  # a deactivated person invited back
                await store.update_user(
                    session, found.id, role=invite.role.value, team_id=invite.team_id, active=True
                )
                person = await self._reread(session, found.id)
            if not await store.spend_invite(session, invite.id, person.id, now):
                raise Invalid("invite.used")
            return person

    # --- the roster ------------------------------------------------------------------

    async def teams(self, actor: Person) -> list[TeamInfo]:
        """Teams with their people: a lead sees their own team, an admin all of them."""
        if actor.is_admin:
            team_filter = None
        elif actor.is_lead and actor.team_id is not None:
            team_filter = actor.team_id
        else:
            raise Forbidden("team.forbidden")
        async with transaction(self._db) as session:
            teams = await store.teams(session, team_filter)
            people = await store.people(session, team_id=team_filter, by="name")
        by_team: dict[int | None, list[Person]] = {}
        for person in people:
            by_team.setdefault(person.team_id, []).append(person)
        result = [TeamInfo(t.id, t.name, tuple(by_team.get(t.id, []))) for t in teams]
        if team_filter is None and by_team.get(None):
            result.append(TeamInfo(0, "", tuple(by_team[None])))
        return result

    async def team_names(self, actor: Person) -> list[tuple[int, str]]:
        """Every team, for an admin choosing one (for an invite or a person's move)."""
        if not actor.is_admin:
            raise Forbidden("team.admin_only")
        async with transaction(self._db) as session:
            return [(team.id, team.name) for team in await store.teams(session)]

    async def person(self, actor: Person, person_id: int) -> Person:
        """One person's card, for someone who may see them."""
        if not (actor.is_admin or actor.is_lead):
            raise Forbidden("team.forbidden")  # before the look-up: the same for any id
        async with transaction(self._db) as session:
            target = await store.person_by_id(session, person_id)
        if target is None or not (actor.is_admin or target.team_id == actor.team_id):
            raise NotFound("person.not_found")  # another team's people are as good as none
        return target

    async def set_role(self, actor: Person, person_id: int, role: Role) -> Person:
        return await self._admin_change(actor, person_id, role=role)

    async def set_team(self, actor: Person, person_id: int, team_id: int) -> Person:
        return await self._admin_change(actor, person_id, team_id=team_id)

    async def set_active(self, actor: Person, person_id: int, active: bool) -> Person:
        """Deactivate (or bring back) a person; their deals stay where they are."""
        return await self._admin_change(actor, person_id, active=active)

    async def _admin_change(
        self,
        actor: Person,
        person_id: int,
        *,
        role: Role | None = None,
        team_id: int | None = None,
        active: bool | None = None,
    ) -> Person:
        self.forget()
        if not actor.is_admin:
            raise Forbidden("team.admin_only")
        if person_id == actor.id:
            raise Invalid("team.not_self")
        async with transaction(self._db) as session:
            if await store.person_by_id(session, person_id) is None:
                raise NotFound("person.not_found")
            changes: dict[str, object] = {}
            if role is not None:
                changes["role"] = role.value
            if team_id is not None:
                if await store.team_by_id(session, team_id) is None:
                    raise NotFound("team.not_found")
                changes["team_id"] = team_id
            if active is not None:
                changes["active"] = active
            if changes:
                await store.update_user(session, person_id, **changes)
            return await self._reread(session, person_id)

    async def create_team(self, actor: Person | None, name: str) -> tuple[int, str]:
        if actor is not None and not actor.is_admin:
            raise Forbidden("team.admin_only")
        async with transaction(self._db) as session:
            team = await self._ensure_team(session, name)
            return team.id, team.name

    async def people_of(self, team_id: int | None = None) -> list[Person]:
        """Active people, optionally of one team: for jobs that write to everyone."""
        async with transaction(self._db) as session:
            return await store.people(session, team_id=team_id, active_only=True)

    async def everyone(self) -> list[Person]:
        """Every person by name, deactivated ones too: `voronka chat` plays any of them, and
        the operator at the terminal is no actor of the bot."""
        async with transaction(self._db) as session:
            return await store.people(session, by="name")

    async def addressees(self, telegram_id: int) -> Addressees | None:
        """The post's rule for a message meant for `telegram_id`; None when that is no
        person of ours (a group chat), which is written to as addressed.

        System work (every message to someone other than the sender passes here), so no
        actor. Read fresh, not from the identity cache: a deactivation made a moment ago by
        another process must already hold.
        """
        async with reading(self._db) as connection:
            found = await store.identity(connection, telegram_id)
        if found is None:
            return None
        person = found.person
        if person.active:
            return Addressees((person,))
        async with transaction(self._db) as session:
            leads: list[Person] = []
            if person.team_id is not None:
                leads = await store.active_with_role(
                    session, Role.LEAD, team_id=person.team_id, besides=person.id
                )
            if not leads:
                leads = await store.active_with_role(session, Role.ADMIN, besides=person.id)
        return Addressees(tuple(leads), instead_of=person)

    # --- one's own profile (/me) --------------------------------------------------------

    async def profile(self, actor: Person) -> Profile:
        """The actor's own profile: anyone registered may see and change their own."""
        async with transaction(self._db) as session:
            return await self.profile_in(session, actor.id)

    async def set_profile(self, actor: Person, field: Field, text: str) -> Profile:
        """One field of the actor's own profile, checked (`bot.people.profile.cleaned`)."""
        value = cleaned(field, text)
        column = {Field.FULL_NAME: "full_name"}.get(field, field.value)
        async with transaction(self._db) as session:
            await store.update_user(session, actor.id, **{column: value})
            return await self.profile_in(session, actor.id)

    async def profile_in(self, session: Session, person_id: int) -> Profile:
        """A person's profile inside the caller's transaction (the offer that prints it)."""
        row = await store.profile(session, person_id)
        if row is None:
            raise NotFound("person.not_found")
        return Profile(*row)

    async def mark_unreachable(self, telegram_id: int) -> None:
        self.forget()
        async with transaction(self._db) as session:
            await store.set_reachable(session, telegram_id, False)

    # --- helpers ---------------------------------------------------------------------

    async def _ensure_team(self, session: Session, name: str) -> TeamRow:
        cleaned = clean_name(name, MAX_TEAM_NAME + 1)
        if not cleaned or len(cleaned) > MAX_TEAM_NAME:
            raise Invalid("team.bad_name", limit=MAX_TEAM_NAME)
        team = await store.team_by_name(session, cleaned)
        if team is None:
            team = await store.insert_team(session, cleaned, self._clock())
        return team

    async def _new_user(
        self,
        session: Session,
        telegram_id: int,
        name: str,
        role: Role,
        team: TeamRow | None,
        language: str,
    ) -> Person:
        cleaned = clean_name(name, MAX_PERSON_NAME) or str(telegram_id)
        user_id = await store.insert_user(
            session,
            telegram_id=telegram_id,
            name=cleaned,
            role=role.value,
            team_id=team.id if team else None,
            language=language,
            active=True,
            reachable=True,
            created_at=self._clock(),
        )
        return Person(
            user_id, telegram_id, cleaned, role, team.id if team else None,
            team.name if team else None, language, True,
        )  # fmt: skip

    async def _reread(self, session: Session, person_id: int) -> Person:
        person = await store.person_by_id(session, person_id)
        assert person is not None
        return person
