"""Deals and their moves through the funnel. Every move writes one stage-history row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, delete, desc, event, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.common.clock import Clock
from bot.common.errors import Conflict, Forbidden, Invalid, NotFound
from bot.db.models import Client, Deal, Note, StageTransition, Team, User
from bot.db.session import reading, transaction
from bot.deals import store as rows
from bot.deals.funnel import Funnel, FunnelConfig
from bot.deals.matching import DealRef
from bot.deals.refs import RefsCache
from bot.deals.store import DealRow, Scope
from bot.deals.team_funnels import team_funnel
from bot.people.service import Person, Role, person_of

MAX_TITLE = 200
MAX_NOTE = 3000
MAX_CONTACT = 200
RECENT_CLOSED_DAYS = 90
PAGE_SIZE = 8


class Via:
    """How a move was made; kept in the history for "who moved what"."""

    CREATE = "create"
    BUTTON = "button"
    TEXT = "text"
    COMMAND = "command"
    FOLLOWUP = "followup"
    IMPORT = "import"
    OFFER = "offer"


@dataclass(frozen=True, slots=True)
class NoteView:
    text: str
    at: datetime
    author: str | None


@dataclass(frozen=True, slots=True)
class DealView:
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
    probability: int
    lost_reason: str | None
    next_step_text: str | None
    next_step_due: datetime | None
    created_at: datetime
    stage_changed_at: datetime
    version: int
    stalled: bool = False
    overdue: bool = False
    notes: tuple[NoteView, ...] = ()

    def days_in_stage(self, now: datetime) -> int:
        return max(0, (now - self.stage_changed_at).days)

    @property
    def ref(self) -> DealRef:
        return DealRef(
            self.id, self.title, self.client, self.funnel, self.stage, self.status, self.version
        )


@dataclass(frozen=True, slots=True)
class MoveResult:
    deal: DealView
    from_stage: str
    to_stage: str
    transition_id: int
    forward: bool
    needs_next_step: bool


@dataclass(frozen=True, slots=True)
class DealPage:
    deals: tuple[DealView, ...]
    total: int
    offset: int


@dataclass(frozen=True, slots=True)
class Nudge:
    """One manager's morning list."""

    person: Person
    due_today: tuple[DealView, ...]
    overdue: tuple[DealView, ...]
    stalled: tuple[DealView, ...]

    @property
    def empty(self) -> bool:
        return not (self.due_today or self.overdue or self.stalled)


