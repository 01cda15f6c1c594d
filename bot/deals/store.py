"""All SQL of the deals feature, as SQLAlchemy Core statements; and the deal lists kept in memory.

A text move is the bot's hottest path, and building a statement costs more than SQLite
spends running it. So the statements of that path are built once, at import: deals are
read as flat rows (deal, client and owner in one) and changed by UPDATEs that carry the
version read, so that a change made meanwhile by someone else matches no row and the
caller is told instead of overwriting it. The rest are built per call; they run rarely.

The store takes the session (or connection) from the service and opens no transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    CursorResult,
    Insert,
    Select,
    Update,
    bindparam,
    delete,
    desc,
    event,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.errors import Conflict
from bot.db.models import Client, Deal, Note, StageTransition, Team, User, table_of
from bot.db.session import Reads
from bot.deals.matching import DealRef
from bot.people.service import Person, Role

DEALS = table_of(Deal)
CLIENTS = table_of(Client)
USERS = table_of(User)
TEAMS = table_of(Team)
TRANSITIONS = table_of(StageTransition)
NOTES = table_of(Note)


class DealRow(NamedTuple):
    """A row of VIEW, in its column order: DealView's stored fields.

    A NamedTuple because it is built from the database row by position (`DealRow(*row)`),
    which costs about what the row itself did; names for the service, speed for the path.
    """

    id: int
    title: str
    client: str | None
    contact: str | None
    phone: str | None
    owner_id: int
    owner_name: str
    owner_telegram_id: int
    team_id: int | None
    funnel: str
    stage: str
    status: str
    amount: Decimal | None
    currency: str
    probability: int | None
    lost_reason: str | None
    next_step_text: str | None
    next_step_due: datetime | None
    created_at: datetime
    stage_changed_at: datetime
    version: int


class NoteRow(NamedTuple):
    text: str
    at: datetime
    author: str | None


class TransitionRow(NamedTuple):
    id: int
    deal_id: int
    from_stage: str | None
    to_stage: str
    at: datetime
    lost_reason: str | None


class PersonRow(NamedTuple):
    """Who may own a deal: enough to list, pick and tell them."""

    id: int
    name: str
    telegram_id: int
    team_id: int | None
    active: bool


class TeamRow(NamedTuple):
    id: int
    name: str
    funnel: str | None


@dataclass(frozen=True, slots=True)
class Scope:
    """The deals a person may change: an admin everyone's, a lead the team's, a manager own.

    The one statement of that rule, for a row at hand (`holds`) and for a query (`where`).
    A lead without a team reaches no deal.
    """

    everyone: bool = False
    team_id: int | None = None
    owner_id: int | None = None

    @classmethod
    def of(cls, person: Person) -> Scope:
        if person.role is Role.ADMIN:
            return cls(everyone=True)
        if person.role is Role.LEAD:
            return cls(team_id=person.team_id)
        return cls(owner_id=person.id)

    def holds(self, owner_id: int, team_id: int | None) -> bool:
        if self.everyone:
            return True
        if self.owner_id is not None:
            return owner_id == self.owner_id
        return self.team_id is not None and team_id == self.team_id

    def where(self, query: Select[Any]) -> Select[Any]:
        if self.everyone:
            return query
        if self.owner_id is not None:
            return query.where(DEALS.c.owner_id == self.owner_id)
        return query.where(DEALS.c.team_id == self.team_id)  # no team: "= NULL", no deal


# --- the hot path: statements built once ----------------------------------------------------

# In DealRow's order, so a row becomes a DealRow by position.
VIEW: Select[Any] = (
    select(
        DEALS.c.id, DEALS.c.title, CLIENTS.c.name.label("client"),
        CLIENTS.c.contact.label("contact"), CLIENTS.c.phone.label("phone"), DEALS.c.owner_id,
        USERS.c.name.label("owner_name"), USERS.c.telegram_id.label("owner_telegram_id"),
        DEALS.c.team_id, DEALS.c.funnel, DEALS.c.stage, DEALS.c.status, DEALS.c.amount,
        DEALS.c.currency, DEALS.c.probability, DEALS.c.lost_reason, DEALS.c.next_step_text,
        DEALS.c.next_step_due, DEALS.c.created_at, DEALS.c.stage_changed_at, DEALS.c.version,
    )
    .select_from(DEALS)
    .outerjoin(CLIENTS, CLIENTS.c.id == DEALS.c.client_id)
    .join(USERS, USERS.c.id == DEALS.c.owner_id)
)  # fmt: skip
ONE = VIEW.where(DEALS.c.id == bindparam("deal_id"))
ONE_FOR_UPDATE = ONE.with_for_update(of=DEALS)  # PostgreSQL locks the row; SQLite ignores it

# The deals a person may change, for matching text commands: open ones and recent closed ones.
_REFS = (
    select(
        DEALS.c.id, DEALS.c.title, CLIENTS.c.name, DEALS.c.funnel, DEALS.c.stage,
        DEALS.c.status, DEALS.c.version,
    )
    .select_from(DEALS)
    .outerjoin(CLIENTS, CLIENTS.c.id == DEALS.c.client_id)
    .where(or_(DEALS.c.status == "open", DEALS.c.updated_at >= bindparam("since")))
)  # fmt: skip
REFS_ALL = _REFS
REFS_OF_TEAM = _REFS.where(DEALS.c.team_id == bindparam("team_id"))
REFS_OF_OWNER = _REFS.where(DEALS.c.owner_id == bindparam("owner_id"))

INSERT_TRANSITION: Insert = insert(TRANSITIONS)


@lru_cache(maxsize=64)  # one per set of columns written; the service writes a handful of sets
def _update(columns: tuple[str, ...]) -> Update:
    """UPDATE deals SET <columns>, version = version + 1 WHERE id = ? AND version = ?"""
    return (
        update(DEALS)
        .where(DEALS.c.id == bindparam("row_id"), DEALS.c.version == bindparam("row_version"))
        .values({DEALS.c[name]: bindparam(f"new_{name}") for name in columns})
        .values(version=DEALS.c.version + 1)
    )


async def read(session: AsyncSession, deal_id: int, *, for_update: bool = False) -> DealRow | None:
    result = await session.execute(ONE_FOR_UPDATE if for_update else ONE, {"deal_id": deal_id})
    row = result.first()
    return None if row is None else DealRow(*row)


async def write(session: AsyncSession, row: DealRow, **values: Any) -> DealRow:
    """Change a deal read as `row`; Conflict when it changed since. Returns the row as now."""
    columns = tuple(sorted(values))
    params = {f"new_{name}": values[name] for name in columns}
    params.update(row_id=row.id, row_version=row.version)
    result = cast(CursorResult[Any], await session.execute(_update(columns), params))
    if result.rowcount != 1:
        raise Conflict("deal.changed", title=row.title)
    changed = {name: value for name, value in values.items() if name in DealRow._fields}
    return row._replace(**changed, version=row.version + 1)


async def add_transition(session: AsyncSession, **values: Any) -> int:
    """One stage-history row; its id (for ↩ Undo)."""
    result = cast(CursorResult[Any], await session.execute(INSERT_TRANSITION, values))
    primary_key = result.inserted_primary_key
    assert primary_key is not None
    return int(primary_key[0])


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run `callback` when, and only if, the caller's transaction commits."""
    event.listen(session.sync_session, "after_commit", lambda _: callback(), once=True)


