"""Deals and their moves through the funnel. Every move writes one stage-history row."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum
from zoneinfo import ZoneInfo

from bot.common.clock import Clock
from bot.common.errors import Conflict, Forbidden, Invalid, NotFound
from bot.db.session import Session, SessionFactory, reading, transaction
from bot.deals import store
from bot.deals.dates import in_days, parse_next_step
from bot.deals.funnel import Funnel, FunnelConfig
from bot.deals.matching import DealRef
from bot.deals.store import LISTS_TTL, DealLists, DealRow, Scope
from bot.deals.team_funnels import team_funnel
from bot.people.service import Person, Role

MAX_TITLE = 200
MAX_NOTE = 3000
MAX_CONTACT = 200
CLOSED_STATUSES = ("won", "lost")
CLOSED_SHOWN = 30  # closed deals listed at most, the latest first
RECENT_CLOSED_DAYS = 90
PAGE_SIZE = 8
SNOOZE = timedelta(hours=2)  # «later» on the "how did it go?" question


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
    lost_comment: str | None = None  # what was said when it was lost: the lost move's comment

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


class Question(Enum):
    """What a move asks before it is made."""

    LOST_REASON = "lost_reason"  # a loss needs its reason
    WIN_AMOUNT = "win_amount"  # a win confirms (or corrects) the amount


@dataclass(frozen=True, slots=True)
class Ask:
    """A move not made yet: the person answers `question` about `deal` first."""

    deal: DealView
    question: Question


@dataclass(frozen=True, slots=True)
class Owner:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class ReassignChoice:
    """A deal and the people it may be given to."""

    deal: DealView
    people: tuple[Owner, ...]


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
    """Create, see and move deals. Access: a manager their own, a lead the team's, an admin all.

    Every change that a person makes from a deal shown to them (a button, a typed move)
    carries the version they saw, and is refused with Conflict when the deal changed
    since: one check, in `_checked`, for every way in.
    """

    def __init__(
        self,
        db: SessionFactory,
        funnels: FunnelConfig,
        *,
        clock: Clock,
        tz: ZoneInfo,
        undo_window: timedelta = timedelta(minutes=10),
        sole_writer: bool = True,
    ) -> None:
        """`sole_writer`: no other bot process serves this database (SQLite). Where several
        may (PostgreSQL, webhook workers), a person's deal list is read at every update, so a
        deal made through one worker is found by the next message on any other."""
        self._db = db
        self.funnels = funnels
        self._clock = clock
        self._tz = tz
        self._undo_window = undo_window
        self._lists = DealLists(clock, ttl=LISTS_TTL if sole_writer else timedelta(0))

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
        title = checked_title(title)
        now = self._clock()
        async with transaction(self._db) as session:
            funnel = await team_funnel(session, self.funnels, actor.team_id)
            client_id = None
            if client or contact or phone:
                client_id = await store.add_client(
                    session, name=_clean(client or title, 300, "deal.bad_client"),
                    contact=_optional(contact, MAX_CONTACT), phone=_optional(phone, 50), at=now,
                )  # fmt: skip
            deal_id = await store.add_deal(
                session, title=title, client_id=client_id, owner_id=actor.id,
                team_id=actor.team_id, funnel=funnel.key, stage=funnel.first.key, status="open",
                amount=amount, currency=currency,
                next_step_text=next_step[0] if next_step else None,
                next_step_due=next_step[1] if next_step else None,
                created_at=now, updated_at=now, stage_changed_at=now, version=1,
            )  # fmt: skip
            await store.add_transition(
                session, deal_id=deal_id, from_stage=None, to_stage=funnel.first.key, at=now,
                by_id=actor.id, owner_id=actor.id, via=Via.CREATE,
            )  # fmt: skip
            row = await store.read(session, deal_id)
            assert row is not None
            view = self._view(row, now)
        return self._written(view)

    async def refs(self, actor: Person) -> list[DealRef]:
        """The deals this person may change, for matching text commands (see DealLists)."""
        scope = Scope.of(actor)
        cached = self._lists.get(scope)
        if cached is not None:
            return cached
        since = self._clock() - timedelta(days=RECENT_CLOSED_DAYS)
        async with reading(self._db) as connection:
            return await self._lists.load(connection, scope, since)

    def forget_refs(self) -> None:
        """Deals were written behind this service's back (an import): read them afresh.

        This clears the lists of this process only. Another process (the bot, when the
        import ran from the command line) sees the change once its lists expire, ten
        seconds at most (store.LISTS_TTL); until then a move there on a changed deal is
        refused as stale and its lists are read anew.
        """
        self._lists.forget()

    def _written(self, view: DealView) -> DealView:
        """After a commit: the lists for matching learn the deal as it is now."""
        self._lists.changed(view.ref, view.owner_id, view.team_id)
        return view

    @contextmanager
    def _fresh_after_conflict(self) -> Iterator[None]:
        try:
            yield
        except Conflict:
            self._lists.forget()  # what this person saw was stale: let them see it afresh
            raise

    async def card(self, actor: Person, deal_id: int) -> DealView:
        async with transaction(self._db) as session:
            return await self.card_in(session, actor, deal_id)

    async def card_in(self, session: Session, actor: Person, deal_id: int) -> DealView:
        """The card inside a caller's transaction (SQLite runs one connection at a time)."""
        row = await self._row(session, actor, deal_id)
        notes = await self._notes(session, deal_id)
        comment = None
        if row.status == "lost" and (last := await store.last_move_comment(session, deal_id)):
            comment = last[1]
        return replace(self._view(row, self._clock()), notes=notes, lost_comment=comment)

    async def as_shown(self, actor: Person, deal_id: int, expected_version: int) -> DealView:
        """The deal, if it is still as the person saw it (a button asking before it changes)."""
        with self._fresh_after_conflict():
            async with transaction(self._db) as session:
                row = _checked(await self._row(session, actor, deal_id), expected_version)
                return self._view(row, self._clock())

    async def list_open(
        self, actor: Person, *, owner_id: int | None = None, offset: int = 0, limit: int = PAGE_SIZE
    ) -> DealPage:
        """Open deals grouped by stage (funnel order), longest in stage first."""
        now = self._clock()
        async with transaction(self._db) as session:
            found = await store.open_deals(session, Scope.of(actor), owner_id)
        views = [self._view(row, now) for row in found]
        views.sort(key=lambda v: (self._order(v), v.stage_changed_at))
        # A list that shrank since its page button was made shows its last page.
        offset = min(max(offset, 0), max(0, (len(views) - 1) // limit * limit))
        return DealPage(tuple(views[offset : offset + limit]), len(views), offset)

    async def list_closed(self, actor: Person, status: str) -> tuple[DealView, ...]:
        """Won or lost deals the person may see, the most recently closed first."""
        if status not in CLOSED_STATUSES:
            raise Invalid("deal.unknown_view", view=status)
        now = self._clock()
        async with transaction(self._db) as session:
            found = await store.closed_deals(session, Scope.of(actor), status, CLOSED_SHOWN)
        return tuple(self._view(row, now) for row in found)

    def _order(self, view: DealView) -> tuple[str, int]:
        funnel = self.funnels.funnel(view.funnel)
        return (view.funnel, funnel.stage(view.stage).order if funnel.has_stage(view.stage) else 0)

    async def owners(self, actor: Person) -> list[Owner]:
        """People whose deals this person sees (for the lead's filter)."""
        if actor.role is Role.MANAGER:
            return [Owner(actor.id, actor.name)]
        async with transaction(self._db) as session:
            found = await store.people(
                session, everyone=actor.role is not Role.LEAD, team_id=actor.team_id, by_name=True
            )
        return [Owner(person.id, person.name) for person in found]

    # --- moving -----------------------------------------------------------------------

    async def request_move(
        self, actor: Person, deal_id: int, to_stage: str, *, via: str, expected_version: int
    ) -> MoveResult | Ask:
        """The one way a person moves a deal they saw: a loss asks its reason, a win its amount.

        Refused (Conflict) when the deal changed since `expected_version` was read.
        """
        with self._fresh_after_conflict():
            async with transaction(self._db) as session:
                row = await self._row(session, actor, deal_id, for_update=True)
                row = _checked(row, expected_version)
                return await self._request(session, actor, row, to_stage, via=via)

    async def move_next(
        self, actor: Person, deal_id: int, *, via: str, expected_version: int
    ) -> MoveResult | Ask:
        """To the stage after the deal's own (the card's ▶ button)."""
        with self._fresh_after_conflict():
            async with transaction(self._db) as session:
                # The version first: "no next stage" of a deal closed since the card was
                # shown would hide that someone else changed it.
                row = await self._row(session, actor, deal_id, for_update=True)
                row = _checked(row, expected_version)
                following = self.funnels.funnel(row.funnel).next_stage(row.stage)
                if following is None:
                    raise Invalid("deal.no_next_stage", title=row.title)
                return await self._request(session, actor, row, following.key, via=via)

    async def _request(
        self, session: Session, actor: Person, row: DealRow, to_stage: str, *, via: str
    ) -> MoveResult | Ask:
        funnel = self.funnels.funnel(row.funnel)
        if not funnel.has_stage(to_stage):
            raise Invalid("deal.unknown_stage", stage=to_stage)
        target = funnel.stage(to_stage)
        if target.lost:
            return Ask(self._view(row, self._clock()), Question.LOST_REASON)
        if target.won and target.key == funnel.won_stage.key and row.status == "open":
            return Ask(self._view(row, self._clock()), Question.WIN_AMOUNT)
        return await self._apply(session, actor, row, to_stage, via=via)

    async def win(
        self,
        actor: Person,
        deal_id: int,
        *,
        via: str,
        expected_version: int,
        amount: Decimal | None = None,
        currency: str | None = None,
    ) -> MoveResult:
        """Close as won, at the deal's amount or at `amount` in `currency`: one write."""
        with self._fresh_after_conflict():
            async with transaction(self._db) as session:
                row = await self._row(session, actor, deal_id, for_update=True)
                row = _checked(row, expected_version)
                won = self.funnels.funnel(row.funnel).won_stage.key
                return await self._apply(
                    session, actor, row, won, via=via, amount=amount, currency=currency
                )

    async def lose(
        self, actor: Person, deal_id: int, reason: str, *, via: str, expected_version: int
    ) -> MoveResult:
        """Close as lost for `reason` (a key of the funnel file's reasons)."""
        with self._fresh_after_conflict():
            async with transaction(self._db) as session:
                row = await self._row(session, actor, deal_id, for_update=True)
                row = _checked(row, expected_version)
                lost = self.funnels.funnel(row.funnel).lost_stage.key
                return await self._apply(session, actor, row, lost, via=via, lost_reason=reason)

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
        """Move a deal straight (no question asked); refused when it changed since
        `expected_version` was read."""
        with self._fresh_after_conflict():
            async with transaction(self._db) as session:
                return await self.move_in(
                    session, actor, deal_id, to_stage, via=via, expected_version=expected_version,
                    lost_reason=lost_reason, comment=comment, amount=amount,
                )  # fmt: skip

    async def move_in(
        self,
        session: Session,
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
        row = await self._row(session, actor, deal_id, for_update=True)
        if expected_version is not None:
            row = _checked(row, expected_version)
        return await self._apply(
            session, actor, row, to_stage, via=via, lost_reason=lost_reason, comment=comment,
            amount=amount,
        )  # fmt: skip

    async def _apply(
        self,
        session: Session,
        actor: Person,
        row: DealRow,
        to_stage: str,
        *,
        via: str,
        lost_reason: str | None = None,
        comment: str | None = None,
        amount: Decimal | None = None,
        currency: str | None = None,
    ) -> MoveResult:
        """Write the move of a deal read (and checked) in this transaction, and its history."""
        now = self._clock()
        funnel = self.funnels.funnel(row.funnel)
        if not funnel.has_stage(to_stage):
            raise Invalid("deal.unknown_stage", stage=to_stage)
        target = funnel.stage(to_stage)
        source = row.stage
        if to_stage == source:
            raise Invalid("deal.same_stage", title=row.title, stage=to_stage)
        if target.lost and (not lost_reason or not self.funnels.lost_reason(lost_reason)):
            raise Invalid("deal.lost_reason_required")
        reason = lost_reason if target.lost else None
        changes: dict[str, object] = {
            "stage": to_stage, "status": funnel.status_of(to_stage), "lost_reason": reason,
            "stage_changed_at": now, "updated_at": now,
        }  # fmt: skip
        if amount is not None:
            changes["amount"] = amount
        if currency is not None:
            changes["currency"] = currency
        row = await store.write(session, row, **changes)
        transition_id = await store.add_transition(
            session, deal_id=row.id, from_stage=source, to_stage=to_stage, at=now,
            by_id=actor.id, owner_id=row.owner_id, via=via,
            comment=_optional(comment, MAX_NOTE), lost_reason=reason,
        )  # fmt: skip
        view = self._view(row, now)
        store.after_commit(
            session, lambda: self._lists.changed(view.ref, view.owner_id, view.team_id)
        )
        forward = funnel.is_forward(source, to_stage)
        return MoveResult(
            view, source, to_stage, transition_id, forward, forward and target.needs_next_step
        )

    async def undo(self, actor: Person, transition_id: int) -> DealView:
        """Take back a move made in the last minutes, as if it never happened.

        Only the deal's latest move, and only while the deal still stands where it put it:
        an undo button under an older move is refused (deal.undo_expired).
        """
        now = self._clock()
        async with transaction(self._db) as session:
            transition = await store.transition(session, transition_id)
            if transition is None:
                raise NotFound("deal.not_found")
            # Access first: whatever is said of a move of someone else's deal tells it exists.
            row = await self._row(session, actor, transition.deal_id, for_update=True)
            if transition.from_stage is None:
                raise Invalid("deal.undo_expired")
            latest = await store.latest_transitions(session, row.id, 2)
            if (
                latest[0].id != transition.id
                or now - transition.at > self._undo_window
                or row.stage != transition.to_stage
            ):
                raise Invalid("deal.undo_expired")
            funnel = self.funnels.funnel(row.funnel)
            stage = transition.from_stage
            previous = latest[1] if len(latest) > 1 else None  # the move that led to `stage`
            row = await store.write(
                session, row, stage=stage, status=funnel.status_of(stage),
                lost_reason=previous.lost_reason if previous and funnel.stage(stage).lost else None,
                stage_changed_at=previous.at if previous else row.created_at, updated_at=now,
            )  # fmt: skip
            await store.delete_transition(session, transition.id)
            view = self._view(row, now)
        return self._written(view)

    # --- next steps, notes, amounts, owners ------------------------------------------

    async def set_next_step(
        self, actor: Person, deal_id: int, text: str | None, due: datetime | None
    ) -> DealView:
        now = self._clock()
        async with transaction(self._db) as session:
            row = await self._row(session, actor, deal_id)
            row = await store.write(
                session, row, next_step_text=_optional(text, 500) if due else None,
                next_step_due=due, followup_asked_for=None, updated_at=now,
            )  # fmt: skip
            view = self._view(row, now)
        return self._written(view)

    async def plan_next_step(
        self, actor: Person, deal_id: int, words: str, default_text: str
    ) -> DealView:
        """A next step as typed («позвонить завтра в 11»); `default_text` when only a time is."""
        parsed = parse_next_step(words, self._clock(), self._tz, default_text)
        return await self.set_next_step(actor, deal_id, parsed.text, parsed.due)

    async def next_step_in(self, actor: Person, deal_id: int, days: int, text: str) -> DealView:
        """A quick next step: `days` from today, at the usual hour (dates.DEFAULT_TIME)."""
        return await self.set_next_step(
            actor, deal_id, text, in_days(days, self._clock(), self._tz)
        )

    async def snooze_next_step(self, actor: Person, deal_id: int) -> DealView:
        """«Later» to "how did it go?": the same step, asked about again in SNOOZE."""
        now = self._clock()
        async with transaction(self._db) as session:
            row = await self._row(session, actor, deal_id)
            row = await store.write(
                session, row, next_step_text=row.next_step_text, next_step_due=now + SNOOZE,
                followup_asked_for=None, updated_at=now,
            )  # fmt: skip
            view = self._view(row, now)
        return self._written(view)

    async def add_note(self, actor: Person, deal_id: int, text: str) -> DealView:
        note_text = _clean(text, MAX_NOTE, "deal.bad_note")
        now = self._clock()
        async with transaction(self._db) as session:
            row = await self._row(session, actor, deal_id)
            await store.add_note(
                session, deal_id=deal_id, author_id=actor.id, text=note_text, at=now
            )
            notes = await self._notes(session, deal_id)
            return replace(self._view(row, now), notes=notes)

    async def comment_loss(self, actor: Person, deal_id: int, text: str) -> DealView | None:
        """What happened, said after a loss: the comment of the move that lost the deal, where
        the card, the export's `lost_comment` and the history's `comment` read it. None when
        the deal is no longer lost (the loss was undone meanwhile): then it is kept as a note,
        so nothing typed is lost."""
        comment = _clean(text, MAX_NOTE, "deal.bad_note")
        async with transaction(self._db) as session:
            row = await self._row(session, actor, deal_id, for_update=True)
            last = await store.last_move_comment(session, deal_id)
            if row.status != "lost" or last is None:
                await store.add_note(
                    session, deal_id=deal_id, author_id=actor.id, text=comment, at=self._clock()
                )
                return None
            await store.set_move_comment(session, last[0], comment)
            return await self.card_in(session, actor, deal_id)

    async def set_amount(
        self, actor: Person, deal_id: int, amount: Decimal, currency: str = "RUB"
    ) -> DealView:
        now = self._clock()
        async with transaction(self._db) as session:
            row = await self._row(session, actor, deal_id)
            row = await store.write(session, row, amount=amount, currency=currency, updated_at=now)
            view = self._view(row, now)
        return self._written(view)

    async def reassign_choices(self, actor: Person, deal_id: int) -> ReassignChoice:
        """The people a lead or an admin may give this deal to: its team's, but its owner."""
        if actor.role is Role.MANAGER:
            raise Forbidden("deal.reassign_forbidden")
        async with transaction(self._db) as session:
            row = await self._row(session, actor, deal_id)
            found = await store.people(
                session, everyone=row.team_id is None, team_id=row.team_id, by_name=False
            )
            view = self._view(row, self._clock())
        people = tuple(Owner(p.id, p.name) for p in found if p.id != row.owner_id)
        return ReassignChoice(view, people)

    async def reassign(self, actor: Person, deal_id: int, new_owner_id: int) -> DealView:
        """A lead or admin gives a deal to another manager of the team."""
        if actor.role is Role.MANAGER:
            raise Forbidden("deal.reassign_forbidden")
        now = self._clock()
        async with transaction(self._db) as session:
            row = await self._row(session, actor, deal_id)
            new_owner = await store.person(session, new_owner_id)
            if (
                new_owner is None
                or not new_owner.active
                or (actor.role is Role.LEAD and new_owner.team_id != actor.team_id)
            ):
                raise NotFound("person.not_found")  # another team's people are not a lead's to see
            row = await store.write(
                session, row, owner_id=new_owner.id, team_id=new_owner.team_id, updated_at=now
            )
            row = row._replace(owner_name=new_owner.name, owner_telegram_id=new_owner.telegram_id)
            view = self._view(row, now)
        return self._written(view)

    # --- schedules --------------------------------------------------------------------

    async def nudges(self) -> list[Nudge]:
        """Each active person's due-today, overdue and stalled deals (those with any)."""
        now = self._clock()
        end_of_day = _end_of_local_day(now, self._tz)
        async with transaction(self._db) as session:
            owners = await store.reachable_owners(session)
            found = await store.open_deals_of_reachable_owners(session)
        by_owner: dict[int, list[DealView]] = {}
        for row in found:
            by_owner.setdefault(row.owner_id, []).append(self._view(row, now))
        result = []
        for owner_id, views in by_owner.items():
            due_today = tuple(
                v for v in views if v.next_step_due and now <= v.next_step_due < end_of_day
            )
            overdue = tuple(v for v in views if v.overdue)
            stalled = tuple(v for v in views if v.stalled)
            nudge = Nudge(owners[owner_id], due_today, overdue, stalled)
            if not nudge.empty:
                result.append(nudge)
        return result

    async def followups_due(self, grace: timedelta) -> list[DealView]:
        """Deals whose next step passed `grace` ago and were not asked about.

        Who sends the question claims it first (the sent log), and marks it asked once sent:
        marking here would lose the question if the process died before sending it.
        """
        now = self._clock()
        async with transaction(self._db) as session:
            found = await store.followups_due(session, now - grace)
        return [self._view(row, now) for row in found]

    async def followup_asked(self, deal_id: int, due: datetime) -> None:
        """The question about the step due at `due` was sent (or can never be)."""
        async with transaction(self._db) as session:
            await store.mark_followup_asked(session, deal_id, due)

    # --- helpers ----------------------------------------------------------------------

    def funnel_of(self, view: DealView) -> Funnel:
        return self.funnels.funnel(view.funnel)

    async def _row(
        self, session: Session, actor: Person, deal_id: int, *, for_update: bool = False
    ) -> DealRow:
        """The deal as a row, if this person may change it."""
        row = await store.read(session, deal_id, for_update=for_update)
        if row is None or not may_change(actor, row.owner_id, row.team_id):
            # One refusal for both: ids are sequential, so telling "not yours" from "no such
            # deal" (let alone naming it) would let anyone list every team's deals.
            raise NotFound("deal.not_found")
        return row

    async def _notes(self, session: Session, deal_id: int) -> tuple[NoteView, ...]:
        found = await store.latest_notes(session, deal_id, 3)
        return tuple(NoteView(note.text, note.at, note.author) for note in found)

    def _view(self, row: DealRow, now: datetime) -> DealView:
        funnel = self.funnels.funnel(row.funnel)
        stage = funnel.stage(row.stage) if funnel.has_stage(row.stage) else None
        probability = row.probability
        if probability is None:
            probability = stage.probability if stage else 0
        is_open = row.status == "open"
        due = row.next_step_due
        stalled = bool(
            is_open
            and stage is not None
            and stage.rotting_days is not None
            and now - row.stage_changed_at > timedelta(days=stage.rotting_days)
            and not (due and due > now)
        )
        return DealView(
            row.id, row.title, row.client, row.contact, row.phone, row.owner_id, row.owner_name,
            row.owner_telegram_id, row.team_id, row.funnel, row.stage, row.status, row.amount,
            row.currency, probability, row.lost_reason, row.next_step_text, due, row.created_at,
            row.stage_changed_at, row.version, stalled, bool(is_open and due and due < now),
        )  # fmt: skip


def _checked(row: DealRow, expected_version: int) -> DealRow:
    """The version check: the deal must be as the person saw it."""
    if row.version != expected_version:
        raise Conflict("deal.changed", title=row.title)
    return row


def may_change(actor: Person, owner_id: int, team_id: int | None) -> bool:
    return Scope.of(actor).holds(owner_id, team_id)


def checked_title(title: str) -> str:
    """A deal's title as it will be stored; refused when it is empty, too long, or has no
    letter or digit (a deal is moved by typing its name). The /new dialog asks it first."""
    cleaned = _clean(title, MAX_TITLE, "deal.bad_title")
    if not any(char.isalnum() for char in cleaned):  # 🔥🔥: nobody could type it
        raise Invalid("deal.title_without_letters", title=cleaned)
    return cleaned


def _clean(text: str, limit: int, key: str) -> str:
    cleaned = " ".join(text.split())
    if not cleaned or len(cleaned) > limit:
        raise Invalid(key, limit=limit, length=len(cleaned))
    return cleaned


def _optional(text: str | None, limit: int) -> str | None:
    """Typed text with its spaces tidied; refused, before anything is written, when longer
    than `limit` (cutting it would lose what the person wrote without telling them)."""
    if text is None:
        return None
    cleaned = " ".join(text.split())
    if len(cleaned) > limit:
        raise Invalid("common.too_long", length=len(cleaned), limit=limit)
    return cleaned or None


def _end_of_local_day(now: datetime, tz: ZoneInfo) -> datetime:
    local = now.astimezone(tz)
    start = datetime.combine(local.date(), datetime.min.time(), tz)
    return start + timedelta(days=1)


__all__: Sequence[str] = (
    "Ask", "DealPage", "DealView", "DealsService", "MoveResult", "Nudge", "Owner", "Question",
    "ReassignChoice", "Via",
)  # fmt: skip
