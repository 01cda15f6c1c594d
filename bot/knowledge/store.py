"""The knowledge feature's SQL: events, the questions sent to leads, confirmed answers.

Core statements only, rows mapped to frozen values; the service passes the session in.
People are read from the users table as `Person` values (who asked, who may answer):
the rows are the people feature's, the rule of who answers is this feature's.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import CursorResult, Row, Select, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import KnowledgeEvent, KnowledgeQuestion, LearnedEntry, Team, User, table_of
from bot.people.service import Person, Role

EVENTS, QUESTIONS, LEARNED = (
    table_of(KnowledgeEvent),
    table_of(KnowledgeQuestion),
    table_of(LearnedEntry),
)
_USERS, _TEAMS = table_of(User), table_of(Team)


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