# --- the rest: built per call ---------------------------------------------------------------


async def add_client(
    session: AsyncSession, *, name: str, contact: str | None, phone: str | None, at: datetime
) -> int:
    statement = insert(CLIENTS).values(name=name, contact=contact, phone=phone, created_at=at)
    result = cast(CursorResult[Any], await session.execute(statement))
    primary_key = result.inserted_primary_key
    assert primary_key is not None
    return int(primary_key[0])


async def add_deal(session: AsyncSession, **values: Any) -> int:
    result = cast(CursorResult[Any], await session.execute(insert(DEALS).values(**values)))
    primary_key = result.inserted_primary_key
    assert primary_key is not None
    return int(primary_key[0])


async def open_deals(session: AsyncSession, scope: Scope, owner_id: int | None) -> list[DealRow]:
    query = scope.where(VIEW.where(DEALS.c.status == "open"))
    if owner_id is not None:
        query = query.where(DEALS.c.owner_id == owner_id)
    return [DealRow(*row) for row in await session.execute(query)]


async def closed_deals(
    session: AsyncSession, scope: Scope, status: str, limit: int
) -> list[DealRow]:
    """Won or lost deals, the most recently closed first."""
    query = scope.where(VIEW.where(DEALS.c.status == status))
    query = query.order_by(DEALS.c.stage_changed_at.desc(), DEALS.c.id.desc()).limit(limit)
    return [DealRow(*row) for row in await session.execute(query)]


