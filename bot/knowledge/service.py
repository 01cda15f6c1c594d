"""The knowledge base in use: search, feedback, and the unanswered-question loop.

Files are the source of truth (knowledge_base/, scripts_library/); answers a lead confirms in
the bot live in the database until `voronka content export-new` writes them as files.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.common.clock import Clock
from bot.common.errors import Forbidden, Invalid, NotFound
from bot.db.models import KnowledgeEvent, KnowledgeQuestion, LearnedEntry, User
from bot.db.session import transaction
from bot.knowledge.content import ContentLibrary, Entry, Problem, load_content
from bot.knowledge.search import Hit, SearchIndex
from bot.people.service import Person, Role, person_of

MAX_QUERY = 4096
MAX_ANSWER = 3500
LEARNED_SOURCE = Path("<learned>")


class Event:
    ANSWERED = "answered"
    NOT_FOUND = "not_found"
    UP = "up"
    DOWN = "down"
    SCRIPT_GAP = "script_gap"


@dataclass(frozen=True, slots=True)
class Question:
    id: int
    asker: Person
    question: str
    answer: str | None
    status: str


class KnowledgeService:
    """One loaded library and its index; `reload` swaps both at once."""

    def __init__(
        self, db: async_sessionmaker[AsyncSession], dirs: Sequence[Path], *, clock: Clock
    ) -> None:
        self._db = db
        self._dirs = tuple(dirs)
        self._clock = clock
        self.library = ContentLibrary()
        self.index = SearchIndex.build(())
        self.problems: tuple[Problem, ...] = ()

    async def reload(self) -> tuple[int, tuple[Problem, ...]]:
        """Read the files (a broken one is skipped and reported) plus confirmed answers."""
        loaded = await asyncio.to_thread(load_content, self._dirs)
        learned = await self._learned_entries()
        known = {entry.id for entry in loaded.entries}
        entries = list(loaded.entries) + [e for e in learned if e.id not in known]
        index = await asyncio.to_thread(SearchIndex.build, entries)
        self.library, self.index, self.problems = ContentLibrary(entries), index, loaded.problems
        return len(entries), loaded.problems

    def search(
        self, query: str, *, kinds: Collection[str] | None = None, limit: int = 3
    ) -> list[Hit]:
        return self.index.search(query[:MAX_QUERY], kinds=kinds, limit=limit)

    def entry(self, entry_id: str) -> Entry:
        entry = self.library.get(entry_id)
        if entry is None:
            raise NotFound("kb.entry_gone")
        return entry

    async def record(
        self,
        actor: Person | None,
        kind: str,
        *,
        query: str | None = None,
        entry_id: str | None = None,
        step_id: str | None = None,
        text: str | None = None,
    ) -> None:
        async with transaction(self._db) as session:
            session.add(
                KnowledgeEvent(
                    user_id=actor.id if actor else None, kind=kind,
                    query=query[:MAX_QUERY] if query else None, entry_id=entry_id,
                    step_id=step_id, text=text[:MAX_QUERY] if text else None, at=self._clock(),
                )
            )  # fmt: skip

    # --- the unanswered loop ----------------------------------------------------------

    async def ask_lead(self, actor: Person, question: str) -> tuple[Question, list[Person]]:
        """Store the question and name who should answer: the team's leads, else the admins."""
        cleaned = " ".join(question.split())
        if not cleaned:
            raise Invalid("kb.empty_query")
        async with transaction(self._db) as session:
            row = KnowledgeQuestion(
                asker_id=actor.id, question=cleaned[:MAX_QUERY], status="open",
                created_at=self._clock(),
            )  # fmt: skip
            session.add(row)
            await session.flush()
            leads = await self._answerers(session, actor)
            return Question(row.id, actor, row.question, None, row.status), leads

    async def answer_question(self, actor: Person, question_id: int, answer: str) -> Question:
        """A lead's answer; the asker is told, and the lead decides whether it joins the base."""
        text = answer.strip()
        if not text or len(text) > MAX_ANSWER:
            raise Invalid("kb.bad_answer", limit=MAX_ANSWER)
        async with transaction(self._db) as session:
            row, asker = await self._question(session, actor, question_id)
            if row.status != "open":
                raise Invalid("kb.already_answered")
            row.answer, row.answered_by_id, row.answered_at = text, actor.id, self._clock()
            row.status = "answered"
            return Question(row.id, asker, row.question, row.answer, row.status)

    async def confirm(self, actor: Person, question_id: int, *, accept: bool) -> Entry | None:
        """Accepted: a new entry (the question as an alias) that search finds from now on."""
        async with transaction(self._db) as session:
            row, _ = await self._question(session, actor, question_id)
            if row.status != "answered" or row.answer is None:
                raise Invalid("kb.already_answered")
            row.status = "confirmed" if accept else "declined"
            if not accept:
                return None
            entry_id = f"learned-{row.id}"  # ASCII and short: it travels in callback data
            session.add(
                LearnedEntry(
                    entry_id=entry_id, question_id=row.id, title=row.question, body=row.answer,
                    created_at=self._clock(),
                )
            )  # fmt: skip
        await self.reload()
        return self.library.get(entry_id)

    async def export_new(self, out_dir: Path) -> list[Path]:
        """Write confirmed answers not yet exported as Markdown entries; mark them exported."""
        async with transaction(self._db) as session:
            rows = list(
                await session.scalars(
                    select(LearnedEntry).where(LearnedEntry.exported_at.is_(None))
                )
            )
            files = {out_dir / f"{row.entry_id}.md": _markdown(row) for row in rows}
            written = await asyncio.to_thread(_write_files, out_dir, files)
            if rows:
                await session.execute(
                    update(LearnedEntry)
                    .where(LearnedEntry.id.in_([row.id for row in rows]))
                    .values(exported_at=self._clock())
                )
        return written

    async def _answerers(self, session: AsyncSession, actor: Person) -> list[Person]:
        query = select(User).where(User.active.is_(True), User.id != actor.id)
        leads: list[User] = []
        if actor.role is Role.MANAGER and actor.team_id is not None:
            leads = list(
                await session.scalars(
                    query.where(User.role == Role.LEAD.value, User.team_id == actor.team_id)
                )
            )
        if not leads:
            leads = list(await session.scalars(query.where(User.role == Role.ADMIN.value)))
        return [person_of(u) for u in leads]

    async def _question(
        self, session: AsyncSession, actor: Person, question_id: int
    ) -> tuple[KnowledgeQuestion, Person]:
        row = await session.get(KnowledgeQuestion, question_id)
        if row is None:
            raise NotFound("kb.question_gone")
        asker_row = await session.get(User, row.asker_id)
        assert asker_row is not None
        if actor.role is Role.MANAGER or actor.id == row.asker_id:
            raise Forbidden("kb.not_your_question")
        if actor.role is Role.LEAD and asker_row.team_id != actor.team_id:
            raise Forbidden("kb.not_your_question")
        asker = person_of(asker_row)
        return row, asker

    async def _learned_entries(self) -> list[Entry]:
        async with transaction(self._db) as session:
            rows = list(await session.scalars(select(LearnedEntry)))
        return [
            Entry(
                id=row.entry_id,
                kind="faq",
                title=row.title,
                aliases=(row.title,),
                tags=("из вопросов",),
                files=(),
                body=row.body,
                source=LEARNED_SOURCE,
            )
            for row in rows
        ]


def _write_files(folder: Path, files: dict[Path, str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    return list(files)


def _markdown(row: LearnedEntry) -> str:
    front = {
        "id": row.entry_id,
        "kind": "faq",
        "title": row.title,
        "aliases": [row.title],
        "tags": ["из вопросов"],
    }
    header = yaml.safe_dump(front, allow_unicode=True, sort_keys=False).strip()
    return f"---\n{header}\n---\n{row.body.strip()}\n"
