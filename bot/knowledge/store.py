"""The knowledge feature's SQL: events, questions sent to leads, confirmed answers, phrasings.

Core statements only, rows mapped to frozen values; the service passes the session in.
People are read from the users table as `Person` values (who asked, who may answer):
the rows are the people feature's, the rule of who answers is this feature's.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import CursorResult, Row, Select, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import (
    KnowledgeEvent,
    KnowledgeQuestion,
    LearnedEntry,
    LearnedPhrasing,
    PhrasingVote,
    Team,
    User,
    table_of,
)
from bot.db.upsert import insert_or_conflict
from bot.people.service import Person, Role

EVENTS, QUESTIONS, LEARNED = (
    table_of(KnowledgeEvent),
    table_of(KnowledgeQuestion),
    table_of(LearnedEntry),
)
_USERS, _TEAMS = table_of(User), table_of(Team)
PHRASINGS, VOTES = table_of(LearnedPhrasing), table_of(PhrasingVote)


@dataclass(frozen=True, slots=True)
class QuestionRow:
    id: int
    asker_id: int
    question: str
    answer: str | None
    status: str


@dataclass(frozen=True, slots=True)
class LearnedRow:
    id: int
    entry_id: str
    title: str
    body: str


_PEOPLE: Select[Any] = (
    select(
        _USERS.c.id, _USERS.c.telegram_id, _USERS.c.name, _USERS.c.role, _USERS.c.team_id,
        _TEAMS.c.name.label("team_name"), _USERS.c.language, _USERS.c.active,
    )
    .select_from(_USERS)
    .outerjoin(_TEAMS, _TEAMS.c.id == _USERS.c.team_id)
)  # fmt: skip


def _person(row: Row[Any]) -> Person:
    return Person(
        row.id, row.telegram_id, row.name, Role(row.role), row.team_id, row.team_name,
        row.language, row.active,
    )  # fmt: skip


async def insert_event(session: AsyncSession, **values: Any) -> None:
    await session.execute(insert(EVENTS).values(**values))


class GapRow(NamedTuple):
    entry_id: str | None
    step_id: str | None
    text: str | None
    who: str | None
    team: str | None
    at: datetime


async def script_gaps(
    session: AsyncSession, kind: str, *, since: datetime | None = None
) -> list[GapRow]:
    """The events of `kind` (no suitable script answer) with who recorded them, oldest first."""
    e = EVENTS.c
    query = (
        select(e.entry_id, e.step_id, e.text, _USERS.c.name, _TEAMS.c.name, e.at)
        .select_from(EVENTS)
        .outerjoin(_USERS, _USERS.c.id == e.user_id)
        .outerjoin(_TEAMS, _TEAMS.c.id == _USERS.c.team_id)
        .where(e.kind == kind)
        .order_by(e.at, e.id)
    )
    if since is not None:
        query = query.where(e.at >= since)
    return [GapRow(*row) for row in await session.execute(query)]


# --- questions ------------------------------------------------------------------------------


async def insert_question(
    session: AsyncSession, asker_id: int, question: str, created_at: datetime
) -> int:
    statement = insert(QUESTIONS).values(
        asker_id=asker_id, question=question, status="open", created_at=created_at
    )
    result = cast(CursorResult[Any], await session.execute(statement))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


async def question(session: AsyncSession, question_id: int) -> QuestionRow | None:
    columns = QUESTIONS.c
    row = (
        await session.execute(
            select(
                columns.id, columns.asker_id, columns.question, columns.answer, columns.status
            ).where(columns.id == question_id)
        )
    ).first()
    if row is None:
        return None
    return QuestionRow(row.id, row.asker_id, row.question, row.answer, row.status)


async def set_answer(
    session: AsyncSession, question_id: int, answer: str, by_id: int, at: datetime
) -> None:
    await session.execute(
        update(QUESTIONS)
        .where(QUESTIONS.c.id == question_id)
        .values(answer=answer, answered_by_id=by_id, answered_at=at, status="answered")
    )


async def set_status(session: AsyncSession, question_id: int, status: str) -> None:
    await session.execute(
        update(QUESTIONS).where(QUESTIONS.c.id == question_id).values(status=status)
    )


# --- people, as this feature needs them -------------------------------------------------------


async def person(session: AsyncSession, person_id: int) -> Person | None:
    row = (await session.execute(_PEOPLE.where(_USERS.c.id == person_id))).first()
    return _person(row) if row is not None else None


async def active_people(
    session: AsyncSession, *, roles: Collection[Role], team_id: int | None, besides: int
) -> list[Person]:
    """Active people of these roles (of one team, when given), other than `besides`."""
    query = _PEOPLE.where(
        _USERS.c.active.is_(True),
        _USERS.c.id != besides,
        _USERS.c.role.in_([role.value for role in roles]),
    ).order_by(_USERS.c.id)
    if team_id is not None:
        query = query.where(_USERS.c.team_id == team_id)
    return [_person(row) for row in await session.execute(query)]


# --- confirmed answers ------------------------------------------------------------------------


async def insert_learned(session: AsyncSession, **values: Any) -> None:
    await session.execute(insert(LEARNED).values(**values))


async def learned(session: AsyncSession, *, unexported_only: bool = False) -> list[LearnedRow]:
    columns = LEARNED.c
    query = select(columns.id, columns.entry_id, columns.title, columns.body).order_by(columns.id)
    if unexported_only:
        query = query.where(columns.exported_at.is_(None))
    return [LearnedRow(r.id, r.entry_id, r.title, r.body) for r in await session.execute(query)]


async def mark_exported(session: AsyncSession, ids: Collection[int], at: datetime) -> None:
    await session.execute(update(LEARNED).where(LEARNED.c.id.in_(list(ids))).values(exported_at=at))


# --- learned phrasings ------------------------------------------------------------------------


class PhrasingRow(NamedTuple):
    id: int
    entry_id: str
    phrasing: str
    status: str
    ups: int
    downs: int
    version: int


class Tally(NamedTuple):
    """The votes on one phrasing, each person once: 👍 and 👎, and whether a lead gave each."""

    ups: int
    downs: int
    lead_up: bool
    lead_down: bool


_PHRASING_COLUMNS = (
    PHRASINGS.c.id, PHRASINGS.c.entry_id, PHRASINGS.c.phrasing, PHRASINGS.c.status,
    PHRASINGS.c.ups, PHRASINGS.c.downs, PHRASINGS.c.version,
)  # fmt: skip


async def phrasing_for_vote(
    session: AsyncSession, entry_id: str, phrasing: str, at: datetime
) -> PhrasingRow:
    """The phrasing's row, created when new, and locked (PostgreSQL) until the transaction
    ends: two people confirming at once are counted one after the other, so neither count
    misses the other's vote."""
    statement = insert_or_conflict(session, PHRASINGS).values(
        entry_id=entry_id, phrasing=phrasing, status="pending", ups=0, downs=0, version=1,
        created_at=at, changed_at=at,
    )  # fmt: skip
    await session.execute(statement.on_conflict_do_nothing())
    query = select(*_PHRASING_COLUMNS).where(
        PHRASINGS.c.entry_id == entry_id, PHRASINGS.c.phrasing == phrasing
    )
    row = (await session.execute(query.with_for_update())).one()
    return PhrasingRow(*row)