async def people(
    session: AsyncSession, *, everyone: bool, team_id: int | None, by_name: bool
) -> list[PersonRow]:
    """Active people: everyone, or those of one team (`team_id` None: those without a team)."""
    query = select(USERS.c.id, USERS.c.name, USERS.c.telegram_id, USERS.c.team_id, USERS.c.active)
    query = query.where(USERS.c.active.is_(True))
    if not everyone:
        query = query.where(USERS.c.team_id == team_id)
    query = query.order_by(USERS.c.name if by_name else USERS.c.id)
    return [PersonRow(*row) for row in await session.execute(query)]


async def person(session: AsyncSession, person_id: int) -> PersonRow | None:
    query = select(
        USERS.c.id, USERS.c.name, USERS.c.telegram_id, USERS.c.team_id, USERS.c.active
    ).where(USERS.c.id == person_id)
    row = (await session.execute(query)).first()
    return None if row is None else PersonRow(*row)


async def transition(session: AsyncSession, transition_id: int) -> TransitionRow | None:
    query = select(
        TRANSITIONS.c.id, TRANSITIONS.c.deal_id, TRANSITIONS.c.from_stage,
        TRANSITIONS.c.to_stage, TRANSITIONS.c.at, TRANSITIONS.c.lost_reason,
    ).where(TRANSITIONS.c.id == transition_id)  # fmt: skip
    row = (await session.execute(query)).first()
    return None if row is None else TransitionRow(*row)


async def latest_transitions(
    session: AsyncSession, deal_id: int, count: int
) -> list[TransitionRow]:
    """The deal's last moves, the latest first."""
    query = (
        select(
            TRANSITIONS.c.id, TRANSITIONS.c.deal_id, TRANSITIONS.c.from_stage,
            TRANSITIONS.c.to_stage, TRANSITIONS.c.at, TRANSITIONS.c.lost_reason,
        )
        .where(TRANSITIONS.c.deal_id == deal_id)
        .order_by(desc(TRANSITIONS.c.at), desc(TRANSITIONS.c.id))
        .limit(count)
    )  # fmt: skip
    return [TransitionRow(*row) for row in await session.execute(query)]


async def last_move_comment(session: AsyncSession, deal_id: int) -> tuple[int, str | None] | None:
    """(id, comment) of the deal's last move: for a lost deal, the move that lost it."""
    query = (
        select(TRANSITIONS.c.id, TRANSITIONS.c.comment)
        .where(TRANSITIONS.c.deal_id == deal_id)
        .order_by(desc(TRANSITIONS.c.at), desc(TRANSITIONS.c.id))
        .limit(1)
    )
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1])


async def set_move_comment(session: AsyncSession, transition_id: int, comment: str) -> None:
    await session.execute(
        update(TRANSITIONS).where(TRANSITIONS.c.id == transition_id).values(comment=comment)
    )


