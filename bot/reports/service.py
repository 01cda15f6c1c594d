"""The reports' use cases: figures, stats, the leaderboard, plans, report files, the digest.

Who may see what lives here, for the bot, the CLI and the scheduled jobs alike: an admin sees
every team, a lead their own team, a manager their own figures (and their team's
leaderboard). Each method runs in one transaction and returns frozen views.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.common.clock import Clock
from bot.common.errors import Forbidden, Invalid, NotFound
from bot.common.money import MAX_AMOUNT, format_decimal, parse_amount
from bot.db.session import Session, SessionFactory, transaction
from bot.deals.funnel import FunnelConfig
from bot.knowledge.service import Event
from bot.people.service import PeopleService, Person, Role
from bot.reports.digest import Digest, DigestRun, KnowledgeUsage
from bot.reports.files import Report, manager_rows
from bot.reports.metrics import (
    BASE_CURRENCY,
    Conversion,
    ManagerFigures,
    Period,
    Rates,
    StageFigures,
    Sums,
    TeamFigures,
    conversion_of,
    day_period,
    month_forecast,
    month_period,
    parse_period,
    ranked,
    team_totals,
    week_period,
)
from bot.reports.sent_log import SentLogService
from bot.reports.store import ReportsStore

DEALS_WORDS = re.compile(r"(\d+)\s*(?:сдел\w*|deals?)", re.IGNORECASE)
PLAN_JOINS = re.compile(r",(?!\d)|;|\+|\s(?:и|and|&)(?:\s|$)", re.IGNORECASE)
STALLED_LIMIT = 10  # stalled deals and overdue steps the digest lists
MAX_PLAN_DEALS = 100_000  # deals in a month's plan: more is a typo (and past a 32-bit column)


@dataclass(frozen=True, slots=True)
class PlanProgress:
    amount: Decimal | None
    deals: int | None
    fact: Sums  # won, month to date
    percent: int  # of the amount: the fact in the base currency (with what was converted)
    forecast: Decimal | None  # the month's won amount at this pace; None: too early to say


@dataclass(frozen=True, slots=True)
class ManagerStats:
    figures: ManagerFigures
    plan: PlanProgress | None  # None: no plan for the month


@dataclass(frozen=True, slots=True)
class MyStats:
    """A manager's own figures."""

    period: Period
    mine: ManagerStats


@dataclass(frozen=True, slots=True)
class TeamStats:
    period: Period
    figures: TeamFigures
    managers: tuple[ManagerStats, ...]
    conversion: Conversion


@dataclass(frozen=True, slots=True)
class TeamChoice:
    """An admin with several teams (or none) picks one first."""

    period: Period
    teams: tuple[tuple[int, str], ...]


@dataclass(frozen=True, slots=True)
class Leaderboard:
    team_id: int
    period: Period
    ranked: tuple[ManagerFigures, ...]  # with a move or a win, best first
    may_post: bool  # a lead or an admin may post it to the team's group


@dataclass(frozen=True, slots=True)
class LeaderboardPost:
    chat_id: int
    board: Leaderboard


@dataclass(frozen=True, slots=True)
class PlanChoice:
    month: str
    managers: tuple[Person, ...]


@dataclass(frozen=True, slots=True)
class PlanTarget:
    person_id: int
    name: str
    month: str


@dataclass(frozen=True, slots=True)
class PlanSaved:
    name: str
    month: str
    amount: Decimal | None  # in the base currency
    deals: int | None
    typed: tuple[Decimal, str] | None = None  # the amount as typed, when it was converted


@dataclass(frozen=True, slots=True)
class PlanInput:
    """A plan as typed: the amount in the currency it was typed in, and/or deals."""

    amount: Decimal | None
    deals: int | None
    currency: str = BASE_CURRENCY


