"""People, teams, roles and invites: who may use the bot and what they may see."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.common.clock import Clock
from bot.common.errors import Forbidden, Invalid, NotFound
from bot.db.models import Invite, Team, User, table_of
from bot.db.session import reading, transaction

INVITE_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_TEAM_NAME = 100
MAX_PERSON_NAME = 200
IDENTITY_TTL = 10.0  # seconds another process may take to notice a deactivation


class Role(StrEnum):
    ADMIN = "admin"
    LEAD = "lead"
    MANAGER = "manager"


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    telegram_id: int
    name: str
    role: Role
    team_id: int | None
    team_name: str | None
    language: str
    active: bool

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_lead(self) -> bool:
        return self.role is Role.LEAD


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


# Who is writing: every update after a pause starts here, so a prebuilt query of plain
# columns rather than ORM objects (see benchmarks/deals.py, the "read every time" case).
_USERS, _TEAMS = table_of(User), table_of(Team)
_WHO = (
    select(
        _USERS.c.id, _USERS.c.telegram_id, _USERS.c.name, _USERS.c.role, _USERS.c.team_id,
        _TEAMS.c.name.label("team_name"), _USERS.c.language, _USERS.c.active, _USERS.c.reachable,
    )
    .select_from(_USERS)
    .outerjoin(_TEAMS, _TEAMS.c.id == _USERS.c.team_id)
    .where(_USERS.c.telegram_id == bindparam("telegram_id"))
)  # fmt: skip


def person_of(user: User, team: Team | str | None = None) -> Person:
    """The plain value of a user row (with its team's name when known)."""
    return Person(
        id=user.id,
        telegram_id=user.telegram_id,
        name=user.name,
        role=Role(user.role),
        team_id=user.team_id,
        team_name=team.name if isinstance(team, Team) else team,
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
        db: async_sessionmaker[AsyncSession],
        *,
        clock: Clock,
        admins: Collection[int] = (),
        invite_ttl: timedelta = timedelta(days=7),
    ) -> None:
        self._db = db
        self._clock = clock
        self._admins = frozenset(admins)
        self._invite_ttl = invite_ttl
        # Every update starts by identifying its sender; a short memory spares the database
        # that query on a busy chat. Any change of a person here forgets them at once.
        self._recent: dict[int, tuple[float, Person]] = {}

    # --- identification -------------------------------------------------------------

    async def identify(self, telegram_id: int, name: str, language: str = "ru") -> Person | None:
        """The registered person behind a Telegram id, or None for a stranger.

        Ids listed in VORONKA_ADMINS become admins on first contact.
        """
        cached = self._recent.get(telegram_id)
        if cached is not None and time.monotonic() - cached[0] < IDENTITY_TTL:
            return cached[1]
        person = await self._identify(telegram_id, name, language)
        if person is not None:
            self._recent[telegram_id] = (time.monotonic(), person)
        return person

    def forget(self) -> None:
        """Drop remembered identities after a change to people, roles or teams."""
        self._recent.clear()

    async def _identify(self, telegram_id: int, name: str, language: str) -> Person | None:
        async with reading(self._db) as connection:
            row = (await connection.execute(_WHO, {"telegram_id": telegram_id})).first()
        if row is not None:
            changes: dict[str, object] = {}
            cleaned = clean_name(name, MAX_PERSON_NAME)
            if row.active and cleaned and row.name != cleaned:
                changes["name"] = cleaned
            if not row.reachable:  # they write again, so they unblocked the bot
                changes["reachable"] = True
            if changes:  # rare: a write only then
                async with transaction(self._db) as session:
                    await session.execute(update(User).where(User.id == row.id).values(changes))
            return Person(
                row.id, row.telegram_id, cleaned if "name" in changes else row.name,
                Role(row.role), row.team_id, row.team_name, row.language, row.active,
            )  # fmt: skip
        if telegram_id not in self._admins:
            return None
        async with transaction(self._db) as session:
            user = self._new_user(telegram_id, name, Role.ADMIN, None, language)
            session.add(user)
            await session.flush()
            return person_of(user, None)

    async def ensure_person(
        self, telegram_id: int, name: str, role: Role, team_name: str | None, language: str = "ru"
    ) -> Person:
        """Create or update a person directly: for the operator's CLI and `voronka chat`."""
        self.forget()
        async with transaction(self._db) as session:
            team = await self._ensure_team(session, team_name) if team_name else None
            found = await self._load(session, User.telegram_id == telegram_id)
            if found is None:
                user = self._new_user(telegram_id, name, role, team, language)
                session.add(user)
            else:
                user = found[0]
                user.role, user.active = role.value, True
                if team is not None:
                    user.team_id = team.id
                elif found[1] is not None:
                    team = found[1]
            await session.flush()
            return person_of(user, team)

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
            invite = Invite(
                token=secrets.token_urlsafe(18),
                role=role.value,
                team_id=team.id if team else None,
                created_by_id=actor.id if actor else None,
                created_at=now,
                expires_at=now + self._invite_ttl,
            )
            session.add(invite)
            await session.flush()
            return InviteInfo(
                invite.token, role, invite.team_id, team.name if team else None, invite.expires_at
            )

    async def _invite_team(
        self,
        session: AsyncSession,
        actor: Person | None,
        role: Role,
        team_name: str | None,
        team_id: int | None,
    ) -> Team | None:
        if actor is not None and not actor.is_admin:
            if not actor.is_lead or role is not Role.MANAGER:
                raise Forbidden("invite.forbidden")
            if team_id not in (None, actor.team_id) or actor.team_id is None:
                raise Forbidden("invite.forbidden")
            if team_name is not None and team_name != actor.team_name:
                raise Forbidden("invite.forbidden")
            team_id = actor.team_id
        if team_id is not None:
            team = await session.get(Team, team_id)
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
        """Register the person who opened an invite link; the invite is spent atomically."""
        self.forget()
        if not INVITE_TOKEN.match(token):
            raise Invalid("invite.malformed")
        async with transaction(self._db) as session:
            invite = await session.scalar(select(Invite).where(Invite.token == token))
            if invite is None:
                raise NotFound("invite.unknown")
            if invite.used_at is not None:
                raise Invalid("invite.used")
            now = self._clock()
            if invite.expires_at <= now:
                raise Invalid("invite.expired")
            found = await self._load(session, User.telegram_id == telegram_id)
            if found is not None and found[0].active:
                raise Invalid("invite.already_registered", role=found[0].role)
            team = await session.get(Team, invite.team_id) if invite.team_id else None
            if found is None:
                user = self._new_user(telegram_id, name, Role(invite.role), team, language)
                session.add(user)
                await session.flush()
            else:  # a deactivated person invited back
                user = found[0]
                user.role, user.team_id, user.active = invite.role, invite.team_id, True
            spent = await session.execute(
                update(Invite)
                .where(Invite.id == invite.id, Invite.used_at.is_(None))
                .values(used_at=now, used_by_id=user.id)
            )
            if spent.rowcount != 1:  # type: ignore[attr-defined]
                raise Invalid("invite.used")
            return person_of(user, team)

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
            team_query = select(Team).order_by(Team.name)
            user_query = select(User).order_by(User.name)
            if team_filter is not None:
                team_query = team_query.where(Team.id == team_filter)
                user_query = user_query.where(User.team_id == team_filter)
            teams = list(await session.scalars(team_query))
            users = list(await session.scalars(user_query))
        by_team: dict[int | None, list[Person]] = {}
        names = {team.id: team for team in teams}
        for user in users:
            by_team.setdefault(user.team_id, []).append(
                person_of(user, names.get(user.team_id or 0))
            )
        result = [TeamInfo(t.id, t.name, tuple(by_team.get(t.id, []))) for t in teams]
        if team_filter is None and by_team.get(None):
            result.append(TeamInfo(0, "", tuple(by_team[None])))
        return result

    async def team_names(self) -> list[tuple[int, str]]:
        async with transaction(self._db) as session:
            rows = await session.execute(select(Team.id, Team.name).order_by(Team.name))
            return [(row.id, row.name) for row in rows]

    async def person(self, actor: Person, person_id: int) -> Person:
        """One person's card, for someone who may see them."""
        async with transaction(self._db) as session:
            found = await self._load(session, User.id == person_id)
        if found is None:
            raise NotFound("person.not_found")
        target = person_of(*found)
        if not (actor.is_admin or (actor.is_lead and target.team_id == actor.team_id)):
            raise Forbidden("team.forbidden")
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
            found = await self._load(session, User.id == person_id)
            if found is None:
                raise NotFound("person.not_found")
            user, team = found
            if role is not None:
                user.role = role.value
            if team_id is not None:
                team = await session.get(Team, team_id)
                if team is None:
                    raise NotFound("team.not_found")
                user.team_id = team.id
            if active is not None:
                user.active = active
            return person_of(user, team)

    async def create_team(self, actor: Person | None, name: str) -> tuple[int, str]:
        if actor is not None and not actor.is_admin:
            raise Forbidden("team.admin_only")
        async with transaction(self._db) as session:
            team = await self._ensure_team(session, name)
            return team.id, team.name

    async def people_of(self, team_id: int | None = None) -> list[Person]:
        """Active people, optionally of one team: for jobs that write to everyone."""
        async with transaction(self._db) as session:
            query = (
                select(User, Team)
                .outerjoin(Team, Team.id == User.team_id)
                .where(User.active.is_(True))
                .order_by(User.id)
            )
            if team_id is not None:
                query = query.where(User.team_id == team_id)
            return [person_of(user, team) for user, team in (await session.execute(query)).all()]

    async def mark_unreachable(self, telegram_id: int) -> None:
        self.forget()
        async with transaction(self._db) as session:
            await session.execute(
                update(User).where(User.telegram_id == telegram_id).values(reachable=False)
            )

    # --- helpers ---------------------------------------------------------------------

    async def _load(
        self, session: AsyncSession, condition: object
    ) -> tuple[User, Team | None] | None:
        row = (
            await session.execute(
                select(User, Team).outerjoin(Team, Team.id == User.team_id).where(condition)  # type: ignore[arg-type]
            )
        ).first()
        return (row[0], row[1]) if row else None

    async def _ensure_team(self, session: AsyncSession, name: str) -> Team:
        cleaned = clean_name(name, MAX_TEAM_NAME + 1)
        if not cleaned or len(cleaned) > MAX_TEAM_NAME:
            raise Invalid("team.bad_name", limit=MAX_TEAM_NAME)
        team = await session.scalar(select(Team).where(Team.name == cleaned))
        if team is None:
            team = Team(name=cleaned, created_at=self._clock())
            session.add(team)
            await session.flush()
        return team

    def _new_user(
        self, telegram_id: int, name: str, role: Role, team: Team | None, language: str
    ) -> User:
        return User(
            telegram_id=telegram_id,
            name=clean_name(name, MAX_PERSON_NAME) or str(telegram_id),
            role=role.value,
            team_id=team.id if team else None,
            language=language,
            active=True,
            reachable=True,
            created_at=self._clock(),
        )
