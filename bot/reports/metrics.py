"""Transparent sales measures from the stage history, with SQL aggregates only.

Definitions (kept exactly; README repeats them):
- a move is a stage-history row with a source stage (a deal's creation is not a move);
- forward: the target comes later in the funnel than the source and is not a lost stage
  (a move into a won stage is forward);
- won: a move into a won stage from a stage that is not won; lost: into a lost stage;
- a day is 00:00–24:00 in the team's time zone; periods are half-open [start, end).
Per-row work happens in the database; Python only touches one row per stage or per owner.
"""

from __future__ import annotations

import calendar
import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    distinct,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from bot.common.errors import Forbidden, Invalid
from bot.db.models import Deal, Plan, StageTransition, Team, User
from bot.db.session import transaction
from bot.deals.funnel import Funnel, FunnelConfig
from bot.deals.team_funnels import team_funnel
from bot.people.service import Person, Role

ZERO = Decimal("0.00")

Expr = Any  # a SQL column or expression: mapped attributes and ColumnElements alike


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime  # aware UTC
    end: datetime
    label: str  # 2026-11-30, 2026-W48, 2026-11
    month: str  # YYYY-MM whose plan applies: the month the period ends in


def day_period(day: date, tz: ZoneInfo) -> Period:
    start = datetime.combine(day, time(0), tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tz)
    return Period(start.astimezone(UTC), end.astimezone(UTC), day.isoformat(), day.isoformat()[:7])


def week_period(day: date, tz: ZoneInfo) -> Period:
    monday = day - timedelta(days=day.weekday())
    start = datetime.combine(monday, time(0), tz)
    end = datetime.combine(monday + timedelta(days=7), time(0), tz)
    year, week, _ = monday.isocalendar()
    sunday = monday + timedelta(days=6)
    return Period(
        start.astimezone(UTC), end.astimezone(UTC), f"{year}-W{week:02d}", sunday.isoformat()[:7]
    )


def month_period(year: int, month: int, tz: ZoneInfo) -> Period:
    days = calendar.monthrange(year, month)[1]
    start = datetime.combine(date(year, month, 1), time(0), tz)
    end = datetime.combine(date(year, month, days) + timedelta(days=1), time(0), tz)
    label = f"{year}-{month:02d}"
    return Period(start.astimezone(UTC), end.astimezone(UTC), label, label)


def parse_period(text: str, now: datetime, tz: ZoneInfo) -> Period:
    """today | yesterday | week | month | YYYY-MM | YYYY-MM-DD (in the team's time zone)."""
    today = now.astimezone(tz).date()
    word = text.strip().lower()
    if word in ("", "today", "сегодня"):
        return day_period(today, tz)
    if word in ("yesterday", "вчера"):
        return day_period(today - timedelta(days=1), tz)
    if word in ("week", "неделя"):
        return week_period(today, tz)
    if word in ("month", "месяц"):
        return month_period(today.year, today.month, tz)
    try:
        if len(word) == 7:
            year, month = (int(part) for part in word.split("-"))
            return month_period(year, month, tz)
        return day_period(date.fromisoformat(word), tz)
    except ValueError:
        raise Invalid("stats.bad_period", value=text[:20]) from None


@dataclass(frozen=True, slots=True)
class StageFigures:
    count: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class StalledDeal:
    deal_id: int
    title: str
    owner_telegram_id: int
    owner_name: str
    stage: str
    days: int


@dataclass(frozen=True, slots=True)
class OverdueStep:
    deal_id: int
    title: str
    owner_name: str
    text: str | None
    due: datetime


@dataclass(frozen=True, slots=True)
class ManagerFigures:
    user_id: int
    telegram_id: int
    name: str
    new_deals: int = 0
    deals_advanced: int = 0
    stages_advanced: int = 0
    won_count: int = 0
    won_amount: Decimal = ZERO
    lost_count: int = 0
    plan_amount: Decimal | None = None
    plan_deals: int | None = None
    fact_amount: Decimal = ZERO  # won, month to date
    fact_deals: int = 0


