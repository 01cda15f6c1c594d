"""How a sum of several currencies and a period read in a message.

A figure never prints a currency without a rate as 0 ₽, nor adds it to rubles: «175 500 ₽ +
$12 500». What was converted at the set rates is said («415 000 ₽ (вкл. $3 000 по курсу)»),
so nobody takes a converted figure for an exact one. Shared by /stats, /leaderboard, the
digest and its chart; imports no `telegram`, as the CLI preview uses it too.
"""

from __future__ import annotations

from datetime import date, timedelta

from bot.common.i18n import Catalog
from bot.reports.metrics import BASE_CURRENCY, Amounts, Period, Sums


def _each(amounts: Amounts, t: Catalog) -> list[str]:
    return [t.amount(amount, code) for code, amount in amounts]


def others_text(sums: Sums, t: Catalog) -> str:
    """The amounts without a rate, «$12 500 + 300 €»; empty when there are none."""
    return " + ".join(_each(sums.others, t))


def sums_text(sums: Sums, t: Catalog) -> str:
    """«175 500 ₽ + $12 500»; «0 ₽» only when there is no money at all."""
    parts = []
    if sums.base or not sums.others:
        base = t.amount(sums.base, BASE_CURRENCY)
        if sums.converted:
            base = t("figures.converted", amount=base, what=" + ".join(_each(sums.converted, t)))
        parts.append(base)
    return " + ".join([*parts, *_each(sums.others, t)])


def _day(day: date, t: Catalog, *, month: bool = True, year: bool = False) -> str:
    months = t("figures.months").split()
    text = t("figures.day", day=day.day, month=months[day.month - 1] if month else "")
    return f"{text} {day.year}" if year else text.strip()


def period_text(period: Period, t: Catalog) -> str:
    """A week reads «30 нояб – 6 дек» / «Nov 30 – Dec 6» rather than its key «2026-W49»
    (which buttons still carry); a day and a month keep their ISO label."""
    label = period.label
    if len(label) != 8 or label[4:6] != "-W":
        return label
    monday = date.fromisocalendar(int(label[:4]), int(label[6:]), 1)
    sunday = monday + timedelta(days=6)
    other_year = monday.year != sunday.year
    same_month = monday.month == sunday.month
    first = _day(monday, t, month=not same_month or t.language == "en", year=other_year)
    return t("figures.range", first=first, last=_day(sunday, t, month=True, year=other_year))


__all__ = ("others_text", "period_text", "sums_text")