async def delete_transition(session: AsyncSession, transition_id: int) -> None:
    await session.execute(delete(TRANSITIONS).where(TRANSITIONS.c.id == transition_id))


async def add_note(
    session: AsyncSession, *, deal_id: int, author_id: int, text: str, at: datetime
) -> None:
    await session.execute(
        insert(NOTES).values(deal_id=deal_id, author_id=author_id, text=text, at=at)
    )


async def latest_notes(session: AsyncSession, deal_id: int, count: int) -> list[NoteRow]:
    query = (
        select(NOTES.c.text, NOTES.c.at, USERS.c.name)
        .select_from(NOTES)
        .outerjoin(USERS, USERS.c.id == NOTES.c.author_id)
        .where(NOTES.c.deal_id == deal_id)
        .order_by(desc(NOTES.c.at), desc(NOTES.c.id))
        .limit(count)
    )
    return [NoteRow(*row) for row in await session.execute(query)]


def _with_reachable_owner(query: Select[Any]) -> Select[Any]:
    """Only deals of people who are active and have not blocked the bot (for messages)."""
    return query.where(USERS.c.active.is_(True), USERS.c.reachable.is_(True))


async def reachable_owners(session: AsyncSession) -> dict[int, Person]:
    """Everyone with an open deal who can be written to, by id, with their team's name."""
    with_open_deals = select(DEALS.c.owner_id).where(DEALS.c.status == "open")
    query = (
        select(
            USERS.c.id, USERS.c.telegram_id, USERS.c.name, USERS.c.role, USERS.c.team_id,
            TEAMS.c.name, USERS.c.language, USERS.c.active,
        )
        .select_from(USERS)
        .outerjoin(TEAMS, TEAMS.c.id == USERS.c.team_id)
        .where(
            USERS.c.id.in_(with_open_deals), USERS.c.active.is_(True), USERS.c.reachable.is_(True)
        )
    )  # fmt: skip
    found = await session.execute(query)
    return {
        id_: Person(id_, telegram_id, name, Role(role), team_id, team, language, active)
        for id_, telegram_id, name, role, team_id, team, language, active in found
    }


async def open_deals_of_reachable_owners(session: AsyncSession) -> list[DealRow]:
    """By owner, then by the next step's time."""
    query = _with_reachable_owner(VIEW.where(DEALS.c.status == "open")).order_by(
        DEALS.c.owner_id, DEALS.c.next_step_due
    )
    return [DealRow(*row) for row in await session.execute(query)]


async def followups_due(session: AsyncSession, before: datetime) -> list[DealRow]:
    """Open deals whose next step was due before `before` and not asked about yet."""
    deals = DEALS.c
    query = _with_reachable_owner(
        VIEW.where(
            deals.status == "open",
            deals.next_step_due.is_not(None),
            deals.next_step_due <= before,
            or_(
                deals.followup_asked_for.is_(None), deals.followup_asked_for != deals.next_step_due
            ),
        )
    )
    return [DealRow(*row) for row in await session.execute(query)]


async def mark_followup_asked(session: AsyncSession, deal_id: int, due: datetime) -> None:
    """Bookkeeping, not a change of the deal: the version stays, so a card shown before the
    question still works. A step moved meanwhile is not marked: it is not due."""
    deals = DEALS.c
    await session.execute(
        update(DEALS)
        .where(deals.id == deal_id, deals.next_step_due == due)
        .values(followup_asked_for=due)
    )


# --- teams' funnels -------------------------------------------------------------------------


async def team_funnel_key(session: AsyncSession, team_id: int) -> str | None:
    """The funnel the team chose, if any (it may since have left the funnel file)."""
    return cast(
        "str | None", await session.scalar(select(TEAMS.c.funnel).where(TEAMS.c.id == team_id))
    )


async def teams(session: AsyncSession, team_id: int | None = None) -> list[TeamRow]:
    """All teams by name, or the one given."""
    query = select(TEAMS.c.id, TEAMS.c.name, TEAMS.c.funnel).order_by(TEAMS.c.name)
    if team_id is not None:
        query = query.where(TEAMS.c.id == team_id)
    return [TeamRow(*row) for row in await session.execute(query)]