async def vote(
    session: AsyncSession, phrasing_id: int, user_id: int, *, up: bool, lead: bool, at: datetime
) -> None:
    """A person's word on a phrasing: their latest replaces their earlier one."""
    statement = insert_or_conflict(session, VOTES).values(
        phrasing_id=phrasing_id, user_id=user_id, up=up, lead=lead, at=at
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[VOTES.c.phrasing_id, VOTES.c.user_id],
            set_={"up": up, "lead": lead, "at": at},
        )
    )


async def tally(session: AsyncSession, phrasing_id: int) -> Tally:
    v = VOTES.c
    query = select(
        func.count().filter(v.up.is_(True)),
        func.count().filter(v.up.is_(False)),
        func.max(case((v.up.is_(True) & v.lead.is_(True), 1), else_=0)),
        func.max(case((v.up.is_(False) & v.lead.is_(True), 1), else_=0)),
    ).where(v.phrasing_id == phrasing_id)
    ups, downs, lead_up, lead_down = (await session.execute(query)).one()
    return Tally(int(ups), int(downs), bool(lead_up), bool(lead_down))


async def set_phrasing(
    session: AsyncSession,
    row: PhrasingRow,
    *,
    status: str,
    ups: int,
    downs: int,
    at: datetime,
    removed_by_id: int | None = None,
) -> PhrasingRow:
    """New counts and status; the version grows only when the status changes."""
    version = row.version + (1 if status != row.status else 0)
    values: dict[str, Any] = {
        "status": status, "ups": ups, "downs": downs, "version": version, "changed_at": at,
    }  # fmt: skip
    if removed_by_id is not None:
        values["removed_by_id"] = removed_by_id
    await session.execute(update(PHRASINGS).where(PHRASINGS.c.id == row.id).values(**values))
    return row._replace(status=status, ups=ups, downs=downs, version=version)


async def phrasing(session: AsyncSession, phrasing_id: int) -> PhrasingRow | None:
    query = select(*_PHRASING_COLUMNS).where(PHRASINGS.c.id == phrasing_id)
    row = (await session.execute(query.with_for_update())).first()
    return PhrasingRow(*row) if row is not None else None


async def phrasings(session: AsyncSession, statuses: Collection[str]) -> list[PhrasingRow]:
    """Phrasings in these states, by entry and then the order they were first voted on."""
    query = (
        select(*_PHRASING_COLUMNS)
        .where(PHRASINGS.c.status.in_(list(statuses)))
        .order_by(PHRASINGS.c.entry_id, PHRASINGS.c.id)
    )
    return [PhrasingRow(*row) for row in await session.execute(query)]


async def count_phrasings(session: AsyncSession, status: str) -> int:
    query = select(func.count()).select_from(PHRASINGS).where(PHRASINGS.c.status == status)
    return int((await session.execute(query)).scalar_one())