class DealsService:
    """Create, see and move deals. Access: a manager their own, a lead the team's, an admin all."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        funnels: FunnelConfig,
        *,
        clock: Clock,
        tz: ZoneInfo,
        undo_window: timedelta = timedelta(minutes=10),
    ) -> None:
        self._db = db
        self.funnels = funnels
        self._clock = clock
        self._tz = tz
        self._undo_window = undo_window
        self._refs = RefsCache()

    # --- creating and reading ---------------------------------------------------------

    async def create(
        self,
        actor: Person,
        title: str,
        *,
        amount: Decimal | None = None,
        currency: str = "RUB",
        client: str | None = None,
        contact: str | None = None,
        phone: str | None = None,
        next_step: tuple[str, datetime] | None = None,
    ) -> DealView:
        """A new deal in the first stage of the team's funnel, owned by the actor."""
        title = _clean(title, MAX_TITLE, "deal.bad_title")
        now = self._clock()
        async with transaction(self._db) as session:
            funnel = await team_funnel(session, self.funnels, actor.team_id)
            client_row = None
            if client or contact or phone:
                client_row = Client(
                    name=_clean(client or title, 300, "deal.bad_client"),
                    contact=_optional(contact, MAX_CONTACT),
                    phone=_optional(phone, 50),
                    created_at=now,
                )
                session.add(client_row)
                await session.flush()
            deal = Deal(
                title=title,
                client_id=client_row.id if client_row else None,
                owner_id=actor.id,
                team_id=actor.team_id,
                funnel=funnel.key,
                stage=funnel.first.key,
                status="open",
                amount=amount,
                currency=currency,
                next_step_text=next_step[0] if next_step else None,
                next_step_due=next_step[1] if next_step else None,
                created_at=now,
                updated_at=now,
                stage_changed_at=now,
            )
            session.add(deal)
            await session.flush()
            await rows.add_transition(
                session, deal_id=deal.id, from_stage=None, to_stage=deal.stage, at=now,
                by_id=actor.id, via=Via.CREATE,
            )  # fmt: skip
            row = await rows.read(session, deal.id)
            assert row is not None
            view = self._view(row, now)
        return self._written(view)

    async def refs(self, actor: Person) -> list[DealRef]:
        """The deals this person may change, for matching text commands (see deal_refs)."""
        scope = Scope.of(actor)
        cached = self._refs.get(scope)
        if cached is not None:
            return cached
        generation = self._refs.generation
        params: dict[str, object] = {"since": self._clock() - timedelta(days=RECENT_CLOSED_DAYS)}
        if scope.everyone:
            query = rows.REFS_ALL
        elif scope.owner_id is not None:
            query, params["owner_id"] = rows.REFS_OF_OWNER, scope.owner_id
        else:
            query, params["team_id"] = rows.REFS_OF_TEAM, scope.team_id
        async with reading(self._db) as connection:
            result = await connection.execute(query, params)
        refs = [DealRef(*row) for row in result]
        self._refs.put(scope, refs, generation)
        return refs

    def forget_refs(self) -> None:
        """Deals were written behind this service's back (an import): read them afresh."""
        self._refs.clear()

    def _written(self, view: DealView) -> DealView:
        """After a commit: the lists for matching learn the deal as it is now."""
        self._refs.changed(view.ref, view.owner_id, view.team_id)
        return view

    async def card(self, actor: Person, deal_id: int) -> DealView:
        async with transaction(self._db) as session:
            return await self.card_in(session, actor, deal_id)

    async def card_in(self, session: AsyncSession, actor: Person, deal_id: int) -> DealView:
        """The card inside a caller's transaction (SQLite runs one connection at a time)."""
        row = await self._row(session, actor, deal_id)
        notes = await self._notes(session, deal_id)
        return replace(self._view(row, self._clock()), notes=notes)

    async def list_open(
        self, actor: Person, *, owner_id: int | None = None, offset: int = 0, limit: int = PAGE_SIZE
    ) -> DealPage:
        """Open deals grouped by stage (funnel order), longest in stage first."""
        now = self._clock()
        query = Scope.of(actor).where(rows.VIEW.where(rows.DEALS.c.status == "open"))
        if owner_id is not None:
            query = query.where(rows.DEALS.c.owner_id == owner_id)
        async with transaction(self._db) as session:
            found = (await session.execute(query)).mappings().all()
        views = [self._view(row, now) for row in found]
        views.sort(key=lambda v: (self._order(v), v.stage_changed_at))
        return DealPage(tuple(views[offset : offset + limit]), len(views), offset)

    def _order(self, view: DealView) -> tuple[str, int]:
        funnel = self.funnels.funnel(view.funnel)
        return (view.funnel, funnel.stage(view.stage).order if funnel.has_stage(view.stage) else 0)

    async def owners(self, actor: Person) -> list[tuple[int, str]]:
        """People whose deals this person sees (for the lead's filter)."""
        if actor.role is Role.MANAGER:
            return [(actor.id, actor.name)]
        query = select(User.id, User.name).where(User.active.is_(True)).order_by(User.name)
        if actor.role is Role.LEAD:
            query = query.where(User.team_id == actor.team_id)
        async with transaction(self._db) as session:
            return [(row[0], row[1]) for row in await session.execute(query)]

    # --- moving -----------------------------------------------------------------------

    async def move(
        self,
        actor: Person,
        deal_id: int,
        to_stage: str,
        *,
        via: str,
        expected_version: int | None = None,
        lost_reason: str | None = None,
        comment: str | None = None,
        amount: Decimal | None = None,
    ) -> MoveResult:
        """Move a deal; refuses when someone changed it since `expected_version` was read."""
        try:
            async with transaction(self._db) as session:
                return await self.move_in(
                    session, actor, deal_id, to_stage, via=via, expected_version=expected_version,
                    lost_reason=lost_reason, comment=comment, amount=amount,
                )  # fmt: skip
        except Conflict:
            self._refs.clear()  # what this person saw was stale: let them see it afresh
            raise

    async def move_in(
        self,
        session: AsyncSession,
        actor: Person,
        deal_id: int,
        to_stage: str,
        *,
        via: str,
        expected_version: int | None = None,
        lost_reason: str | None = None,
        comment: str | None = None,
        amount: Decimal | None = None,
    ) -> MoveResult:
        """The move inside a caller's transaction (an offer's issue moves its deal).

        The lists for matching learn of it when, and only if, the transaction commits.
        """
        now = self._clock()
        row = await self._row(session, actor, deal_id, for_update=True)
        if expected_version is not None and row["version"] != expected_version:
            raise Conflict("deal.changed", title=row["title"])
        funnel = self.funnels.funnel(row["funnel"])
        if not funnel.has_stage(to_stage):
            raise Invalid("deal.unknown_stage", stage=to_stage)
        target = funnel.stage(to_stage)
        source = row["stage"]
        if to_stage == source:
            raise Invalid("deal.same_stage", title=row["title"], stage=to_stage)
        if target.lost and (not lost_reason or not self.funnels.lost_reason(lost_reason)):
            raise Invalid("deal.lost_reason_required")
        reason = lost_reason if target.lost else None
        changes: dict[str, object] = {
            "stage": to_stage, "status": funnel.status_of(to_stage), "lost_reason": reason,
            "stage_changed_at": now, "updated_at": now,
        }  # fmt: skip
        if amount is not None:
            changes["amount"] = amount
        row = await rows.write(session, row, **changes)
        transition_id = await rows.add_transition(
            session, deal_id=deal_id, from_stage=source, to_stage=to_stage, at=now,
            by_id=actor.id, via=via, comment=_optional(comment, MAX_NOTE), lost_reason=reason,
        )  # fmt: skip
        view = self._view(row, now)
        event.listen(session.sync_session, "after_commit", lambda _: self._written(view), once=True)
        forward = funnel.is_forward(source, to_stage)
        return MoveResult(
            view, source, to_stage, transition_id, forward, forward and target.needs_next_step
        )

    async def undo(self, actor: Person, transition_id: int) -> DealView:
        """Take back a move made in the last minutes, as if it never happened."""
        now = self._clock()
        async with transaction(self._db) as session:
            transition = await session.get(StageTransition, transition_id)
            if transition is None or transition.from_stage is None:
                raise Invalid("deal.undo_expired")
            row = await self._row(session, actor, transition.deal_id, for_update=True)
            history = (
                select(StageTransition.id, StageTransition.at, StageTransition.lost_reason)
                .where(StageTransition.deal_id == row["id"])
                .order_by(desc(StageTransition.at), desc(StageTransition.id))
                .limit(2)
            )
            latest = (await session.execute(history)).all()
            if (
                latest[0].id != transition.id
                or now - transition.at > self._undo_window
                or row["stage"] != transition.to_stage
            ):
                raise Invalid("deal.undo_expired")
            funnel = self.funnels.funnel(row["funnel"])
            stage = transition.from_stage
            previous = latest[1] if len(latest) > 1 else None  # the move that led to `stage`
            row = await rows.write(
                session, row, stage=stage, status=funnel.status_of(stage),
                lost_reason=previous.lost_reason if previous and funnel.stage(stage).lost else None,
                stage_changed_at=previous.at if previous else row["created_at"], updated_at=now,
            )  # fmt: skip
            await session.execute(
                delete(StageTransition).where(StageTransition.id == transition.id)
            )
            view = self._view(row, now)
        return self._written(view)

    # --- next steps, notes, amounts, owners ------------------------------------------

    async def set_next_step(
        self, actor: Person, deal_id: int, text: str | None, due: datetime | None
    ) -> DealView:
        now = self._clock()
        async with transaction(self._db) as session:
            row = await self._row(session, actor, deal_id)
            row = await rows.write(
                session, row, next_step_text=_optional(text, 500) if due else None,
                next_step_due=due, followup_asked_for=None, updated_at=now,
            )  # fmt: skip
            view = self._view(row, now)
        return self._written(view)

    async def add_note(self, actor: Person, deal_id: int, text: str) -> DealView:
        note_text = _clean(text, MAX_NOTE, "deal.bad_note")
        now = self._clock()
        async with transaction(self._db) as session:
            row = await self._row(session, actor, deal_id)
            session.add(Note(deal_id=deal_id, author_id=actor.id, text=note_text, at=now))
            await session.flush()
            notes = await self._notes(session, deal_id)
            return replace(self._view(row, now), notes=notes)

    async def set_amount(
        self, actor: Person, deal_id: int, amount: Decimal, currency: str = "RUB"
    ) -> DealView:
        now = self._clock()
        async with transaction(self._db) as session:
            row = await self._row(session, actor, deal_id)
            row = await rows.write(session, row, amount=amount, currency=currency, updated_at=now)
            view = self._view(row, now)
        return self._written(view)

    async def reassign(self, actor: Person, deal_id: int, new_owner_id: int) -> DealView:
        """A lead or admin gives a deal to another manager of the team."""
        if actor.role is Role.MANAGER:
            raise Forbidden("deal.reassign_forbidden")
        now = self._clock()
        async with transaction(self._db) as session:
            row = await self._row(session, actor, deal_id)
            new_owner = await session.get(User, new_owner_id)
            if new_owner is None or not new_owner.active:
                raise NotFound("person.not_found")
            if actor.role is Role.LEAD and new_owner.team_id != actor.team_id:
                raise Forbidden("deal.reassign_forbidden")
            row = await rows.write(
                session, row, owner_id=new_owner.id, team_id=new_owner.team_id, updated_at=now
            )
            owner = {"owner_name": new_owner.name, "owner_telegram_id": new_owner.telegram_id}
            view = self._view({**row, **owner}, now)
        return self._written(view)

    # --- schedules --------------------------------------------------------------------

    async def nudges(self) -> list[Nudge]:
        """Each active person's due-today, overdue and stalled deals (those with any)."""
        now = self._clock()
        end_of_day = _end_of_local_day(now, self._tz)
        with_open_deals = select(rows.DEALS.c.owner_id).where(rows.DEALS.c.status == "open")
        query = select(User).where(
            User.id.in_(with_open_deals), User.active.is_(True), User.reachable.is_(True)
        )
        async with transaction(self._db) as session:
            owners = {user.id: user for user in await session.scalars(query)}
            found = (
                await session.execute(
                    _with_reachable_owner(rows.VIEW.where(rows.DEALS.c.status == "open")).order_by(
                        rows.DEALS.c.owner_id, rows.DEALS.c.next_step_due
                    )
                )
            ).mappings()
            by_owner: dict[int, list[DealView]] = {}
            for row in found:
                by_owner.setdefault(row["owner_id"], []).append(self._view(row, now))
            teams = {t.id: t.name for t in await session.scalars(select(Team))}
        result = []
        for owner_id, views in by_owner.items():
            owner = owners[owner_id]
            due_today = tuple(
                v for v in views if v.next_step_due and now <= v.next_step_due < end_of_day
            )
            overdue = tuple(v for v in views if v.overdue)
            stalled = tuple(v for v in views if v.stalled)
            person = person_of(owner, teams.get(owner.team_id or 0))
            nudge = Nudge(person, due_today, overdue, stalled)
            if not nudge.empty:
                result.append(nudge)
        return result

    async def followups_due(self, grace: timedelta) -> list[DealView]:
        """Deals whose next step passed `grace` ago and were not asked about; marks them asked.

        Marking is bookkeeping, not a change of the deal: the version stays, so a card shown
        before the question still works.
        """
        now = self._clock()
        deals = rows.DEALS.c
        due = deals.next_step_due <= now - grace
        query = _with_reachable_owner(
            rows.VIEW.where(
                deals.status == "open",
                deals.next_step_due.is_not(None),
                due,
                or_(
                    deals.followup_asked_for.is_(None),
                    deals.followup_asked_for != deals.next_step_due,
                ),
            )
        )
        async with transaction(self._db) as session:
            found = (await session.execute(query)).mappings().all()
            if found:
                await session.execute(
                    update(rows.DEALS)  # a step moved meanwhile is not marked: it is not due
                    .where(deals.id.in_([row["id"] for row in found]), due)
                    .values(followup_asked_for=deals.next_step_due)
                )
            return [self._view(row, now) for row in found]

    # --- helpers ----------------------------------------------------------------------

    def funnel_of(self, view: DealView) -> Funnel:
        return self.funnels.funnel(view.funnel)

    async def _row(
        self, session: AsyncSession, actor: Person, deal_id: int, *, for_update: bool = False
    ) -> DealRow:
        """The deal as a row, if this person may change it."""
        row = await rows.read(session, deal_id, for_update=for_update)
        if row is None:
            raise NotFound("deal.not_found")
        if not may_change(actor, row["owner_id"], row["team_id"]):
            raise Forbidden("deal.not_yours", title=row["title"])
        return row

    async def _notes(self, session: AsyncSession, deal_id: int) -> tuple[NoteView, ...]:
        found = await session.execute(
            select(Note.text, Note.at, User.name)
            .outerjoin(User, User.id == Note.author_id)
            .where(Note.deal_id == deal_id)
            .order_by(desc(Note.at), desc(Note.id))
            .limit(3)
        )
        return tuple(NoteView(text, at, name) for text, at, name in found)

    def _view(self, row: DealRow, now: datetime) -> DealView:
        funnel = self.funnels.funnel(row["funnel"])
        stage = funnel.stage(row["stage"]) if funnel.has_stage(row["stage"]) else None
        probability = row["probability"]
        if probability is None:
            probability = stage.probability if stage else 0
        is_open = row["status"] == "open"
        due = row["next_step_due"]
        stalled = bool(
            is_open
            and stage is not None
            and stage.rotting_days is not None
            and now - row["stage_changed_at"] > timedelta(days=stage.rotting_days)
            and not (due and due > now)
        )
        fields = {**row, "probability": probability}
        return DealView(**fields, stalled=stalled, overdue=bool(is_open and due and due < now))


def may_change(actor: Person, owner_id: int, team_id: int | None) -> bool:
    return Scope.of(actor).holds(owner_id, team_id)


def _clean(text: str, limit: int, key: str) -> str:
    cleaned = " ".join(text.split())
    if not cleaned or len(cleaned) > limit:
        raise Invalid(key, limit=limit, length=len(cleaned))
    return cleaned


def _optional(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    cleaned = " ".join(text.split())[:limit]
    return cleaned or None


def _with_reachable_owner(query: Select[Any]) -> Select[Any]:
    """Only deals of people who are active and have not blocked the bot (for messages)."""
    return query.where(rows.USERS.c.active.is_(True), rows.USERS.c.reachable.is_(True))


def _end_of_local_day(now: datetime, tz: ZoneInfo) -> datetime:
    local = now.astimezone(tz)
    start = datetime.combine(local.date(), datetime.min.time(), tz)
    return start + timedelta(days=1)


__all__: Sequence[str] = ("DealPage", "DealView", "DealsService", "MoveResult", "Nudge", "Via")
