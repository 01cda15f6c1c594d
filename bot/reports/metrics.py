"""Transparent sales measures from the stage history: the periods and the figures as views.

Definitions (kept exactly; README repeats them):
- a move is a stage-history row with a source stage (a deal's creation is not a move);
- forward: the target comes later in the funnel than the source and is not a lost stage
  (a move into a won stage is forward);
- won: a move into a won stage from a stage that is not won; lost: into a lost stage;
- a day is 00:00–24:00 in the team's time zone; periods are half-open [start, end).
Per-row work happens in the database (`bot/reports/store.py`); Python only touches one row
per stage or per owner, here and in the service.
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.common.errors import Invalid
from bot.deals.funnel import Funnel

ZERO = Decimal("0.00")
BASE_CURRENCY = "RUB"
"""What plans are in and what other currencies are converted into, at the set rates."""
FIRST_YEAR, LAST_YEAR = 2000, 2099
"""The years a period may name: beyond them there is nothing to count, and at the calendar's
ends (0001-01-01, 9999-12-31) a period's bounds in UTC do not exist."""


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
    """today | yesterday | week | month | YYYY-MM | YYYY-MM-DD (in the team's time zone).

    Also YYYY-Www, a week's own label: buttons carry a period as its label.
    """
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
        if len(word) == 8 and word[4:6] == "-w":
            return week_period(date.fromisocalendar(int(word[:4]), int(word[6:]), 1), tz)
        if len(word) == 7:
            year, month = (int(part) for part in word.split("-"))
            day = date(year, month, 1)
        else:
            day = date.fromisoformat(word)
    except ValueError:
        raise Invalid("stats.bad_period", value=text[:20]) from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:  # 9999-12-31 has no next day to end at
        raise Invalid(
            "stats.period_out_of_range", value=text[:20], first=FIRST_YEAR, last=LAST_YEAR
        )
    return month_period(day.year, day.month, tz) if len(word) == 7 else day_period(day, tz)


Amounts = tuple[tuple[str, Decimal], ...]  # (currency, amount), by currency code


def _merge(*parts: Amounts) -> Amounts:
    total: dict[str, Decimal] = {}
    for part in parts:
        for code, amount in part:
            total[code] = total.get(code, ZERO) + amount
    return tuple(sorted((code, amount) for code, amount in total.items() if amount))


@dataclass(frozen=True, slots=True)
class Sums:
    """Money of several currencies as a figure shows it: never one number unless a rate says
    how. `base` is in the base currency and includes the amounts of `converted` (in their own
    currency, so the figure can say it was converted); `others` have no rate and stay apart,
    so a dollar deal never counts as 0 ₽ nor as dollars-taken-for-rubles."""

    base: Decimal = ZERO
    converted: Amounts = ()
    others: Amounts = ()

    def __add__(self, other: Sums) -> Sums:
        return Sums(
            self.base + other.base,
            _merge(self.converted, other.converted),
            _merge(self.others, other.others),
        )

    def __bool__(self) -> bool:
        return bool(self.base or self.others)


NO_MONEY = Sums()


@dataclass(frozen=True, slots=True)
class Rates:
    """The admin's exchange rates (units of the base currency per unit, VORONKA_EXCHANGE_RATES)."""

    rates: Mapping[str, Decimal] = field(default_factory=dict)
    base_currency: str = BASE_CURRENCY

    def to_base(self, amount: Decimal, currency: str) -> Decimal | None:
        """The amount in the base currency; None without a rate for its currency."""
        if currency == self.base_currency:
            return amount
        rate = self.rates.get(currency)
        return None if rate is None else (amount * rate).quantize(ZERO)

    def sums(self, amounts: Iterable[tuple[str | None, Decimal | None]]) -> Sums:
        """Per-currency totals (one row per currency, from the database) as a figure."""
        base, converted, others = ZERO, [], []
        for code, raw in amounts:
            amount = Decimal(raw or 0).quantize(ZERO)
            currency = code or self.base_currency
            if not amount:
                continue
            in_base = self.to_base(amount, currency)
            if in_base is None:
                others.append((currency, amount))
                continue
            base += in_base
            if currency != self.base_currency:
                converted.append((currency, amount))
        return Sums(base, _merge(tuple(converted)), _merge(tuple(others)))


