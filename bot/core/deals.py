"""Deals and their moves through the funnel. Every move writes one stage-history row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, delete, desc, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from bot.core.clock import Clock
from bot.core.deal_commands import DealRef
from bot.core.errors import Conflict, Forbidden, Invalid, NotFound
from bot.core.funnel import Funnel, FunnelConfig
from bot.core.people import Person, Role, person_of
from bot.db.models import Client, Deal, Note, StageTransition, Team, User
from bot.db.session import transaction

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
        """A new deal in the first stage of the default funnel, owned by the actor."""
        title = _clean(title, MAX_TITLE, "deal.bad_title")
        funnel = self.funnels.default
        now = self._clock()
        async with transaction(self._db) as session:
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
            session.add(
                StageTransition(
                    deal_id=deal.id, from_stage=None, to_stage=deal.stage, at=now,
                    by_id=actor.id, via=Via.CREATE,
                )
            )  # fmt: skip
            return self._view(deal, client_row, _user_of(actor), now)

    async def refs(self, actor: Person) -> list[DealRef]:
        """The deals this person may change, for matching text commands."""
        since = self._clock() - timedelta(days=RECENT_CLOSED_DAYS)
        query = (
            select(
                Deal.id, Deal.title, Client.name, Deal.funnel, Deal.stage, Deal.status, Deal.version
            )
            .outerjoin(Client, Client.id == Deal.client_id)
            .where(or_(Deal.status == "open", Deal.updated_at >= since))
        )
        query = self._scope(query, actor)
        async with transaction(self._db) as session:
            rows = (await session.execute(query)).all()
        return [DealRef(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows]

    async def card(self, actor: Person, deal_id: int) -> DealView:
        async with transaction(self._db) as session:
            return await self.card_in(session, actor, deal_id)

    async def card_in(self, session: AsyncSession, actor: Person, deal_id: int) -> DealView:
        """The card inside a caller's transaction (SQLite runs one connection at a time)."""
        deal, client, owner = await self._load(session, actor, deal_id)
        notes = await self._notes(session, deal.id)
        return replace(self._view(deal, client, owner, self._clock()), notes=notes)

    async def list_open(
        self, actor: Person, *, owner_id: int | None = None, offset: int = 0, limit: int = PAGE_SIZE
    ) -> DealPage:
        """Open deals grouped by stage (funnel order), longest in stage first."""
        now = self._clock()
        query = (
            select(Deal, Client, User)
            .outerjoin(Client, Client.id == Deal.client_id)
            .join(User, User.id == Deal.owner_id)
            .where(Deal.status == "open")
        )
        query = self._scope(query, actor)
        if owner_id is not None:
            query = query.where(Deal.owner_id == owner_id)
        async with transaction(self._db) as session:
            rows = (await session.execute(query)).all()
        views = [self._view(deal, client, owner, now) for deal, client, owner in rows]
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
                    session, actor, deal_id, to_stage, via=via,
                    expected_version=expected_version, lost_reason=lost_reason,
                    comment=comment, amount=amount,
                )  # fmt: skip
        except StaleDataError:
            raise Conflict("deal.changed", title="") from None

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
        """The move itself, inside a caller's transaction (an offer's issue moves its deal)."""
        now = self._clock()
        deal, client, owner = await self._load(session, actor, deal_id, for_update=True)
        if expected_version is not None and deal.version != expected_version:
            raise Conflict("deal.changed", title=deal.title)
        funnel = self.funnels.funnel(deal.funnel)
        if not funnel.has_stage(to_stage):
            raise Invalid("deal.unknown_stage", stage=to_stage)
        target = funnel.stage(to_stage)
        if to_stage == deal.stage:
            raise Invalid("deal.same_stage", title=deal.title, stage=to_stage)
        if target.lost and (not lost_reason or not self.funnels.lost_reason(lost_reason)):
            raise Invalid("deal.lost_reason_required")
        source = deal.stage
        deal.stage = to_stage
        deal.status = funnel.status_of(to_stage)
        deal.lost_reason = lost_reason if target.lost else None
        if amount is not None:
            deal.amount = amount
        deal.stage_changed_at = now
        deal.updated_at = now
        transition = StageTransition(
            deal_id=deal.id, from_stage=source, to_stage=to_stage, at=now, by_id=actor.id,
            via=via, comment=_optional(comment, MAX_NOTE),
            lost_reason=lost_reason if target.lost else None,
        )  # fmt: skip
        session.add(transition)
        await session.flush()
        view = self._view(deal, client, owner, now)
        forward = funnel.is_forward(source, to_stage)
        return MoveResult(
            view, source, to_stage, transition.id, forward, forward and target.needs_next_step
        )

    async def undo(self, actor: Person, transition_id: int) -> DealView:
        """Take back a move made in the last minutes, as if it never happened."""
        now = self._clock()
        try:
            async with transaction(self._db) as session:
                transition = await session.get(StageTransition, transition_id)
                if transition is None or transition.from_stage is None:
                    raise Invalid("deal.undo_expired")
                deal, client, owner = await self._load(session, actor, transition.deal_id)
                latest = await session.scalar(
                    select(StageTransition.id)
                    .where(StageTransition.deal_id == deal.id)
                    .order_by(desc(StageTransition.at), desc(StageTransition.id))
                    .limit(1)
                )
                if (
                    latest != transition.id
                    or now - transition.at > self._undo_window
                    or deal.stage != transition.to_stage
                ):
                    raise Invalid("deal.undo_expired")
                previous_at = await session.scalar(
                    select(StageTransition.at)
                    .where(StageTransition.deal_id == deal.id, StageTransition.id != transition.id)
                    .order_by(desc(StageTransition.at), desc(StageTransition.id))
                    .limit(1)
                )
                funnel = self.funnels.funnel(deal.funnel)
                deal.stage = transition.from_stage
                deal.status = funnel.status_of(deal.stage)
                if not funnel.stage(deal.stage).lost:
                    deal.lost_reason = None
                deal.stage_changed_at = previous_at or deal.created_at
                deal.updated_at = now
                await session.execute(
                    delete(StageTransition).where(StageTransition.id == transition.id)
                )
                return self._view(deal, client, owner, now)
        except StaleDataError:
            raise Conflict("deal.changed", title="") from None

    # --- next steps, notes, amounts, owners ------------------------------------------

    async def set_next_step(
        self, actor: Person, deal_id: int, text: str | None, due: datetime | None
    ) -> DealView:
        async with transaction(self._db) as session:
            deal, client, owner = await self._load(session, actor, deal_id)
            deal.next_step_text = _optional(text, 500) if due else None
            deal.next_step_due = due
            deal.followup_asked_for = None
            deal.updated_at = self._clock()
            return self._view(deal, client, owner, self._clock())

    async def add_note(self, actor: Person, deal_id: int, text: str) -> DealView:
        note_text = _clean(text, MAX_NOTE, "deal.bad_note")
        async with transaction(self._db) as session:
            deal, client, owner = await self._load(session, actor, deal_id)
            session.add(Note(deal_id=deal.id, author_id=actor.id, text=note_text, at=self._clock()))
            await session.flush()
            notes = await self._notes(session, deal.id)
            return replace(self._view(deal, client, owner, self._clock()), notes=notes)

    async def set_amount(
        self, actor: Person, deal_id: int, amount: Decimal, currency: str = "RUB"
    ) -> DealView:
        async with transaction(self._db) as session:
            deal, client, owner = await self._load(session, actor, deal_id)
            deal.amount, deal.currency, deal.updated_at = amount, currency, self._clock()
            return self._view(deal, client, owner, self._clock())

    async def reassign(self, actor: Person, deal_id: int, new_owner_id: int) -> DealView:
        """A lead or admin gives a deal to another manager of the team."""
        if actor.role is Role.MANAGER:
            raise Forbidden("deal.reassign_forbidden")
        async with transaction(self._db) as session:
            deal, client, _ = await self._load(session, actor, deal_id)
            new_owner = await session.get(User, new_owner_id)
            if new_owner is None or not new_owner.active:
                raise NotFound("person.not_found")
            if actor.role is Role.LEAD and new_owner.team_id != actor.team_id:
                raise Forbidden("deal.reassign_forbidden")
            deal.owner_id = new_owner.id
            deal.team_id = new_owner.team_id
            deal.updated_at = self._clock()
            return self._view(deal, client, new_owner, self._clock())

    # --- schedules --------------------------------------------------------------------

    async def nudges(self) -> list[Nudge]:
        """Each active person's due-today, overdue and stalled deals (those with any)."""
        now = self._clock()
        end_of_day = _end_of_local_day(now, self._tz)
        async with transaction(self._db) as session:
            rows = (
                await session.execute(
                    select(Deal, Client, User)
                    .outerjoin(Client, Client.id == Deal.client_id)
                    .join(User, User.id == Deal.owner_id)
                    .where(Deal.status == "open", User.active.is_(True), User.reachable.is_(True))
                    .order_by(Deal.owner_id, Deal.next_step_due)
                )
            ).all()
            teams = {t.id: t.name for t in await session.scalars(select(Team))}
        by_owner: dict[int, tuple[User, list[DealView]]] = {}
        for deal, client, owner in rows:
            by_owner.setdefault(owner.id, (owner, []))[1].append(
                self._view(deal, client, owner, now)
            )
        result = []
        for owner, views in by_owner.values():
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
        """Deals whose next step passed `grace` ago and were not asked about; marks them asked."""
        now = self._clock()
        async with transaction(self._db) as session:
            rows = (
                await session.execute(
                    select(Deal, Client, User)
                    .outerjoin(Client, Client.id == Deal.client_id)
                    .join(User, User.id == Deal.owner_id)
                    .where(
                        Deal.status == "open",
                        User.active.is_(True),
                        User.reachable.is_(True),
                        Deal.next_step_due.is_not(None),
                        Deal.next_step_due <= now - grace,
                        or_(
                            Deal.followup_asked_for.is_(None),
                            Deal.followup_asked_for != Deal.next_step_due,
                        ),
                    )
                )
            ).all()
            for deal, _, _ in rows:
                deal.followup_asked_for = deal.next_step_due
            return [self._view(deal, client, owner, now) for deal, client, owner in rows]

    # --- helpers ----------------------------------------------------------------------

    def funnel_of(self, view: DealView) -> Funnel:
        return self.funnels.funnel(view.funnel)

    def _scope(self, query: Select, actor: Person) -> Select:  # type: ignore[type-arg]
        if actor.role is Role.ADMIN:
            return query
        if actor.role is Role.LEAD:
            return query.where(Deal.team_id == actor.team_id)
        return query.where(Deal.owner_id == actor.id)

    async def _load(
        self, session: AsyncSession, actor: Person, deal_id: int, *, for_update: bool = False
    ) -> tuple[Deal, Client | None, User]:
        query = (
            select(Deal, Client, User)
            .outerjoin(Client, Client.id == Deal.client_id)
            .join(User, User.id == Deal.owner_id)
            .where(Deal.id == deal_id)
        )
        if for_update:
            query = query.with_for_update(of=Deal)
        row = (await session.execute(query)).first()
        if row is None:
            raise NotFound("deal.not_found")
        deal, client, owner = row
        if not may_change(actor, deal.owner_id, deal.team_id):
            raise Forbidden("deal.not_yours", title=deal.title)
        return deal, client, owner

    async def _notes(self, session: AsyncSession, deal_id: int) -> tuple[NoteView, ...]:
        rows = await session.execute(
            select(Note.text, Note.at, User.name)
            .outerjoin(User, User.id == Note.author_id)
            .where(Note.deal_id == deal_id)
            .order_by(desc(Note.at), desc(Note.id))
            .limit(3)
        )
        return tuple(NoteView(text, at, name) for text, at, name in rows)

    def _view(self, deal: Deal, client: Client | None, owner: User, now: datetime) -> DealView:
        funnel = self.funnels.funnel(deal.funnel)
        stage = funnel.stage(deal.stage) if funnel.has_stage(deal.stage) else None
        probability = (
            deal.probability
            if deal.probability is not None
            else (stage.probability if stage else 0)
        )
        overdue = bool(deal.status == "open" and deal.next_step_due and deal.next_step_due < now)
        future_step = bool(deal.next_step_due and deal.next_step_due > now)
        stalled = bool(
            deal.status == "open"
            and stage is not None
            and stage.rotting_days is not None
            and now - deal.stage_changed_at > timedelta(days=stage.rotting_days)
            and not future_step
        )
        return DealView(
            id=deal.id, title=deal.title, client=client.name if client else None,
            contact=client.contact if client else None, phone=client.phone if client else None,
            owner_id=owner.id, owner_name=owner.name, owner_telegram_id=owner.telegram_id,
            team_id=deal.team_id, funnel=deal.funnel, stage=deal.stage, status=deal.status,
            amount=deal.amount, currency=deal.currency, probability=probability,
            lost_reason=deal.lost_reason, next_step_text=deal.next_step_text,
            next_step_due=deal.next_step_due, created_at=deal.created_at,
            stage_changed_at=deal.stage_changed_at, version=deal.version,
            stalled=stalled, overdue=overdue,
        )  # fmt: skip


def may_change(actor: Person, owner_id: int, team_id: int | None) -> bool:
    if actor.role is Role.ADMIN:
        return True
    if actor.role is Role.LEAD:
        return team_id is not None and team_id == actor.team_id
    return owner_id == actor.id


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


def _user_of(person: Person) -> User:
    return User(
        id=person.id, telegram_id=person.telegram_id, name=person.name, team_id=person.team_id
    )


def _end_of_local_day(now: datetime, tz: ZoneInfo) -> datetime:
    local = now.astimezone(tz)
    start = datetime.combine(local.date(), datetime.min.time(), tz)
    return start + timedelta(days=1)


__all__: Sequence[str] = ("DealPage", "DealView", "DealsService", "MoveResult", "Nudge", "Via")