async def set_team_funnel(session: AsyncSession, team_id: int, funnel: str) -> TeamRow | None:
    await session.execute(update(TEAMS).where(TEAMS.c.id == team_id).values(funnel=funnel))
    found = await teams(session, team_id)
    return found[0] if found else None


# --- the deal lists for matching, kept in memory --------------------------------------------

LISTS_TTL = timedelta(seconds=10)
MAX_LISTS = 256  # lists kept at most: one per person, team and "everyone" typing lately


class DealLists:
    """The deals each person may change, kept in memory for matching text commands.

    Reading a person's deals from the database for every message cost more than the rest
    of a text move together (see benchmarks/deals.py). So the service keeps them here and
    tells this cache of every change it commits (`changed`), which updates the lists that
    hold the deal and drops those that should hold it and do not.

    Invalidation, then: a write made through this process's service shows at once; a
    stale list is harmless, because a move re-reads the deal and refuses (Conflict) when
    its version changed, and the service then `forget`s every list. What another process
    wrote (`voronka deals import` run from the command line, a second bot process) shows
    only when a list expires, `ttl` after it was read: `forget` clears this process's
    lists alone, there is no message between processes.

    Expiry runs on the injected clock; at most `limit` lists are kept, expired ones are
    swept first and then the oldest go.
    """

    def __init__(self, clock: Clock, *, ttl: timedelta = LISTS_TTL, limit: int = MAX_LISTS):
        self._clock = clock
        self._ttl = ttl
        self._limit = limit
        self._entries: dict[Scope, tuple[datetime, dict[int, DealRef]]] = {}
        self._generation = 0  # changes with every write, so a read racing one is not kept

    def get(self, scope: Scope) -> list[DealRef] | None:
        entry = self._entries.get(scope)
        if entry is None or entry[0] <= self._clock():
            return None
        return list(entry[1].values())

    async def load(self, connection: Reads, scope: Scope, since: datetime) -> list[DealRef]:
        """Read the list from the database and keep it, unless a write lands while it is read."""
        generation = self._generation
        params: dict[str, object] = {"since": since}
        if scope.everyone:
            query = REFS_ALL
        elif scope.owner_id is not None:
            query, params["owner_id"] = REFS_OF_OWNER, scope.owner_id
        else:
            query, params["team_id"] = REFS_OF_TEAM, scope.team_id
        refs = [DealRef(*tuple(row)) for row in await connection.execute(query, params)]
        self.put(scope, refs, generation)
        return refs

    @property
    def generation(self) -> int:
        return self._generation

    def put(self, scope: Scope, refs: list[DealRef], generation: int) -> None:
        """Keep a list read when `generation` was current, unless a write came in meanwhile."""
        if generation != self._generation:
            return
        now = self._clock()
        self._entries.pop(scope, None)  # re-inserted last: the dict's order is the age
        if len(self._entries) >= self._limit:
            self._entries = {s: entry for s, entry in self._entries.items() if entry[0] > now}
        while len(self._entries) >= self._limit:
            del self._entries[next(iter(self._entries))]
        self._entries[scope] = (now + self._ttl, {ref.id: ref for ref in refs})

    def __len__(self) -> int:
        return len(self._entries)

    def changed(self, ref: DealRef, owner_id: int, team_id: int | None) -> None:
        """A deal was written: update the lists that hold it; drop those that should and don't."""
        self._generation += 1
        for scope, (_, refs) in list(self._entries.items()):
            if scope.holds(owner_id, team_id) and ref.id in refs:
                refs[ref.id] = ref
            elif scope.holds(owner_id, team_id) or ref.id in refs:
                del self._entries[scope]

    def forget(self) -> None:
        """Drop every list of this process (other processes keep theirs until they expire)."""
        self._generation += 1
        self._entries.clear()
