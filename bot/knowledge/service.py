"""The knowledge base in use: search, feedback, and the unanswered-question loop.

Files are the source of truth (knowledge_base/, scripts_library/); answers a lead confirms in
the bot live in the database until `voronka content export-new` writes them as files.
Every use case takes the acting person and checks what they may do here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

from bot.common.clock import Clock
from bot.common.errors import FileProblem, Forbidden, Invalid, NotFound
from bot.db.session import Session, SessionFactory, transaction
from bot.knowledge import store
from bot.knowledge.content import KINDS, ContentLibrary, Entry, load_content
from bot.knowledge.search import MAYBE_THRESHOLD, Hit, SearchIndex
from bot.knowledge.semantic import Semantic
from bot.people.service import Person, Role

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


@dataclass(frozen=True, slots=True)
class ScriptGap:
    """What a client said at a script step that had no answer for it, and who wrote it down."""

    script_id: str
    script: str
    step_id: str
    step: str
    said: str
    who: str
    team: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Loaded:
    """What a (re)load read: how many entries are searchable, and the files skipped."""

    count: int
    problems: tuple[FileProblem, ...]


@dataclass(frozen=True, slots=True)
class Answer:
    """The reply to a question: the best entry and a few more, or none (`best` is None)."""

    query: str
    best: Entry | None
    others: tuple[Entry, ...] = ()
    ask: Role | None = None
    """Not found: the role of whoever `ask_lead` would send the question to (the team's
    leads, else the admins); None when there is nobody, so nobody is offered to ask."""
    maybe: tuple[Entry, ...] = ()
    """Not found: weak candidates, shown as "maybe one of these", never as the answer."""


class KnowledgeService:
    """One loaded library and its index; a (re)load swaps both at once."""

    def __init__(
        self,
        db: SessionFactory,
        dirs: Sequence[Path],
        *,
        clock: Clock,
        semantic: Semantic | None = None,
    ) -> None:
        self._db = db
        self._dirs = tuple(dirs)
        self._clock = clock
        self._semantic = semantic
        self._upgrade: asyncio.Task[None] | None = None
        self._library = ContentLibrary()
        self._index = SearchIndex.build(())

    # --- loading ----------------------------------------------------------------------

    async def load(self, *, background: bool = False) -> Loaded:
        """The system's own load, at start: read the files (a broken one is skipped and
        reported) plus confirmed answers. People reload through `reload`.

        With `background`, the word index answers at once and the hybrid one (whose
        embeddings may take a while on a new base) replaces it when ready: at start, the
        first question must not wait for the model.
        """
        loaded = await asyncio.to_thread(load_content, self._dirs)
        async with transaction(self._db) as session:
            learned = _learned_entries(await store.learned(session))
        known = {entry.id for entry in loaded.entries}
        entries = list(loaded.entries) + [e for e in learned if e.id not in known]
        library = ContentLibrary(entries)
        if background and self._semantic is not None:
            words = await asyncio.to_thread(SearchIndex.build, entries)
            self._library, self._index = library, words
            self._upgrade = asyncio.create_task(self._build_hybrid(library, entries))
            return Loaded(len(entries), loaded.problems)
        index = await asyncio.to_thread(SearchIndex.build, entries, semantic=self._semantic)
        self._library, self._index = library, index
        return Loaded(len(entries), loaded.problems)

    async def _build_hybrid(self, library: ContentLibrary, entries: list[Entry]) -> None:
        index = await asyncio.to_thread(SearchIndex.build, entries, semantic=self._semantic)
        if self._library is library:  # not reloaded meanwhile: the newer load wins
            self._index = index

    async def reload(self, actor: Person) -> Loaded:
        """/reload: an admin has the files read again."""
        if not actor.is_admin:
            raise Forbidden("team.admin_only")
        return await self.load()

    @property
    def library(self) -> ContentLibrary:
        """The loaded entries, for system jobs (the digest names entries by title)."""
        return self._library

    # --- asking and reading -----------------------------------------------------------

    async def answer(
        self, actor: Person, text: str, *, kinds: Collection[str] | None = None
    ) -> Answer:
        """A question in the person's words: the best entry with two more candidates, or
        none; either way the event is recorded (what the base lacks shows in the digest).
        """
        _member(actor)
        query = " ".join(text.split())
        if not any(char.isalnum() for char in query):
            raise Invalid("kb.empty_query")
        index = self._index
        hits = index.search(query[:MAX_QUERY], kinds=kinds, limit=3, min_score=MAYBE_THRESHOLD)
        sure = [hit for hit in hits if hit.score >= index.threshold]
        best = self._library.get(sure[0].entry_id) if sure else None
        if best is None:
            async with transaction(self._db) as session:
                await self._insert_event(session, actor, Event.NOT_FOUND, query=query)
                answerers = await self._answerers(session, actor)
            maybe = tuple(e for h in hits if (e := self._library.get(h.entry_id)) is not None)
            return Answer(query, None, ask=answerers[0].role if answerers else None, maybe=maybe)
        hits = sure
        await self._record(actor, Event.ANSWERED, query=query, entry_id=best.id)
        others = tuple(e for h in hits[1:] if (e := self._library.get(h.entry_id)) is not None)
        return Answer(query, best, others)

    def search(
        self, actor: Person, query: str, *, kinds: Collection[str] | None = None, limit: int = 3
    ) -> list[Hit]:
        """Plain search, recording nothing (inline mode, tests)."""
        _member(actor)
        return self._index.search(query[:MAX_QUERY], kinds=kinds, limit=limit)

    def found(self, actor: Person, query: str, *, limit: int) -> list[Entry]:
        """The entries matching a query, best first (inline mode lists them)."""
        hits = self.search(actor, query, limit=limit) if query.strip() else []
        return [e for hit in hits if (e := self._library.get(hit.entry_id)) is not None]

    def entry(self, actor: Person, entry_id: str) -> Entry:
        _member(actor)
        entry = self._library.get(entry_id)
        if entry is None:  # every entry is everyone's to read: "gone" tells nothing hidden
            raise Invalid("kb.entry_gone")
        return entry

    def kinds(self, actor: Person) -> dict[str, int]:
        """How many entries of each kind there are (kinds without entries left out)."""
        _member(actor)
        counts = {kind: len(self._library.by_kind(kind)) for kind in KINDS}
        return {kind: count for kind, count in counts.items() if count}

    def tags(self, actor: Person, kind: str) -> list[str]:
        _member(actor)
        return list(self._library.tags(kind))

    def entries(self, actor: Person, kind: str, tag: str | None = None) -> list[Entry]:
        """Entries of a kind, of one tag when given, in the library's order."""
        _member(actor)
        if tag is None:
            return list(self._library.by_kind(kind))
        return list(self._library.by_tag(tag, kind))

    async def feedback(self, actor: Person, entry_id: str, *, up: bool, query: str | None) -> None:
        """👍/👎 on an entry that is still there."""
        entry = self.entry(actor, entry_id)
        await self._record(actor, Event.UP if up else Event.DOWN, query=query, entry_id=entry.id)

    async def script_gap(
        self, actor: Person, entry_id: str, step_id: str, text: str
    ) -> Entry | None:
        """«Нет подходящего ответа»: what the client said at a step the script lacks.

        Kept whole for the script's author (the digest and `voronka content gaps` show it),
        even when the script was reloaded meanwhile; the entry comes back to go on walking
        it, or None when it is gone. Words are required: «...» tells the author nothing,
        and a text over the limit is refused rather than cut, so nothing is lost unsaid.
        """
        _member(actor)
        said = " ".join(text.split())
        if not any(char.isalnum() for char in said):
            raise Invalid("kb.gap_empty")
        if len(said) > MAX_QUERY:
            raise Invalid("kb.gap_too_long", limit=MAX_QUERY)
        async with transaction(self._db) as session:
            await self._insert_event(
                session, actor, Event.SCRIPT_GAP, entry_id=entry_id, step_id=step_id, text=said
            )
        return self._library.get(entry_id)

    async def script_gaps(self, *, since: datetime | None = None) -> list[ScriptGap]:
        """Every recorded «no suitable answer», oldest first, named by the loaded scripts.

        The operator's command at the shell (`voronka content gaps`): no person acts. A
        script or step no longer loaded is named by its id.
        """
        async with transaction(self._db) as session:
            rows = await store.script_gaps(session, Event.SCRIPT_GAP, since=since)
        gaps = []
        for row in rows:
            script_id, step_id = row.entry_id or "", row.step_id or ""
            entry = self._library.get(script_id)
            step = entry.step(step_id) if entry else None
            gaps.append(
                ScriptGap(
                    script_id=script_id, script=entry.title if entry else script_id,
                    step_id=step_id, step=step.title if step else step_id,
                    said=row.text or "", who=row.who or "", team=row.team or "", at=row.at,
                )
            )  # fmt: skip
        return gaps

    async def _record(
        self,
        actor: Person | None,
        kind: str,
        *,
        query: str | None = None,
        entry_id: str | None = None,
    ) -> None:
        async with transaction(self._db) as session:
            await self._insert_event(session, actor, kind, query=query, entry_id=entry_id)

    async def _insert_event(
        self,
        session: Session,
        actor: Person | None,
        kind: str,
        *,
        query: str | None = None,
        entry_id: str | None = None,
        step_id: str | None = None,
        text: str | None = None,
    ) -> None:
        await store.insert_event(
            session, user_id=actor.id if actor else None, kind=kind,
            query=query[:MAX_QUERY] if query else None, entry_id=entry_id, step_id=step_id,
            text=text[:MAX_QUERY] if text else None, at=self._clock(),
        )  # fmt: skip

    # --- the unanswered loop ----------------------------------------------------------

    async def ask_lead(self, actor: Person, question: str) -> tuple[Question, list[Person]]:
        """Store the question and name who should answer: the team's leads, else the admins.

        With nobody to send it to (a lead or the only admin, with no admin above), nothing
        is stored: a question no one can see would wait for an answer forever.
        """
        _member(actor)
        cleaned = " ".join(question.split())
        if not cleaned:
            raise Invalid("kb.empty_query")
        async with transaction(self._db) as session:
            leads = await self._answerers(session, actor)
            if not leads:
                raise Invalid("kb.nobody_to_ask")
            text = cleaned[:MAX_QUERY]
            question_id = await store.insert_question(session, actor.id, text, self._clock())
            return Question(question_id, actor, text, None, "open"), leads

    async def question_to_answer(self, actor: Person, question_id: int) -> Question:
        """The question a lead is about to answer, if they may answer it."""
        async with transaction(self._db) as session:
            row, asker = await self._question(session, actor, question_id)
            return Question(row.id, asker, row.question, row.answer, row.status)

    async def answer_question(self, actor: Person, question_id: int, answer: str) -> Question:
        """A lead's answer; the asker is told, and the lead decides whether it joins the base."""
        text = answer.strip()
        if not text or len(text) > MAX_ANSWER:
            raise Invalid("kb.bad_answer", limit=MAX_ANSWER)
        async with transaction(self._db) as session:
            row, asker = await self._question(session, actor, question_id)
            if row.status != "open":
                raise Invalid("kb.already_answered")
            await store.set_answer(session, row.id, text, actor.id, self._clock())
            return Question(row.id, asker, row.question, text, "answered")

    async def confirm(self, actor: Person, question_id: int, *, accept: bool) -> Entry | None:
        """Accepted: a new entry (the question as an alias) that search finds from now on."""
        async with transaction(self._db) as session:
            row, _ = await self._question(session, actor, question_id)
            if row.status != "answered" or row.answer is None:
                raise Invalid("kb.already_answered")
            await store.set_status(session, row.id, "confirmed" if accept else "declined")
            if not accept:
                return None
            entry_id = f"learned-{row.id}"
            await store.insert_learned(
                session, entry_id=entry_id, question_id=row.id, title=row.question,
                body=row.answer, created_at=self._clock(),
            )  # fmt: skip
        await self.load()
        return self._library.get(entry_id)

    async def export_new(self, out_dir: Path) -> list[Path]:
        """Write confirmed answers not yet exported as Markdown entries; mark them exported.

        The operator's command at the shell (`voronka content export-new`): no person acts.
        """
        async with transaction(self._db) as session:
            rows = await store.learned(session, unexported_only=True)
            files = {out_dir / f"{row.entry_id}.md": _markdown(row) for row in rows}
            written = await asyncio.to_thread(_write_files, out_dir, files)
            if rows:
                await store.mark_exported(session, [row.id for row in rows], self._clock())
        return written

    async def _answerers(self, session: Session, actor: Person) -> list[Person]:
        """Who receives a person's question: the one rule behind both the «ask» button and
        the sending. A manager's team leads; for anyone else (a lead, an admin), or a team
        without a lead, the admins other than the asker; possibly nobody."""
        leads: list[Person] = []
        if actor.role is Role.MANAGER and actor.team_id is not None:
            leads = await store.active_people(
                session, roles=(Role.LEAD,), team_id=actor.team_id, besides=actor.id
            )
        if not leads:
            leads = await store.active_people(
                session, roles=(Role.ADMIN,), team_id=None, besides=actor.id
            )
        return leads

    async def _question(
        self, session: Session, actor: Person, question_id: int
    ) -> tuple[store.QuestionRow, Person]:
        """A question and its asker, for a lead of the asker's team or an admin (not the asker)."""
        _member(actor)
        if actor.role is Role.MANAGER:
            raise Forbidden("kb.not_your_question")  # before the look-up: the same for any id
        row = await store.question(session, question_id)
        asker = await store.person(session, row.asker_id) if row is not None else None
        if (
            row is None
            or asker is None
            or (actor.role is Role.LEAD and asker.team_id != actor.team_id)
        ):
            raise NotFound("kb.question_gone")  # another team's question is as good as none
        if actor.id == row.asker_id:
            raise Forbidden("kb.not_your_question")
        return row, asker


def _member(actor: Person) -> None:
    """Reading and asking are for every active person; the gate stops others earlier, this
    keeps a front end without that gate from serving them."""
    if not actor.active:
        raise Forbidden("common.forbidden")


def _learned_entries(rows: list[store.LearnedRow]) -> list[Entry]:
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


def _markdown(row: store.LearnedRow) -> str:
    front = {
        "id": row.entry_id,
        "kind": "faq",
        "title": row.title,
        "aliases": [row.title],
        "tags": ["из вопросов"],
    }
    header = yaml.safe_dump(front, allow_unicode=True, sort_keys=False).strip()
    return f"---\n{header}\n---\n{row.body.strip()}\n"