@dataclass(frozen=True, slots=True)
class TeamFigures:
    team_id: int
    team: str
    period: Period
    new_deals: int
    deals_advanced: int
    stages_advanced: int
    won_count: int
    won_amount: Decimal
    lost_count: int
    lost_reasons: dict[str, int]
    funnel: str  # the team's funnel: its stages order the pipeline
    pipeline_by_stage: dict[str, StageFigures]
    weighted_forecast: Decimal
    stalled: tuple[StalledDeal, ...]
    managers: tuple[ManagerFigures, ...]
    moves_into: dict[str, int] = field(default_factory=dict)  # forward moves per target stage
    overdue: tuple[OverdueStep, ...] = ()


@dataclass(frozen=True, slots=True)
class Conversion:
    funnel: str  # the funnel whose stages these are (the team's)
    reached: dict[str, int]  # deals created in the period that reached each stage
    rates: dict[str, float | None]  # reached(stage) / reached(previous stage)
    avg_days_in_stage: dict[str, float | None]
    avg_cycle_days: float | None
    win_rate: float | None


class MetricsService:
    def __init__(
        self, db: async_sessionmaker[AsyncSession], funnels: FunnelConfig, tz: ZoneInfo
    ) -> None:
        self._db = db
        self.funnels = funnels
        self.tz = tz
        self._flags: tuple[ColumnElement[bool], ColumnElement[bool], ColumnElement[bool]] | None = (
            None
        )

    # --- SQL building blocks ------------------------------------------------------------

    def _stage_value(self, funnel: Expr, stage: Expr, value: str) -> ColumnElement[int]:
        """CASE over (funnel, stage) giving a stage attribute: order, probability, won, lost."""
        whens = []
        for fun in self.funnels.funnels:
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
        t, d = StageTransition, Deal
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

    # --- the team figures -------------------------------------------------------------

    async def team_figures(
        self, team_id: int, period: Period, *, stalled_limit: int = 10
    ) -> TeamFigures:
        async with transaction(self._db) as session:
            team = await session.get(Team, team_id)
            if team is None:
                raise Invalid("team.not_found")
            managers = await self._managers(session, team_id, period)
            pipeline, forecast = await self._pipeline(session, team_id, period.end)
            stalled = await self._stalled(session, team_id, period.end, stalled_limit)
            reasons = await self._lost_reasons(session, team_id, period)
            moves_into = await self._moves_into(session, team_id, period)
            overdue = await self._overdue(session, team_id, period.end, stalled_limit)
        return TeamFigures(
            team_id=team_id, team=team.name, period=period,
            new_deals=sum(m.new_deals for m in managers),
            deals_advanced=sum(m.deals_advanced for m in managers),
            stages_advanced=sum(m.stages_advanced for m in managers),
            won_count=sum(m.won_count for m in managers),
            won_amount=sum((m.won_amount for m in managers), ZERO),
            lost_count=sum(m.lost_count for m in managers),
            funnel=self.funnels.of_team(team.funnel).key, lost_reasons=reasons,
            pipeline_by_stage=pipeline, weighted_forecast=forecast,
            stalled=stalled, managers=tuple(managers), moves_into=moves_into, overdue=overdue,
        )  # fmt: skip

    async def _move_counts(
        self, session: AsyncSession, team_id: int, start: datetime, end: datetime
    ) -> dict[int, tuple[int, int, int, Decimal, int]]:
        """Per owner: (deals advanced, stages advanced, won count, won amount, lost count)."""
        forward, won, lost = self._move_flags()
        t, d = StageTransition, Deal
        one = literal(1)
        query = (
            select(
                d.owner_id,
                func.count(distinct(case((forward, t.deal_id)))),
                func.sum(case((forward, one), else_=0)),
                func.sum(case((won, one), else_=0)),
                func.sum(case((won, func.coalesce(d.amount, 0)), else_=0)),
                func.sum(case((lost, one), else_=0)),
            )
            .join(d, d.id == t.deal_id)
            .where(d.team_id == team_id, t.at >= start, t.at < end, t.from_stage.is_not(None))
            .group_by(d.owner_id)
        )
        rows = await session.execute(query)
        return {
            owner: (
                int(a or 0),
                int(b or 0),
                int(c or 0),
                Decimal(w or 0).quantize(ZERO),
                int(e or 0),
            )
            for owner, a, b, c, w, e in rows
        }

    async def _won_counts(
        self, session: AsyncSession, team_id: int, start: datetime, end: datetime
    ) -> dict[int, tuple[int, Decimal]]:
        """Per owner: deals won and their amount (the plan's fact) — a month of history, so
        the query narrows to moves into won stages before any per-row CASE."""
        _, won, _ = self._move_flags()
        t, d = StageTransition, Deal
        won_keys = sorted({s.key for f in self.funnels.funnels for s in f.stages if s.won})
        rows = await session.execute(
            select(d.owner_id, func.count(), func.sum(func.coalesce(d.amount, 0)))
            .select_from(t)
            .join(d, d.id == t.deal_id)
            .where(d.team_id == team_id, t.at >= start, t.at < end, t.to_stage.in_(won_keys), won)
            .group_by(d.owner_id)
        )
        return {
            owner: (int(count), Decimal(amount or 0).quantize(ZERO))
            for owner, count, amount in rows
        }

    async def _managers(
        self, session: AsyncSession, team_id: int, period: Period
    ) -> list[ManagerFigures]:
        moves = await self._move_counts(session, team_id, period.start, period.end)
        month = month_period(int(period.month[:4]), int(period.month[5:7]), self.tz)
        month_to_date = await self._won_counts(session, team_id, month.start, period.end)
        new_rows = await session.execute(
            select(Deal.owner_id, func.count())
            .where(
                Deal.team_id == team_id,
                Deal.created_at >= period.start,
                Deal.created_at < period.end,
            )
            .group_by(Deal.owner_id)
        )
        new = {owner: int(count) for owner, count in new_rows}
        plans = {
            row.user_id: row
            for row in await session.scalars(select(Plan).where(Plan.month == period.month))
        }
        people = list(
            await session.scalars(
                select(User)
                .where(
                    or_(
                        and_(
                            User.team_id == team_id,
                            User.active.is_(True),
                            User.role != Role.ADMIN.value,
                        ),
                        User.id.in_(set(moves) | set(new)),
                    )
                )
                .order_by(User.name)
            )
        )
        result = []
        for person in people:
            adv, stages, won, won_amount, lost = moves.get(person.id, (0, 0, 0, ZERO, 0))
            mtd_count, mtd_amount = month_to_date.get(person.id, (0, ZERO))
            plan = plans.get(person.id)
            result.append(
                ManagerFigures(
                    user_id=person.id, telegram_id=person.telegram_id, name=person.name,
                    new_deals=new.get(person.id, 0), deals_advanced=adv, stages_advanced=stages,
                    won_count=won, won_amount=won_amount, lost_count=lost,
                    plan_amount=plan.amount if plan else None,
                    plan_deals=plan.deals if plan else None,
                    fact_amount=mtd_amount, fact_deals=mtd_count,
                )
            )  # fmt: skip
        return result

    def _stage_at(self, end: datetime) -> Select[Any]:
        """Each deal's stage at `end`, as it was then.

        A deal not moved since `end` is where `deals` says (its stage_changed_at is the time of
        its last history row); only deals moved later read the history, one index probe each.
        Ranking the whole history with a window function instead took seconds per team.
        """
        t, d = StageTransition, Deal

        def last(column: Any) -> Any:
            return (
                select(column)
                .where(t.deal_id == d.id, t.at < end)
                .order_by(t.at.desc(), t.id.desc())
                .limit(1)
                .correlate(d)
                .scalar_subquery()
            )

        moved_later = d.stage_changed_at >= end
        return select(
            d.id.label("deal_id"),
            case((moved_later, last(t.to_stage)), else_=d.stage).label("to_stage"),
            case((moved_later, last(t.at)), else_=d.stage_changed_at).label("at"),
        ).where(d.created_at < end)

    async def _pipeline(
        self, session: AsyncSession, team_id: int, end: datetime
    ) -> tuple[dict[str, StageFigures], Decimal]:
        last = self._stage_at(end).subquery()
        d = Deal
        stage = func.coalesce(last.c.to_stage, d.stage)
        open_stage = and_(
            self._stage_value(d.funnel, stage, "won") == 0,
            self._stage_value(d.funnel, stage, "lost") == 0,
        )
        probability = func.coalesce(
            d.probability, self._stage_value(d.funnel, stage, "probability")
        )
        rows = await session.execute(
            select(
                stage,
                func.count(),
                func.sum(func.coalesce(d.amount, 0)),
                func.sum(func.coalesce(d.amount, 0) * probability),
            )
            .select_from(d)
            .outerjoin(last, last.c.deal_id == d.id)
            .where(d.team_id == team_id, d.created_at < end, open_stage)
            .group_by(stage)
        )
        pipeline: dict[str, StageFigures] = {}
        forecast = Decimal(0)
        for key, count, amount, weighted in rows:
            pipeline[key] = StageFigures(int(count), Decimal(amount or 0).quantize(ZERO))
            forecast += Decimal(weighted or 0) / 100
        return pipeline, forecast.quantize(ZERO)

    async def _stalled(
        self, session: AsyncSession, team_id: int, end: datetime, limit: int
    ) -> tuple[StalledDeal, ...]:
        """Open at `end`, no move for longer than the stage's rotting days, no future step."""
        last = self._stage_at(end).subquery()
        d = Deal
        cutoffs = []
        for fun in self.funnels.funnels:
            for st in fun.stages:
                if st.rotting_days and not st.closed:
                    cutoff = end - timedelta(days=st.rotting_days)
                    cutoffs.append((and_(d.funnel == fun.key, last.c.to_stage == st.key), cutoff))
        if not cutoffs:
            return ()
        stale = last.c.at < case(*cutoffs, else_=None)
        rows = await session.execute(
            select(d.id, d.title, User.telegram_id, User.name, last.c.to_stage, last.c.at)
            .join(last, last.c.deal_id == d.id)
            .join(User, User.id == d.owner_id)
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
        by: InstrumentedAttribute[Any],
    ) -> list[tuple[Any, int]]:
        """The team's moves of one kind (forward, won, lost) in the period, counted by `by`."""
        t, d = StageTransition, Deal
        rows = await session.execute(
            select(by, func.count())
            .join(d, d.id == t.deal_id)
            .where(d.team_id == team_id, t.at >= period.start, t.at < period.end, kind)
            .group_by(by)
        )
        return [(value, int(count)) for value, count in rows]

    async def _lost_reasons(
        self, session: AsyncSession, team_id: int, period: Period
    ) -> dict[str, int]:
        _, _, lost = self._move_flags()
        rows = await self._count_moves(session, team_id, period, lost, StageTransition.lost_reason)
        counts: dict[str, int] = {}
        for reason, count in rows:  # one row per reason
            key = reason or "other"
            counts[key] = counts.get(key, 0) + count
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    async def _overdue(
        self, session: AsyncSession, team_id: int, end: datetime, limit: int
    ) -> tuple[OverdueStep, ...]:
        """Open deals whose planned next step was due before the end of the period."""
        rows = await session.execute(
            select(Deal.id, Deal.title, User.name, Deal.next_step_text, Deal.next_step_due)
            .join(User, User.id == Deal.owner_id)
            .where(Deal.team_id == team_id, Deal.status == "open", Deal.next_step_due < end)
            .order_by(Deal.next_step_due)
            .limit(limit)
        )
        return tuple(
            OverdueStep(deal_id, title, owner, text, due)
            for deal_id, title, owner, text, due in rows
            if due is not None
        )

    async def _moves_into(
        self, session: AsyncSession, team_id: int, period: Period
    ) -> dict[str, int]:
        forward, _, _ = self._move_flags()
        return dict(
            await self._count_moves(session, team_id, period, forward, StageTransition.to_stage)
        )

    # --- conversion -------------------------------------------------------------------

    async def conversion(self, team_id: int, period: Period) -> Conversion:
        """For the team's funnel's deals created in the period: how far they got, how long
        stages take, win rate."""
        t, d = StageTransition, Deal
        order = self._stage_value(d.funnel, t.to_stage, "order")
        lost = self._stage_value(d.funnel, t.to_stage, "lost") == 1
        async with transaction(self._db) as session:
            funnel = await team_funnel(session, self.funnels, team_id)
            furthest = (
                select(t.deal_id, func.max(case((~lost, order), else_=-1)).label("top"))
                .join(d, d.id == t.deal_id)
                .where(
                    d.team_id == team_id,
                    d.funnel == funnel.key,
                    d.created_at >= period.start,
                    d.created_at < period.end,
                )
                .group_by(t.deal_id)
                .subquery()
            )
            counts: dict[int, int] = dict((await session.execute(
                select(furthest.c.top, func.count()).group_by(furthest.c.top)
            )).all())  # fmt: skip
            durations = await self._stage_durations(session, team_id, period, funnel)
            cycle = await self._cycle(session, team_id, period)
            outcomes = await self._move_counts(session, team_id, period.start, period.end)
        reached: dict[str, int] = {}
        running = 0
        for stage in reversed(funnel.stages):
            if stage.lost:
                continue
            running += int(counts.get(stage.order, 0))
            reached[stage.key] = running
        open_order = [s.key for s in funnel.stages if not s.lost]
        rates: dict[str, float | None] = {}
        for previous, current in itertools.pairwise(open_order):
            rates[current] = reached[current] / reached[previous] if reached[previous] else None
        won = sum(v[2] for v in outcomes.values())
        lost_count = sum(v[4] for v in outcomes.values())
        return Conversion(
            funnel=funnel.key,
            reached={key: reached[key] for key in open_order},
            rates=rates,
            avg_days_in_stage=durations,
            avg_cycle_days=cycle,
            win_rate=won / (won + lost_count) if won + lost_count else None,
        )

    def _days(self, session: AsyncSession, later: Expr, earlier: Expr) -> Expr:
        if session.get_bind().dialect.name == "sqlite":
            return func.julianday(later) - func.julianday(earlier)
        return func.extract("epoch", later - earlier) / 86400.0

    async def _stage_durations(
        self, session: AsyncSession, team_id: int, period: Period, funnel: Funnel
    ) -> dict[str, float | None]:
        t, d = StageTransition, Deal
        timeline = (
            select(
                t.to_stage,
                t.at,
                func.lead(t.at)
                .over(partition_by=t.deal_id, order_by=(t.at, t.id))
                .label("left_at"),
            )
            .join(d, d.id == t.deal_id)
            .where(
                d.team_id == team_id,
                d.funnel == funnel.key,
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
        found = {stage: float(days) for stage, days in rows if days is not None}
        return {s.key: found.get(s.key) for s in funnel.stages if not s.closed}

    async def _cycle(self, session: AsyncSession, team_id: int, period: Period) -> float | None:
        _, won, _ = self._move_flags()
        t, d = StageTransition, Deal
        value = await session.scalar(
            select(func.avg(self._days(session, t.at, d.created_at)))
            .join(d, d.id == t.deal_id)
            .where(d.team_id == team_id, t.at >= period.start, t.at < period.end, won)
        )
        return float(value) if value is not None else None

    # --- plans and access -------------------------------------------------------------

    async def set_plan(
        self,
        actor: Person,
        user_id: int,
        month: str,
        amount: Decimal | None,
        deals: int | None,
        now: datetime,
    ) -> None:
        async with transaction(self._db) as session:
            target = await session.get(User, user_id)
            if target is None:
                raise Invalid("person.not_found")
            if not (actor.is_admin or (actor.is_lead and target.team_id == actor.team_id)):
                raise Forbidden("plan.forbidden")
            plan = await session.scalar(
                select(Plan).where(Plan.user_id == user_id, Plan.month == month)
            )
            if plan is None:
                plan = Plan(user_id=user_id, month=month)
                session.add(plan)
            plan.amount, plan.deals, plan.set_by_id, plan.updated_at = amount, deals, actor.id, now

    async def set_group_chat(self, actor: Person, chat_id: int) -> bool:
        """A lead adds the bot to a group: that group is where the team's leaderboards go."""
        if not actor.is_lead or actor.team_id is None:
            return False
        async with transaction(self._db) as session:
            team = await session.get(Team, actor.team_id)
            if team is None:
                return False
            team.group_chat_id = chat_id
        return True

    async def group_chat(self, team_id: int) -> int | None:
        async with transaction(self._db) as session:
            team = await session.get(Team, team_id)
            return team.group_chat_id if team else None

    async def teams(self) -> list[tuple[int, str]]:
        async with transaction(self._db) as session:
            return [
                (row.id, row.name)
                for row in await session.execute(select(Team.id, Team.name).order_by(Team.name))
            ]

    async def team_by_name(self, name: str) -> int:
        async with transaction(self._db) as session:
            team_id = await session.scalar(select(Team.id).where(Team.name == name))
        if team_id is None:
            raise Invalid("team.not_found")
        return int(team_id)