@dataclass(frozen=True, slots=True)
class StageFigures:
    count: int
    amount: Sums


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
    won_amount: Sums = NO_MONEY
    lost_count: int = 0
    plan_amount: Decimal | None = None
    plan_deals: int | None = None
    fact_amount: Sums = NO_MONEY  # won, month to date
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
    won_amount: Sums
    lost_count: int
    lost_reasons: dict[str, int]
    funnel: str  # the team's funnel: its stages order the pipeline
    pipeline_by_stage: dict[str, StageFigures]
    weighted_forecast: Sums
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


def team_totals(
    team_id: int,
    team: str,
    period: Period,
    funnel: str,
    managers: Sequence[ManagerFigures],
    *,
    pipeline: dict[str, StageFigures],
    forecast: Sums,
    stalled: tuple[StalledDeal, ...],
    lost_reasons: dict[str, int],
    moves_into: dict[str, int],
    overdue: tuple[OverdueStep, ...],
) -> TeamFigures:
    """The team's counts are its people's counts added up."""
    return TeamFigures(
        team_id=team_id, team=team, period=period,
        new_deals=sum(m.new_deals for m in managers),
        deals_advanced=sum(m.deals_advanced for m in managers),
        stages_advanced=sum(m.stages_advanced for m in managers),
        won_count=sum(m.won_count for m in managers),
        won_amount=sum((m.won_amount for m in managers), NO_MONEY),
        lost_count=sum(m.lost_count for m in managers),
        funnel=funnel, lost_reasons=lost_reasons,
        pipeline_by_stage=pipeline, weighted_forecast=forecast,
        stalled=stalled, managers=tuple(managers), moves_into=moves_into, overdue=overdue,
    )  # fmt: skip


def conversion_of(
    funnel: Funnel,
    furthest: Mapping[int, int],
    durations: Mapping[str, float],
    cycle: float | None,
    won: int,
    lost: int,
) -> Conversion:
    """A deal that got furthest to a stage reached every open stage before it."""
    reached: dict[str, int] = {}
    running = 0
    for stage in reversed(funnel.stages):
        if stage.lost:
            continue
        running += int(furthest.get(stage.order, 0))
        reached[stage.key] = running
    open_order = [s.key for s in funnel.stages if not s.lost]
    rates: dict[str, float | None] = {}
    for previous, current in itertools.pairwise(open_order):
        rates[current] = reached[current] / reached[previous] if reached[previous] else None
    return Conversion(
        funnel=funnel.key,
        reached={key: reached[key] for key in open_order},
        rates=rates,
        avg_days_in_stage={s.key: durations.get(s.key) for s in funnel.stages if not s.closed},
        avg_cycle_days=cycle,
        win_rate=won / (won + lost) if won + lost else None,
    )


def ranked(figures: TeamFigures) -> tuple[ManagerFigures, ...]:
    """The leaderboard's order: deals advanced, then won amount in the base currency (with
    what was converted into it; amounts without a rate are shown beside, not ranked); nobody
    without a move."""
    order = sorted(figures.managers, key=lambda m: (-m.deals_advanced, -m.won_amount.base, m.name))
    return tuple(m for m in order if m.deals_advanced or m.won_count)


PACE_DAYS = 7
"""Days of a month behind a pace forecast: one win on the 1st is not a month's pace."""


def month_forecast(m: ManagerFigures, month: Period, now: datetime) -> Decimal | None:
    """The month's won amount in the base currency (what a plan is in) if the rest of the
    month goes as it went so far; None while fewer than PACE_DAYS of it are behind (a month
    over is its fact)."""
    now = min(max(now, month.start), month.end)
    if now >= month.end:
        return m.fact_amount.base
    if now - month.start < timedelta(days=PACE_DAYS):
        return None
    elapsed = (now - month.start) / (month.end - month.start)
    return (m.fact_amount.base / Decimal(str(elapsed))).quantize(Decimal("0.01"))
