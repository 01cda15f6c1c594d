"""All SQL of the reports: the aggregates behind the measures, plans, teams, the knowledge
usage of the digest, the deals of a report file and the sent log.

Core statements on the tables only: the aggregates run once per team per digest, and the
per-row work stays in the database (see `benchmarks/digest.py`). The store takes the session
from the service and opens no transaction of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    distinct,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import (
    Deal,
    KnowledgeEvent,
    Plan,
    SentLog,
    StageTransition,
    Team,
    User,
    table_of,
)
from bot.db.upsert import insert_or_conflict
from bot.deals.funnel import FunnelConfig
from bot.people.service import Role
from bot.reports.digest import KnowledgeUsage
from bot.reports.metrics import (
    NO_MONEY,
    ManagerFigures,
    OverdueStep,
    Period,
    Rates,
    StageFigures,
    StalledDeal,
    Sums,
)

Expr = Any  # a SQL column or expression

_D, _T, _U = table_of(Deal), table_of(StageTransition), table_of(User)
_TEAMS, _PLANS, _EVENTS, _SENT = (
    table_of(Team),
    table_of(Plan),
    table_of(KnowledgeEvent),
    table_of(SentLog),
)

# A sent-log claim: the first attempt at a message, or a retry of one that an earlier
# attempt gave back or left unfinished.
Claim = Literal["first", "retry"]
# A released claim's lease: long run out, so any later claim takes it over.
_RELEASED = datetime(2000, 1, 1, tzinfo=UTC)

TOP = 5  # entries and questions of the digest's knowledge part

# per owner: (deals advanced, stages advanced, won count, won amount, lost count)
MoveCounts = dict[int, tuple[int, int, int, Sums, int]]


@dataclass(frozen=True, slots=True)
class TeamRow:
    id: int
    name: str
    funnel: str | None
    group_chat_id: int | None


@dataclass(frozen=True, slots=True)
class PlanTarget:
    """The person a plan is for: their team decides which lead may set it."""

    id: int
    name: str
    team_id: int | None


def _by_currency(amounts: list[tuple[str, Decimal]]) -> list[tuple[str, Decimal]]:
    """One total per currency: `Rates.sums` rounds each to kopecks once."""
    total: dict[str, Decimal] = {}
    for code, amount in amounts:
        total[code] = total.get(code, Decimal(0)) + amount
    return list(total.items())


def _credited() -> Any:
    """Who a history row counts for: whose deal it was when it moved (a lead confirming a
    manager's win does not take it, a later reassignment rewrites nothing); on rows from
    before that was kept, who made the move; else the deal's owner (imported history
    without `by_telegram_id`)."""
    return func.coalesce(_T.c.owner_id, _T.c.by_id, _D.c.owner_id)


class ReportsStore:
    """The funnel file turns into CASE expressions once; everything else is per call."""

    def __init__(self, funnels: FunnelConfig, rates: Mapping[str, Decimal] | None = None) -> None:
        self._funnels = funnels
        self._rates = Rates(dict(rates or {}))
        self._flags: tuple[ColumnElement[bool], ColumnElement[bool], ColumnElement[bool]] | None = (
            None
        )

    # --- SQL building blocks ------------------------------------------------------------

    def _stage_value(self, funnel: Expr, stage: Expr, value: str) -> ColumnElement[int]:
        """CASE over (funnel, stage) giving a stage attribute: order, probability, won, lost."""
        whens = []
        for fun in self._funnels.funnels:
            for st in fun.stages:
                attr = {
                    "order": st.order,
                    "probability": st.probability,
                    "won": int(st.won),
                    "lost": int(st.lost),
                }[value]
                whens.append((and_(funnel == fun.key, stage == st.key), attr))
        return case(*whens, else_=literal(-1 if value == "order" else 0))

    def _move_flags(self) -> tuple[ColumnElement[bool], ColumnElement[bool], ColumnElement[bool]]:
        """(forward, won, lost) as SQL conditions; they depend on the funnel file only."""
        if self._flags is None:
            self._flags = self._build_move_flags()
        return self._flags

    def _build_move_flags(
        self,
    ) -> tuple[ColumnElement[bool], ColumnElement[bool], ColumnElement[bool]]:
        t, d = _T.c, _D.c
        to_order = self._stage_value(d.funnel, t.to_stage, "order")
        from_order = self._stage_value(d.funnel, t.from_stage, "order")
        to_lost = self._stage_value(d.funnel, t.to_stage, "lost") == 1
        to_won = self._stage_value(d.funnel, t.to_stage, "won") == 1
        from_won = self._stage_value(d.funnel, t.from_stage, "won") == 1
        from_lost = self._stage_value(d.funnel, t.from_stage, "lost") == 1
        is_move = t.from_stage.is_not(None)
        forward = and_(is_move, to_order > from_order, ~to_lost)
        won = and_(is_move, to_won, ~from_won)
        lost = and_(is_move, to_lost, ~from_lost)
        return forward, won, lost

    # --- teams --------------------------------------------------------------------------

    async def team(self, session: AsyncSession, team_id: int) -> TeamRow | None:
        row = (
            await session.execute(
                select(_TEAMS.c.id, _TEAMS.c.name, _TEAMS.c.funnel, _TEAMS.c.group_chat_id).where(
                    _TEAMS.c.id == team_id
                )
            )
        ).first()
        return TeamRow(row.id, row.name, row.funnel, row.group_chat_id) if row else None

    async def teams(self, session: AsyncSession) -> list[tuple[int, str]]:
        rows = await session.execute(select(_TEAMS.c.id, _TEAMS.c.name).order_by(_TEAMS.c.name))
        return [(int(team_id), str(name)) for team_id, name in rows]

    async def team_id_by_name(self, session: AsyncSession, name: str) -> int | None:
        team_id = await session.scalar(select(_TEAMS.c.id).where(_TEAMS.c.name == name))
        return None if team_id is None else int(team_id)

    async def set_group_chat(self, session: AsyncSession, team_id: int, chat_id: int) -> bool:
        result = await session.execute(
            update(_TEAMS).where(_TEAMS.c.id == team_id).values(group_chat_id=chat_id)
        )
        return bool(getattr(result, "rowcount", 0))

    # --- the team figures ---------------------------------------------------------------

    async def move_counts(
        self, session: AsyncSession, team_id: int, start: datetime, end: datetime
    ) -> MoveCounts:
        """Per person who made the moves (the history's `by`; the owner where it has none):
        (deals advanced, stages advanced, won count, won amount, lost count). Grouped by
        the deal's currency too, so the won amount keeps each currency (a deal has one, so
        the distinct deals of the groups add up)."""
        forward, won, lost = self._move_flags()
        t, d = _T.c, _D.c
        one = literal(1)
        credited = _credited()
        query = (
            select(
                credited,
                d.currency,
                func.count(distinct(case((forward, t.deal_id)))),
                func.sum(case((forward, one), else_=0)),
                func.sum(case((won, one), else_=0)),
                func.sum(case((won, func.coalesce(d.amount, 0)), else_=0)),
                func.sum(case((lost, one), else_=0)),
            )
            .select_from(_T)
            .join(_D, d.id == t.deal_id)
            .where(d.team_id == team_id, t.at >= start, t.at < end, t.from_stage.is_not(None))
            .group_by(credited, d.currency)
        )
        counts: dict[int, list[int]] = {}
        amounts: dict[int, list[tuple[str, Decimal]]] = {}
        for owner, currency, a, b, c, w, e in await session.execute(query):
            row = counts.setdefault(owner, [0, 0, 0, 0])
            for index, value in enumerate((a, b, c, e)):
                row[index] += int(value or 0)
            amounts.setdefault(owner, []).append((currency, Decimal(w or 0)))
        return {
            owner: (a, b, c, self._rates.sums(amounts[owner]), e)
            for owner, (a, b, c, e) in counts.items()
        }

    async def won_counts(
        self, session: AsyncSession, team_id: int, start: datetime, end: datetime
    ) -> dict[int, tuple[int, Sums]]:
        """Per person who won them: deals won and their amount (the plan's fact) — a month of
        history, so the query narrows to moves into won stages before any per-row CASE."""
        _, won, _ = self._move_flags()
        t, d = _T.c, _D.c
        won_keys = sorted({s.key for f in self._funnels.funnels for s in f.stages if s.won})
        credited = _credited()
        rows = await session.execute(
            select(credited, d.currency, func.count(), func.sum(func.coalesce(d.amount, 0)))
            .select_from(_T)
            .join(_D, d.id == t.deal_id)
            .where(d.team_id == team_id, t.at >= start, t.at < end, t.to_stage.in_(won_keys), won)
            .group_by(credited, d.currency)
        )
        counts: dict[int, int] = {}
        amounts: dict[int, list[tuple[str, Decimal]]] = {}
        for owner, currency, count, amount in rows:
            counts[owner] = counts.get(owner, 0) + int(count)
            amounts.setdefault(owner, []).append((currency, Decimal(amount or 0)))
        return {owner: (count, self._rates.sums(amounts[owner])) for owner, count in counts.items()}

    async def managers(
        self, session: AsyncSession, team_id: int, period: Period, month: Period
    ) -> list[ManagerFigures]:
        """The team's active managers, and anyone else (a lead, say) who moved or made deals of
        the team in the period or has a plan; `month` is the plan's month so far.

        Moves count for whoever made them and new deals for whoever created them (the
        history's `by`), so reassigning a deal does not rewrite who did what.
        """
        d, u, p, t = _D.c, _U.c, _PLANS.c, _T.c
        moves = await self.move_counts(session, team_id, period.start, period.end)
        month_to_date = await self.won_counts(session, team_id, month.start, period.end)
        credited = _credited()
        new_rows = await session.execute(
            select(credited, func.count())
            .select_from(_T)
            .join(_D, d.id == t.deal_id)
            .where(d.team_id == team_id, t.from_stage.is_(None))
            .where(t.at >= period.start, t.at < period.end)
            .group_by(credited)
        )
        new = {owner: int(count) for owner, count in new_rows}
        plans = {
            row.user_id: row
            for row in await session.execute(
                select(p.user_id, p.amount, p.deals).where(p.month == period.month)
            )
        }
        people = await session.execute(
            select(u.id, u.telegram_id, u.name)
            .where(
                or_(
                    and_(u.team_id == team_id, u.active.is_(True), u.role == Role.MANAGER.value),
                    u.id.in_(set(moves) | set(new) | set(month_to_date)),
                    and_(u.team_id == team_id, u.id.in_(set(plans))),
                )
            )
            .order_by(u.name)
        )
        result = []
        for person_id, telegram_id, name in people:
            adv, stages, won, won_amount, lost = moves.get(person_id, (0, 0, 0, NO_MONEY, 0))
            mtd_count, mtd_amount = month_to_date.get(person_id, (0, NO_MONEY))
            plan = plans.get(person_id)
            result.append(
                ManagerFigures(
                    user_id=person_id, telegram_id=telegram_id, name=name,
                    new_deals=new.get(person_id, 0), deals_advanced=adv, stages_advanced=stages,
                    won_count=won, won_amount=won_amount, lost_count=lost,
                    plan_amount=plan.amount if plan else None,
                    plan_deals=plan.deals if plan else None,
                    fact_amount=mtd_amount, fact_deals=mtd_count,
                )
            )  # fmt: skip
        return result

    def _stage_at(self, end: datetime) -> Select[Any]:
        """Each deal's stage at `end`, as it was then.

        A deal not moved since `end` is where `deals` says (its stage_changed_at is the time
        of its last history row). One moved later stood where its last move before `end`
        took it or, with no history before `end`, where its first move after `end` started
        from; only those read the history, an index probe or two each. Ranking the whole
        history with a window function instead took seconds per team.
        """
        t, d = _T.c, _D.c

        def last(column: Any) -> Any:
            return (
                select(column)
                .where(t.deal_id == d.id, t.at < end)
                .order_by(t.at.desc(), t.id.desc())
                .limit(1)
                .correlate(_D)
                .scalar_subquery()
            )

        def left_after() -> Any:
            """The stage its first move after `end` left: where a deal with no history
            before `end` (imported, say) stood then."""
            return (
                select(t.from_stage)
                .where(t.deal_id == d.id, t.at >= end)
                .order_by(t.at, t.id)
                .limit(1)
                .correlate(_D)
                .scalar_subquery()
            )

        moved_later = d.stage_changed_at >= end
        then = func.coalesce(last(t.to_stage), left_after())
        return select(
            d.id.label("deal_id"),
            case((moved_later, then), else_=d.stage).label("to_stage"),
            case((moved_later, last(t.at)), else_=d.stage_changed_at).label("at"),
        ).where(d.created_at < end)

    async def pipeline(
        self, session: AsyncSession, team_id: int, end: datetime
    ) -> tuple[dict[str, StageFigures], Sums]:
        """The open deals at `end` by the stage they were in then, and the weighted forecast,
        each currency apart (one row per stage and currency)."""
        last = self._stage_at(end).subquery()
        d = _D.c
        stage = func.coalesce(last.c.to_stage, d.stage)
        open_stage = and_(
            self._stage_value(d.funnel, stage, "won") == 0,
            self._stage_value(d.funnel, stage, "lost") == 0,
        )
        probability = func.coalesce(
            d.probability, self._stage_value(d.funnel, stage, "probability")
        )
        amount = func.coalesce(d.amount, 0)
        rows = await session.execute(
            select(
                stage,
                d.currency,
                func.count(),
                func.sum(amount),
                func.sum(amount * probability),
            )
            .select_from(_D)
            .outerjoin(last, last.c.deal_id == d.id)
            .where(d.team_id == team_id, d.created_at < end, open_stage)
            .group_by(stage, d.currency)
        )
        counts: dict[str, int] = {}
        amounts: dict[str, list[tuple[str, Decimal]]] = {}
        weighted: list[tuple[str, Decimal]] = []
        for key, currency, count, total, chances in rows:
            counts[key] = counts.get(key, 0) + int(count)
            amounts.setdefault(key, []).append((currency, Decimal(total or 0)))
            weighted.append((currency, Decimal(chances or 0) / 100))
        pipeline = {
            key: StageFigures(count, self._rates.sums(amounts[key]))
            for key, count in counts.items()
        }
        return pipeline, self._rates.sums(_by_currency(weighted))

    async def stalled(
        self, session: AsyncSession, team_id: int, end: datetime, limit: int
    ) -> tuple[StalledDeal, ...]:
        """Open at `end`, no move for longer than the stage's rotting days, no future step."""
        last = self._stage_at(end).subquery()
        d, u = _D.c, _U.c
        cutoffs = []
        for fun in self._funnels.funnels:
            for st in fun.stages:
                if st.rotting_days and not st.closed:
                    cutoff = end - timedelta(days=st.rotting_days)
                    cutoffs.append((and_(d.funnel == fun.key, last.c.to_stage == st.key), cutoff))
        if not cutoffs:
            return ()
        stale = last.c.at < case(*cutoffs, else_=None)
        rows = await session.execute(
            select(d.id, d.title, u.telegram_id, u.name, last.c.to_stage, last.c.at)
            .select_from(_D)
            .join(last, last.c.deal_id == d.id)
            .join(_U, u.id == d.owner_id)
            .where(
                d.team_id == team_id,
                stale,
                or_(d.next_step_due.is_(None), d.next_step_due <= end),
            )
            .order_by(last.c.at)
            .limit(limit)
        )
        result = []
        for deal_id, title, telegram_id, name, stage, at in rows:
            moved = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
            moved = moved.replace(tzinfo=UTC) if moved.tzinfo is None else moved
            result.append(StalledDeal(deal_id, title, telegram_id, name, stage, (end - moved).days))
        return tuple(result)

    async def _count_moves(
        self,
        session: AsyncSession,
        team_id: int,
        period: Period,
        kind: ColumnElement[bool],
        by: Expr,
    ) -> list[tuple[Any, int]]:
        """The team's moves of one kind (forward, won, lost) in the period, counted by `by`."""
        t, d = _T.c, _D.c
        rows = await session.execute(
            select(by, func.count())
            .select_from(_T)
            .join(_D, d.id == t.deal_id)
            .where(d.team_id == team_id, t.at >= period.start, t.at < period.end, kind)
            .group_by(by)
        )
        return [(value, int(count)) for value, count in rows]

    async def lost_reasons(
        self, session: AsyncSession, team_id: int, period: Period
    ) -> dict[str, int]:
        _, _, lost = self._move_flags()
        rows = await self._count_moves(session, team_id, period, lost, _T.c.lost_reason)
        counts: dict[str, int] = {}
        for reason, count in rows:  # one row per reason
            key = reason or "other"
            counts[key] = counts.get(key, 0) + count
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    async def overdue(
        self, session: AsyncSession, team_id: int, end: datetime, limit: int
    ) -> tuple[OverdueStep, ...]:
        """Open deals whose planned next step was due before the end of the period."""
        d, u = _D.c, _U.c
        rows = await session.execute(
            select(d.id, d.title, u.name, d.next_step_text, d.next_step_due)
            .select_from(_D)
            .join(_U, u.id == d.owner_id)
            .where(d.team_id == team_id, d.status == "open", d.next_step_due < end)
            .order_by(d.next_step_due)
            .limit(limit)
        )
        return tuple(
            OverdueStep(deal_id, title, owner, text, due)
            for deal_id, title, owner, text, due in rows
            if due is not None
        )

    async def moves_into(
        self, session: AsyncSession, team_id: int, period: Period
    ) -> dict[str, int]:
        forward, _, _ = self._move_flags()
        return dict(await self._count_moves(session, team_id, period, forward, _T.c.to_stage))

    # --- conversion ---------------------------------------------------------------------

    async def furthest_orders(
        self, session: AsyncSession, team_id: int, funnel: str, period: Period
    ) -> dict[int, int]:
        """For the funnel's deals created in the period: how many got furthest to each order."""
        t, d = _T.c, _D.c
        order = self._stage_value(d.funnel, t.to_stage, "order")
        lost = self._stage_value(d.funnel, t.to_stage, "lost") == 1
        furthest = (
            select(t.deal_id, func.max(case((~lost, order), else_=-1)).label("top"))
            .select_from(_T)
            .join(_D, d.id == t.deal_id)
            .where(
                d.team_id == team_id,
                d.funnel == funnel,
                d.created_at >= period.start,
                d.created_at < period.end,
            )
            .group_by(t.deal_id)
            .subquery()
        )
        rows = await session.execute(select(furthest.c.top, func.count()).group_by(furthest.c.top))
        return {int(top): int(count) for top, count in rows}

    def _days(self, session: AsyncSession, later: Expr, earlier: Expr) -> Expr:
        if session.get_bind().dialect.name == "sqlite":
            return func.julianday(later) - func.julianday(earlier)
        return func.extract("epoch", later - earlier) / 86400.0

    async def stage_durations(
        self, session: AsyncSession, team_id: int, funnel: str, period: Period
    ) -> dict[str, float]:
        """Average days in each stage, for the funnel's deals created in the period."""
        t, d = _T.c, _D.c
        timeline = (
            select(
                t.to_stage,
                t.at,
                func.lead(t.at)
                .over(partition_by=t.deal_id, order_by=(t.at, t.id))
                .label("left_at"),
            )
            .select_from(_T)
            .join(_D, d.id == t.deal_id)
            .where(
                d.team_id == team_id,
                d.funnel == funnel,
                d.created_at >= period.start,
                d.created_at < period.end,
            )
            .subquery()
        )
        rows = await session.execute(
            select(
                timeline.c.to_stage,
                func.avg(self._days(session, timeline.c.left_at, timeline.c.at)),
            )
            .where(timeline.c.left_at.is_not(None))
            .group_by(timeline.c.to_stage)
        )
        return {stage: float(days) for stage, days in rows if days is not None}

    async def cycle(self, session: AsyncSession, team_id: int, period: Period) -> float | None:
        _, won, _ = self._move_flags()
        t, d = _T.c, _D.c
        value = await session.scalar(
            select(func.avg(self._days(session, t.at, d.created_at)))
            .select_from(_T)
            .join(_D, d.id == t.deal_id)
            .where(d.team_id == team_id, t.at >= period.start, t.at < period.end, won)
        )
        return float(value) if value is not None else None

    # --- plans --------------------------------------------------------------------------

    async def plan_target(self, session: AsyncSession, user_id: int) -> PlanTarget | None:
        u = _U.c
        row = (
            await session.execute(select(u.id, u.name, u.team_id).where(u.id == user_id))
        ).first()
        return PlanTarget(row.id, row.name, row.team_id) if row else None

    async def save_plan(
        self,
        session: AsyncSession,
        user_id: int,
        month: str,
        amount: Decimal | None,
        deals: int | None,
        set_by: int,
        now: datetime,
    ) -> tuple[Decimal | None, int | None]:
        """Set what was given and keep the other part: «$50,000» typed for a plan of
        1,5 млн and 5 deals changes the amount, not the deals. Returns the plan as saved."""
        p = _PLANS.c
        given = {"amount": amount, "deals": deals}
        values = {
            **{key: value for key, value in given.items() if value is not None},
            "set_by_id": set_by, "updated_at": now,
        }  # fmt: skip
        result = await session.execute(
            update(_PLANS)
            .where(p.user_id == user_id, p.month == month)
            .values(**values)
            .returning(p.amount, p.deals)
        )
        row = result.first()
        if row is not None:
            return row[0], row[1]
        await session.execute(
            insert(_PLANS).values(user_id=user_id, month=month, **{**given, **values})
        )
        return amount, deals

    # --- the digest's knowledge part ----------------------------------------------------

    async def knowledge_usage(
        self,
        session: AsyncSession,
        team_id: int,
        period: Period,
        kinds: tuple[str, str, str, str],
    ) -> KnowledgeUsage:
        """The team's most answered entries, unanswered questions, disliked entries and the
        latest script gaps; `kinds` names the answered, not-found, 👎 and script-gap events."""
        e, u = _EVENTS.c, _U.c
        answered, not_found, down, gap = kinds
        in_team = select(u.id).where(u.team_id == team_id).scalar_subquery()
        base = (e.at >= period.start, e.at < period.end, e.user_id.in_(in_team))

        async def top(column: Expr, kind: str) -> tuple[tuple[str, int], ...]:
            rows = await session.execute(
                select(column, func.count())
                .where(*base, e.kind == kind)
                .group_by(column)
                .order_by(func.count().desc(), column)
                .limit(TOP)
            )
            return tuple((str(a), int(b)) for a, b in rows if a)

        gaps = await session.execute(
            select(e.entry_id, e.step_id, e.text, u.name)
            .join(_U, u.id == e.user_id)
            .where(*base, e.kind == gap)
            .order_by(e.at.desc(), e.id.desc())
            .limit(TOP)
        )
        gap_count = await session.scalar(select(func.count()).where(*base, e.kind == gap))
        return KnowledgeUsage(
            await top(e.entry_id, answered),
            await top(e.query, not_found),
            await top(e.entry_id, down),
            tuple((a or "", b or "", c or "", d) for a, b, c, d in gaps),
            int(gap_count or 0),
        )

    # --- report files -------------------------------------------------------------------

    async def report_deals(
        self, session: AsyncSession, period: Period, team_ids: list[int] | None
    ) -> list[tuple[object, ...]]:
        """The deals active in the period, in the columns of the report's deals sheet."""
        d, u, teams = _D.c, _U.c, _TEAMS.c
        query = (
            select(
                d.id, d.title, teams.name, u.name, d.stage, d.status, d.amount, d.currency,
                d.lost_reason, d.created_at, d.stage_changed_at, d.funnel,
            )
            .select_from(_D)
            .join(_U, u.id == d.owner_id)
            .outerjoin(_TEAMS, teams.id == d.team_id)
            .where(d.created_at < period.end, d.updated_at >= period.start)
            .order_by(d.id)
        )  # fmt: skip
        if team_ids is not None:
            query = query.where(d.team_id.in_(team_ids))
        return [tuple(row) for row in await session.execute(query)]

    # --- the sent log -------------------------------------------------------------------

    async def claim(
        self,
        session: AsyncSession,
        kind: str,
        recipient: int,
        key: str,
        now: datetime,
        lease_until: datetime,
    ) -> Claim | None:
        """Claim a message until `lease_until`; None when another holds it or it was sent.

        A new claim is an insert (ON CONFLICT DO NOTHING rather than catching the unique
        violation: on PostgreSQL a violation would leave the transaction aborted). A claim
        whose lease ran out unsent, or that was released, is taken over by an update that
        only one caller can win: a retry.
        """
        statement = (
            insert_or_conflict(session, _SENT)
            .values(kind=kind, recipient=recipient, key=key, sent_at=now, lease_until=lease_until)
            .on_conflict_do_nothing(index_elements=["kind", "recipient", "key"])
        )
        if getattr(await session.execute(statement), "rowcount", 0):
            return "first"
        s = _SENT.c
        expired = (
            update(_SENT)
            .where(s.kind == kind, s.recipient == recipient, s.key == key)
            .where(s.lease_until.is_not(None), s.lease_until < now)
            .values(sent_at=now, lease_until=lease_until)
        )
        return "retry" if getattr(await session.execute(expired), "rowcount", 0) else None

    async def confirm(
        self, session: AsyncSession, kind: str, recipient: int, key: str, now: datetime
    ) -> None:
        s = _SENT.c
        await session.execute(
            update(_SENT)
            .where(s.kind == kind, s.recipient == recipient, s.key == key)
            .values(sent_at=now, lease_until=None)
        )

    async def release(self, session: AsyncSession, kind: str, recipient: int, key: str) -> None:
        """The row stays, its lease run out, so the next claim of it is known as a retry."""
        s = _SENT.c
        await session.execute(
            update(_SENT)
            .where(s.kind == kind, s.recipient == recipient, s.key == key)
            .values(lease_until=_RELEASED)
        )


__all__ = ("Claim", "PlanTarget", "ReportsStore", "TeamRow")
