"""The knowledge base in use: search, feedback, and the unanswered-question loop.

Files are the source of truth (knowledge_base/, scripts_library/); answers a lead confirms in
the bot live in the database until `voronka content export-new` writes them as files.
Every use case takes the acting person and checks what they may do here.

The search learns from use. A person's pick of an offered candidate, or their 👍 on the
answer to their question, is a vote that the question (normalised) is a phrasing of that
entry; 👎 is a vote that it is not. Each person counts once per phrasing (their latest vote),
and only active people vote (strangers never get this far). `phrasing_status` turns the
votes into the phrasing's state:

- active: 👍 from at least two people, or from one lead or admin, and more 👍 than 👎. The
  phrasing is an alias of its entry in the index, and that exact question puts the entry first;
- demoted: 👎 from at least two people, or from one lead or admin, and more 👎 than 👍. For
  that exact question the entry goes last among the candidates, and is never the answer;
- pending: anything else (one manager's clicks, however many, stay here);
- removed: a lead or admin removed it in `/kb learned`; it stays removed whatever the votes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from pathlib import Path

import yaml

from bot.common.clock import Clock
from bot.common.errors import Conflict, FileProblem, Forbidden, Invalid, NotFound
from bot.common.text import words
from bot.db.session import Session, SessionFactory, transaction
from bot.knowledge import store
from bot.knowledge.content import KINDS, ContentLibrary, Entry, load_content
from bot.knowledge.search import Hit, SearchIndex
from bot.knowledge.semantic import Semantic
from bot.ops import metrics
from bot.people.service import Person, Role

MAX_QUERY = 4096
MAX_ANSWER = 3500
MAX_PHRASING = 300
LEARNED_SOURCE = Path("<learned>")
ALIASES_FILE = "learned-aliases.yaml"
log = logging.getLogger("voronka.knowledge")


class Event:
    ANSWERED = "answered"
    NOT_FOUND = "not_found"
    UP = "up"
    DOWN = "down"
    SCRIPT_GAP = "script_gap"
    PICKED = "picked"


class Status:
    PENDING = "pending"
    ACTIVE = "active"
    DEMOTED = "demoted"
    REMOVED = "removed"


def normalise(question: str) -> str:
    """A question as a phrasing: lowercase words (ё as е), no punctuation, one space apart;
    «Клиент говорит: дорого!» and «клиент говорит дорого» are one phrasing."""
    return " ".join(words(question))[:MAX_PHRASING].strip()


def phrasing_status(tally: store.Tally) -> str:
    """The state the votes give a phrasing (the rule is in the module's docstring)."""
    if (tally.ups >= 2 or tally.lead_up) and tally.ups > tally.downs:
        return Status.ACTIVE
    if (tally.downs >= 2 or tally.lead_down) and tally.downs > tally.ups:
        return Status.DEMOTED
    return Status.PENDING


@dataclass(frozen=True, slots=True)
class LearnedPhrasing:
    """A phrasing in `/kb learned`: `title` is its entry's, or the id of an entry now gone."""

    id: int
    version: int
    entry_id: str
    title: str
    phrasing: str
    status: str
    ups: int
    downs: int


@dataclass(frozen=True, slots=True)
class LearnedList:
    """The active and demoted phrasings, and how many wait for a second confirmation."""

    phrasings: tuple[LearnedPhrasing, ...]
    pending: int


@dataclass(frozen=True, slots=True)
class Vote:
    """What a pick or a 👍/👎 did: the phrasing's state after it (None: nothing was learned,
    the press came without a question of this person's)."""

    status: str | None = None
    changed: bool = False


@dataclass(frozen=True, slots=True)
class _Learned:
    """The active and demoted phrasings as the search uses them, swapped whole."""

    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    first: Mapping[str, str] = field(default_factory=dict)  # phrasing -> entry put first
    demoted: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: Iterable[store.PhrasingRow]) -> _Learned:
        aliases: dict[str, list[str]] = {}
        first: dict[str, tuple[int, str]] = {}
        demoted: dict[str, set[str]] = {}
        for row in rows:
            if row.status == Status.ACTIVE:
                aliases.setdefault(row.entry_id, []).append(row.phrasing)
                if row.phrasing not in first or first[row.phrasing][0] < row.ups:
                    first[row.phrasing] = (row.ups, row.entry_id)
            elif row.status == Status.DEMOTED:
                demoted.setdefault(row.phrasing, set()).add(row.entry_id)
        return cls(
            {key: tuple(value) for key, value in aliases.items()},
            {key: entry_id for key, (_, entry_id) in first.items()},
            {key: frozenset(value) for key, value in demoted.items()},
        )

    def rank(self, query: str, found: Sequence[str]) -> list[str]:
        """The search's entry ids for a question, after what people taught it: the entry
        confirmed for this exact question first, the ones voted down for it last (and none
        of those when nothing else is left: a demoted entry is not the answer)."""
        phrasing = normalise(query)
        ids = list(found)
        if (entry_id := self.first.get(phrasing)) is not None:
            ids = [entry_id, *(i for i in ids if i != entry_id)]
        down = self.demoted.get(phrasing, frozenset())
        kept = [i for i in ids if i not in down]
        return kept + [i for i in ids if i in down] if kept else []

    def sort(
        self, query: str, hits: Sequence[Hit], threshold: float
    ) -> tuple[list[str], list[str]]:
        """Sure answers and weak candidates for a question, after what people taught it: the
        entry confirmed for this exact question is sure whatever its score; one voted down
        for it is never sure (`rank` puts it last, or drops it when nothing else is left)."""
        phrasing = normalise(query)
        taught, down = self.first.get(phrasing), self.demoted.get(phrasing, frozenset())
        score = {hit.entry_id: hit.score for hit in hits}
        ranked = self.rank(query, list(score))
        sure = [
            i for i in ranked if i not in down and (i == taught or score.get(i, 0.0) >= threshold)
        ]
        return sure, [i for i in ranked if i not in sure]


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
        self._entries: list[Entry] = []
        self._learned = _Learned()
        self._index = SearchIndex.build(())
        self._swap = asyncio.Lock()  # one (re)build at a time: the last swap is the newest
        self._loaded = False

    # --- loading ----------------------------------------------------------------------

    async def load(self, *, background: bool = False) -> Loaded:
        """The system's own load, at start: read the files (a broken one is skipped and
        reported) plus confirmed answers. People reload through `reload`.

        With `background`, the word index answers at once and the hybrid one (whose
        embeddings may take a while on a new base) replaces it when ready: at start, the
        first question must not wait for the model.
        """
        loaded = await asyncio.to_thread(load_content, self._dirs)
        async with self._swap:
            async with transaction(self._db) as session:
                learned = _learned_entries(await store.learned(session))
                phrasings = _Learned.of(await store.phrasings(session, _IN_SEARCH))
            known = {entry.id for entry in loaded.entries}
            entries = list(loaded.entries) + [e for e in learned if e.id not in known]
            library, taught = ContentLibrary(entries), _with_aliases(entries, phrasings)
            if background and self._semantic is not None:
                index = await asyncio.to_thread(SearchIndex.build, taught)
                self._upgrade = asyncio.create_task(self._build_hybrid(library, phrasings))
            else:
                index = await self._build(taught)
            self._library, self._index = library, index
            self._entries, self._learned = entries, phrasings
            self._loaded = True
        return Loaded(len(entries), loaded.problems)

    async def ready(self) -> None:
        """Wait for the hybrid index a background load is building (at once without one):
        a check that compares answers needs one index throughout, not the word index
        first and the hybrid one later."""
        if self._upgrade is not None:
            await asyncio.shield(self._upgrade)

    async def _build(self, entries: Sequence[Entry]) -> SearchIndex:
        return await asyncio.to_thread(SearchIndex.build, entries, semantic=self._semantic)

    async def _build_hybrid(self, library: ContentLibrary, learned: _Learned) -> None:
        """The hybrid index, built after a background load; dropped when a reload or a
        newly learned phrasing replaced the index meanwhile (the newer one wins)."""
        index = await self._build(_with_aliases(self._entries, learned))
        async with self._swap:
            if self._library is library and self._learned is learned:
                self._index = index

    async def _relearn(self) -> None:
        """After a phrasing became active, stopped being active or was removed: the search
        takes it in. The index is rebuilt only when the aliases changed (a demotion needs
        none) from the entries already read; embeddings of unchanged texts come from the
        semantic cache (see docs/ARCHITECTURE.md, «Learned phrasings»)."""
        async with self._swap:
            async with transaction(self._db) as session:
                phrasings = _Learned.of(await store.phrasings(session, _IN_SEARCH))
            if phrasings.aliases != self._learned.aliases:
                self._index = await self._build(_with_aliases(self._entries, phrasings))
            self._learned = phrasings

    async def reload(self, actor: Person) -> Loaded:
        """/reload: an admin has the files read again."""
        if not actor.is_admin:
            raise Forbidden("team.admin_only")
        return await self.load()

    @property
    def loaded(self) -> bool:
        """Whether the start-up load has run: before it, every question finds nothing (a
        readiness check says the process should not take people's questions yet)."""
        return self._loaded

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
        hits = await _search(index, query, kinds=kinds, limit=3, min_score=index.maybe_threshold)
        sure, weak = self._learned.sort(query, hits, index.threshold)
        answers, candidates = self._entries_of(sure, kinds), self._entries_of(weak, kinds)
        if not answers:
            async with transaction(self._db) as session:
                await self._insert_event(session, actor, Event.NOT_FOUND, query=query)
                answerers = await self._answerers(session, actor)
            ask = answerers[0].role if answerers else None
            return Answer(query, None, ask=ask, maybe=tuple(candidates))
        best = answers[0]
        await self._record(actor, Event.ANSWERED, query=query, entry_id=best.id)
        return Answer(query, best, tuple([*answers[1:], *candidates][:2]))

    def _entries_of(self, ids: Iterable[str], kinds: Collection[str] | None) -> list[Entry]:
        entries = [e for i in ids if (e := self._library.get(i)) is not None]
        return [e for e in entries if kinds is None or e.kind in kinds]

    async def _ranked(
        self, query: str, *, kinds: Collection[str] | None, limit: int
    ) -> list[Entry]:
        """The index's best entries, re-ranked by what people taught it for this question."""
        hits = await _search(self._index, query, kinds=kinds, limit=limit)
        ranked = self._learned.rank(query, [hit.entry_id for hit in hits])
        return self._entries_of(ranked, kinds)[:limit]

    async def search(
        self, actor: Person, query: str, *, kinds: Collection[str] | None = None, limit: int = 3
    ) -> list[Hit]:
        """Plain search, recording nothing (inline mode, tests)."""
        _member(actor)
        return await _search(self._index, query, kinds=kinds, limit=limit)

    async def found(self, actor: Person, query: str, *, limit: int) -> list[Entry]:
        """The entries matching a query, best first (inline mode lists them)."""
        _member(actor)
        return await self._ranked(query, kinds=None, limit=limit) if query.strip() else []

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

    async def feedback(
        self, actor: Person, entry_id: str, *, up: bool, query: str | None, asked: bool = False
    ) -> Vote:
        """👍/👎 on an entry that is still there. `asked`: the entry was the answer to this
        person's question `query` (not opened from a list, nor from an older question), so
        the press is also their vote on that question as a phrasing of the entry."""
        entry = self.entry(actor, entry_id)
        kind = Event.UP if up else Event.DOWN
        return await self._vote(actor, entry, kind, query, up=up, learn=asked)

    async def pick(self, actor: Person, entry_id: str, query: str | None) -> tuple[Entry, Vote]:
        """A candidate offered for the person's question `query` chosen: the entry to show,
        and the choice counted as their 👍 for the question as its phrasing (None: the
        candidate came with an older question, so it is only shown)."""
        entry = self.entry(actor, entry_id)
        return entry, await self._vote(actor, entry, Event.PICKED, query, up=True, learn=True)

    async def _vote(
        self, actor: Person, entry: Entry, kind: str, query: str | None, *, up: bool, learn: bool
    ) -> Vote:
        phrasing = normalise(query) if learn and query else ""
        at = self._clock()
        async with transaction(self._db) as session:
            await self._insert_event(session, actor, kind, query=query, entry_id=entry.id)
            if not phrasing:
                return Vote()
            row = await store.phrasing_for_vote(session, entry.id, phrasing, at)
            lead = actor.role in (Role.LEAD, Role.ADMIN)
            await store.vote(session, row.id, actor.id, up=up, lead=lead, at=at)
            tally = await store.tally(session, row.id)
            status = row.status if row.status == Status.REMOVED else phrasing_status(tally)
            await store.set_phrasing(
                session, row, status=status, ups=tally.ups, downs=tally.downs, at=at
            )
        changed = status != row.status
        if changed:
            log.info("phrasing %s of %s: %s -> %s", row.id, entry.id, row.status, status)
            await self._relearn()
        return Vote(status, changed)

    # --- learned phrasings, for leads -------------------------------------------------

    async def learned_phrasings(self, actor: Person) -> LearnedList:
        """`/kb learned`: what the search learned (active) and unlearned (demoted)."""
        _lead(actor)
        async with transaction(self._db) as session:
            rows = await store.phrasings(session, _IN_SEARCH)
            pending = await store.count_phrasings(session, Status.PENDING)
        return LearnedList(tuple(self._view(row) for row in rows), pending)

    async def remove_phrasing(
        self, actor: Person, phrasing_id: int, version: int
    ) -> LearnedPhrasing:
        """A lead takes a phrasing out of the search (or lifts a demotion), for good.

        Version-safe: a button shown before the phrasing changed state (by votes, or another
        lead's removal) is refused with what happened, not applied to what it is now."""
        _lead(actor)
        async with transaction(self._db) as session:
            row = await store.phrasing(session, phrasing_id)
            if row is None:
                raise NotFound("kb.learned_gone")
            if row.status == Status.REMOVED:
                raise Invalid("kb.learned_already_removed", phrasing=row.phrasing)
            if row.version != version or row.status not in _IN_SEARCH:
                raise Conflict("kb.learned_changed", phrasing=row.phrasing)
            row = await store.set_phrasing(
                session, row, status=Status.REMOVED, ups=row.ups, downs=row.downs,
                at=self._clock(), removed_by_id=actor.id,
            )  # fmt: skip
        log.info("phrasing %s of %s removed by %s", row.id, row.entry_id, actor.id)
        await self._relearn()
        return self._view(row)

    def _view(self, row: store.PhrasingRow) -> LearnedPhrasing:
        entry = self._library.get(row.entry_id)
        return LearnedPhrasing(
            row.id, row.version, row.entry_id, entry.title if entry else row.entry_id,
            row.phrasing, row.status, row.ups, row.downs,
        )  # fmt: skip

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
        Write the active learned phrasings that their entries' files do not have as aliases
        yet into `learned-aliases.yaml`, for the content team to merge (after a merge and
        /reload they drop out of it; with none left the file is not written).

        The operator's command at the shell (`voronka content export-new`), after the content
        is loaded (the phrasings are named by their entries' files): no person acts.
        """
        async with transaction(self._db) as session:
            rows = await store.learned(session, unexported_only=True)
            files = {out_dir / f"{row.entry_id}.md": _markdown(row) for row in rows}
            phrasings = await store.phrasings(session, (Status.ACTIVE,))
            aliases = _aliases_yaml(self._library, phrasings, self._dirs)
            if aliases:
                files[out_dir / ALIASES_FILE] = aliases
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


# Hybrid searches run here, one at a time: embedding the query is ~10 ms of the model's C
# code, which lets go of the GIL, so on the event loop it would hold up every other
# person's update meanwhile. One thread, because an index (its stemmers and caches) is
# read by one thread at a time; a word-only search (~1 ms) stays on the loop.
_SEARCHING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="search")


async def _search(
    index: SearchIndex,
    query: str,
    *,
    kinds: Collection[str] | None,
    limit: int,
    min_score: float | None = None,
) -> list[Hit]:
    """Every search of the service, timed (`voronka_search_seconds`) by its ranking."""
    with metrics.searching(hybrid=index.hybrid):
        if not index.hybrid:
            return index.search(query[:MAX_QUERY], kinds=kinds, limit=limit, min_score=min_score)
        run = partial(
            index.search, query[:MAX_QUERY], kinds=kinds, limit=limit, min_score=min_score
        )
        return await asyncio.get_running_loop().run_in_executor(_SEARCHING, run)


def _member(actor: Person) -> None:
    """Reading and asking are for every active person; the gate stops others earlier, this
    keeps a front end without that gate from serving them."""
    if not actor.active:
        raise Forbidden("common.forbidden")


def _lead(actor: Person) -> None:
    _member(actor)
    if actor.role not in (Role.LEAD, Role.ADMIN):
        raise Forbidden("kb.learned_leads_only")


_IN_SEARCH = (Status.ACTIVE, Status.DEMOTED)


def _with_aliases(entries: Sequence[Entry], learned: _Learned) -> list[Entry]:
    """The entries as the index sees them: each with its active learned phrasings as more
    aliases (the index builds from entries alone, whatever it does inside)."""
    return [
        replace(entry, aliases=entry.aliases + extra)
        if (extra := learned.aliases.get(entry.id))
        else entry
        for entry in entries
    ]


def _aliases_yaml(
    library: ContentLibrary, rows: Sequence[store.PhrasingRow], dirs: Sequence[Path]
) -> str:
    """The learned phrasings each entry's file lacks, as YAML to merge into its `aliases`."""
    by_entry: dict[str, list[store.PhrasingRow]] = {}
    for row in rows:
        by_entry.setdefault(row.entry_id, []).append(row)
    items = []
    for entry_id, learned in by_entry.items():
        entry = library.get(entry_id)
        if entry is None:
            continue  # no longer in the base: nothing to merge it into
        known = {normalise(alias) for alias in (entry.title, *entry.aliases)}
        new = [row for row in learned if row.phrasing not in known]
        if new:
            items.append(
                {
                    "id": entry.id,
                    "file": _relative(entry, dirs),
                    "title": entry.title,
                    "add_aliases": [row.phrasing for row in new],
                }
            )
    if not items:
        return ""
    head = (
        "# Questions people confirmed in the bot as asking for these entries (/kb learned).\n"
        "# Add each of add_aliases to the entry's `aliases:` in its file, commit, /reload:\n"
        "# merged ones drop out of the next `voronka content export-new`.\n"
    )
    return head + yaml.safe_dump(items, allow_unicode=True, sort_keys=False, width=1000)


def _relative(entry: Entry, dirs: Sequence[Path]) -> str:
    if entry.source == LEARNED_SOURCE:
        return f"{entry.id}.md"  # a confirmed answer: `export-new` writes it as this file
    for root in dirs:
        try:
            return str(entry.source.relative_to(root.parent))
        except ValueError:
            continue
    return str(entry.source)


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