def parse_plan(text: str) -> PlanInput:
    """«1,5 млн, 5 сделок», «2 млн и 5 сделок», «500000», «3», «$50,000»: an amount and/or
    a number of deals.

    A comma, «и», "and", «+» or «;» joins the two; the amount reads as `parse_amount` reads it.
    """
    amount: Decimal | None = None
    deals: int | None = None
    currency = BASE_CURRENCY
    rest = text
    if match := DEALS_WORDS.search(text):
        deals = int(match.group(1))
        rest = text[: match.start()] + text[match.end() :]
    parts = [part.strip() for part in PLAN_JOINS.split(rest) if part.strip()]
    for part in parts:
        # isdecimal, not isdigit: «²» is a digit that int() does not read
        if deals is None and part.isdecimal() and int(part) < 1000:
            deals = int(part)
            continue
        try:
            amount, currency = parse_amount(part)
        except Invalid:
            raise Invalid("plan.bad") from None
    if (amount is None and deals is None) or (deals is not None and deals > MAX_PLAN_DEALS):
        raise Invalid("plan.bad")
    return PlanInput(amount, deals, currency)


class ReportsService:
    def __init__(
        self,
        db: SessionFactory,
        funnels: FunnelConfig,
        people: PeopleService,
        *,
        clock: Clock,
        tz: ZoneInfo,
        digest_time: time,
        store: ReportsStore | None = None,
        rates: Mapping[str, Decimal] | None = None,
    ) -> None:
        self._db = db
        self._funnels = funnels
        self._people = people
        self._clock = clock
        self.tz = tz
        self._digest_time = digest_time
        self._rates = Rates(dict(rates or {}))
        self._store = store or ReportsStore(funnels, rates)
        self.sent_log = SentLogService(db, clock, self._store)  # the jobs' exactly-once claims

    # --- access -------------------------------------------------------------------------

    @staticmethod
    def _check_team(actor: Person, team_id: int) -> None:
        """A team's figures: an admin any team's, a lead their own team's."""
        if not (actor.is_admin or (actor.is_lead and actor.team_id == team_id)):
            raise Forbidden("team.forbidden")

    def period(self, text: str) -> Period:
        """today | yesterday | week | month | YYYY-MM | YYYY-MM-DD, in the team's time zone."""
        return parse_period(text, self._clock(), self.tz)

    # --- the figures --------------------------------------------------------------------

    async def _figures(
        self, session: Session, team_id: int, period: Period, stalled_limit: int
    ) -> TeamFigures:
        store = self._store
        team = await store.team(session, team_id)
        if team is None:
            raise NotFound("team.not_found")
        month = month_period(int(period.month[:4]), int(period.month[5:7]), self.tz)
        s = session
        managers = await store.managers(s, team_id, period, month)
        pipeline, forecast = await store.pipeline(s, team_id, period.end)
        stalled = await store.stalled(s, team_id, period.end, stalled_limit)
        reasons = await store.lost_reasons(s, team_id, period)
        moves_into = await store.moves_into(s, team_id, period)
        overdue = await store.overdue(s, team_id, period.end, stalled_limit)
        return team_totals(
            team_id, team.name, period, self._funnels.of_team(team.funnel).key, managers,
            pipeline=pipeline, forecast=forecast, stalled=stalled, lost_reasons=reasons,
            moves_into=moves_into, overdue=overdue,
        )  # fmt: skip

    async def team_figures(
        self, actor: Person, team_id: int, period: Period, *, stalled_limit: int = STALLED_LIMIT
    ) -> TeamFigures:
        """A team's figures for a period, as the digest shows them."""
        self._check_team(actor, team_id)
        async with transaction(self._db) as session:
            return await self._figures(session, team_id, period, stalled_limit)

    async def conversion(self, actor: Person, team_id: int, period: Period) -> Conversion:
        """For the team's funnel's deals created in the period: how far they got, how long
        stages take, win rate."""
        self._check_team(actor, team_id)
        async with transaction(self._db) as session:
            return await self._conversion(session, team_id, period)

    async def _conversion(self, session: Session, team_id: int, period: Period) -> Conversion:
        store, s = self._store, session
        team = await store.team(s, team_id)
        funnel = self._funnels.of_team(team.funnel if team else None)
        furthest = await store.furthest_orders(s, team_id, funnel.key, period)
        durations = await store.stage_durations(s, team_id, funnel.key, period)
        cycle = await store.cycle(s, team_id, period)
        outcomes = await store.move_counts(s, team_id, period.start, period.end)
        won = sum(v[2] for v in outcomes.values())
        lost = sum(v[4] for v in outcomes.values())
        return conversion_of(funnel, furthest, durations, cycle, won, lost)

    # --- /stats -------------------------------------------------------------------------

    def _manager_stats(self, m: ManagerFigures, period: Period) -> ManagerStats:
        if m.plan_amount is None and m.plan_deals is None:
            return ManagerStats(m, None)
        month = month_period(int(period.month[:4]), int(period.month[5:]), self.tz)
        percent = int(m.fact_amount.base * 100 / m.plan_amount) if m.plan_amount else 0
        forecast = month_forecast(m, month, self._clock())
        return ManagerStats(
            m, PlanProgress(m.plan_amount, m.plan_deals, m.fact_amount, percent, forecast)
        )

    async def stats(self, actor: Person, period: Period) -> MyStats | TeamStats | TeamChoice:
        """A manager's own figures; a lead's team; an admin's only team, or a choice of teams."""
        if actor.is_admin:
            async with transaction(self._db) as session:
                teams = tuple(await self._store.teams(session))
            if len(teams) != 1:
                return TeamChoice(period, teams)
            return await self.team_stats(actor, teams[0][0], period)
        if actor.team_id is None:
            raise Forbidden("team.forbidden")
        if actor.is_lead:
            return await self.team_stats(actor, actor.team_id, period)
        async with transaction(self._db) as session:
            figures = await self._figures(session, actor.team_id, period, 0)
        mine = next(
            (m for m in figures.managers if m.user_id == actor.id),
            ManagerFigures(actor.id, actor.telegram_id, actor.name),
        )
        return MyStats(period, self._manager_stats(mine, period))

    async def team_stats(self, actor: Person, team_id: int, period: Period) -> TeamStats:
        self._check_team(actor, team_id)
        async with transaction(self._db) as session:
            figures = await self._figures(session, team_id, period, 0)
            conversion = await self._conversion(session, team_id, period)
        managers = tuple(self._manager_stats(m, period) for m in figures.managers)
        return TeamStats(period, figures, managers, conversion)

    # --- the leaderboard ----------------------------------------------------------------

    async def leaderboard(self, actor: Person, period: Period) -> Leaderboard | None:
        """The actor's team's managers ranked; someone without a team sees the first team's.
        None: there is no team yet."""
        async with transaction(self._db) as session:
            team_id = actor.team_id
            if team_id is None:
                teams = await self._store.teams(session)
                if not teams:
                    return None
                team_id = teams[0][0]
            figures = await self._figures(session, team_id, period, 0)
        return Leaderboard(team_id, period, ranked(figures), actor.role is not Role.MANAGER)

    async def post_leaderboard(
        self, actor: Person, team_id: int, period: Period
    ) -> LeaderboardPost:
        """A lead (their team) or an admin posts the leaderboard to the team's group chat."""
        if actor.role is Role.MANAGER or (actor.is_lead and actor.team_id != team_id):
            raise Forbidden("team.forbidden")
        async with transaction(self._db) as session:
            team = await self._store.team(session, team_id)
            if team is None or team.group_chat_id is None:
                raise Invalid("leaderboard.no_group")
            figures = await self._figures(session, team_id, period, 0)
        return LeaderboardPost(
            team.group_chat_id, Leaderboard(team_id, period, ranked(figures), True)
        )

    async def set_group_chat(self, actor: Person, chat_id: int) -> bool:
        """A lead adds the bot to a group: that group is where the team's leaderboards go."""
        if not actor.is_lead or actor.team_id is None:
            return False
        async with transaction(self._db) as session:
            return await self._store.set_group_chat(session, actor.team_id, chat_id)

    # --- plans --------------------------------------------------------------------------

    def _month(self) -> str:
        return self.period("month").month

    async def plan_choice(self, actor: Person) -> PlanChoice:
        """The managers whose plan this person sets: a lead's team's, or everyone's for an admin."""
        if actor.role is Role.MANAGER:
            raise Forbidden("plan.forbidden")
        people = await self._people.people_of(actor.team_id if actor.is_lead else None)
        managers = tuple(p for p in people if p.role is Role.MANAGER)
        return PlanChoice(self._month(), managers)

    async def plan_target(self, actor: Person, person_id: int) -> PlanTarget:
        """The person a plan is about to be typed for, with the month it will apply to."""
        if actor.role is Role.MANAGER:
            raise Forbidden("plan.forbidden")  # before the look-up: the same for any id
        people = await self._people.people_of(None if actor.is_admin else actor.team_id)
        target = next((p for p in people if p.id == person_id), None)
        if target is None or not (actor.is_admin or target.team_id == actor.team_id):
            raise NotFound("person.not_found")  # another team's people are as good as none
        return PlanTarget(target.id, target.name, self._month())

    async def set_plan(
        self,
        actor: Person,
        person_id: int,
        amount: Decimal | None,
        deals: int | None,
        *,
        currency: str = BASE_CURRENCY,
        month: str | None = None,
    ) -> PlanSaved:
        """The month's plan (this month unless given): an amount and/or a number of deals.

        A plan is in the base currency, what the fact it is measured against adds up in: an
        amount typed in another currency is converted at the set rate (and the answer says
        so), and refused without one — never saved as if it were rubles."""
        if actor.role is Role.MANAGER:
            raise Forbidden("plan.forbidden")
        typed = None
        if amount is not None and currency != self._rates.base_currency:
            converted = self._rates.to_base(amount, currency)
            if converted is None:
                raise Invalid("plan.no_rate", currency=currency)
            if converted > MAX_AMOUNT:
                raise Invalid(
                    "amount.too_large", value=str(amount), limit=format_decimal(MAX_AMOUNT, 2)
                )
            typed, amount = (amount, currency), converted
        month = month or self._month()
        async with transaction(self._db) as session:
            target = await self._store.plan_target(session, person_id)
            if target is None or not (actor.is_admin or target.team_id == actor.team_id):
                raise NotFound("person.not_found")
            amount, deals = await self._store.save_plan(
                session, person_id, month, amount, deals, actor.id, self._clock()
            )
        return PlanSaved(target.name, month, amount, deals, typed)

    # --- report files -------------------------------------------------------------------

    @staticmethod
    def check_export(actor: Person) -> None:
        """Before a long report starts: a manager gets no report file."""
        if actor.role is Role.MANAGER:
            raise Forbidden("export.forbidden")

    async def report(
        self,
        actor: Person,
        period: Period,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> Report:
        """Every team's managers and the deals active in the period: a lead's own team,
        every team for an admin. One transaction per team, so a long report holds no lock."""
        self.check_export(actor)
        team_ids = None if actor.is_admin else [actor.team_id or 0]
        async with transaction(self._db) as session:
            teams = [
                t for t in await self._store.teams(session) if team_ids is None or t[0] in team_ids
            ]
        managers: list[tuple[object, ...]] = []
        for done, (team_id, _name) in enumerate(teams, 1):
            async with transaction(self._db) as session:
                managers += manager_rows(await self._figures(session, team_id, period, 0))
            if progress:
                progress(done, len(teams))
        async with transaction(self._db) as session:
            deals = await self._store.report_deals(session, period, team_ids)
        return Report(period, tuple(managers), tuple(deals))

    # --- the digest ---------------------------------------------------------------------

    def _digest(
        self,
        figures: TeamFigures,
        day: date,
        usage: KnowledgeUsage,
        previous: TeamFigures | None = None,
    ) -> Digest:
        funnel = self._funnels.of_team(figures.funnel)
        order = {stage.key: stage.order for stage in funnel.stages}
        pipeline: tuple[tuple[str, StageFigures], ...] = tuple(
            sorted(figures.pipeline_by_stage.items(), key=lambda kv: order.get(kv[0], 99))
        )
        return Digest(figures, day, usage, pipeline, previous)

    async def daily_digest(self, actor: Person, team_id: int, day: date) -> Digest:
        self._check_team(actor, team_id)
        period = day_period(day, self.tz)
        async with transaction(self._db) as session:
            figures = await self._figures(session, team_id, period, STALLED_LIMIT)
            usage = await self._store.knowledge_usage(session, team_id, period, _KINDS)
        return self._digest(figures, day, usage)

    async def weekly_digest(self, actor: Person, team_id: int, monday: date) -> Digest:
        """The week starting `monday` against the week before."""
        self._check_team(actor, team_id)
        period = week_period(monday, self.tz)
        async with transaction(self._db) as session:
            figures = await self._figures(session, team_id, period, STALLED_LIMIT)
            before = week_period(monday - timedelta(days=7), self.tz)
            previous = await self._figures(session, team_id, before, STALLED_LIMIT)
            usage = await self._store.knowledge_usage(session, team_id, period, _KINDS)
        return self._digest(figures, monday, usage, previous)

    async def digest_preview(self, actor: Person, team: str, day: date) -> Digest:
        """`voronka digest preview`: a team's daily digest by the team's name."""
        async with transaction(self._db) as session:
            team_id = await self._store.team_id_by_name(session, team)
        if team_id is None:
            raise Invalid("team.not_found")
        return await self.daily_digest(actor, team_id, day)

    async def digest(self, actor: Person, run: DigestRun) -> Digest:
        """The digest a run is due with, as one of its recipients may see it."""
        if run.kind == "weekly":
            return await self.weekly_digest(actor, run.team_id, run.day)
        return await self.daily_digest(actor, run.team_id, run.day)

    async def digests_due(self) -> tuple[DigestRun, ...]:
        """From the digest time on: yesterday's digest of every team, and on Mondays last
        week's, to the team's lead(s) and every admin. The sent log keeps each to once."""
        local_now = self._clock().astimezone(self.tz)
        if local_now.time() < self._digest_time:
            return ()
        yesterday = local_now.date() - timedelta(days=1)
        kinds = [("digest", yesterday)]
        if local_now.weekday() == 0:
            kinds.append(("weekly", local_now.date() - timedelta(days=7)))
        async with transaction(self._db) as session:
            teams = await self._store.teams(session)
        people = await self._people.people_of(None)
        runs = []
        for team_id, _ in teams:
            recipients = tuple(
                p for p in people
                if p.role is Role.ADMIN or (p.role is Role.LEAD and p.team_id == team_id)
            )  # fmt: skip
            for kind, day in kinds:
                key = f"{team_id}:{day.isoformat()}"
                runs.append(DigestRun(kind, team_id, day, key, recipients))
        return tuple(runs)


_KINDS = (Event.ANSWERED, Event.NOT_FOUND, Event.DOWN, Event.SCRIPT_GAP)

__all__ = (
    "Leaderboard",
    "LeaderboardPost",
    "ManagerStats",
    "MyStats",
    "PlanChoice",
    "PlanInput",
    "PlanProgress",
    "PlanSaved",
    "PlanTarget",
    "ReportsService",
    "TeamChoice",
    "TeamStats",
    "parse_plan",
)
