"""Next-step times the way people type them: «позвонить завтра в 11», «встреча пт 15:00»."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.common.errors import Invalid
from bot.common.text import fold

DEFAULT_TIME = time(10, 0)
MAX_TEXT = 500
MAX_YEARS_AHEAD = 10
MAX_AHEAD = timedelta(days=366 * MAX_YEARS_AHEAD)
"""How far ahead a next step may be: «через 9999999999999 часов» is a typo, not a plan."""

WEEKDAYS = {
    0: ("пн", "пон", "понедельник", "понедельника", "mon", "monday"),
    1: ("вт", "вто", "вторник", "вторника", "tue", "tues", "tuesday"),
    2: ("ср", "сре", "среда", "среду", "среды", "wed", "wednesday"),
    3: ("чт", "чет", "четверг", "четверга", "thu", "thur", "thurs", "thursday"),
    4: ("пт", "пят", "пятница", "пятницу", "пятницы", "fri", "friday"),
    5: ("сб", "суб", "суббота", "субботу", "субботы", "sat", "saturday"),
    6: ("вс", "вос", "воскресенье", "воскресенья", "sun", "sunday"),
}
WEEKDAY_OF = {word: day for day, names in WEEKDAYS.items() for word in names}
MONTHS = {
    "январ": 1, "феврал": 2, "март": 3, "апрел": 4, "ма": 5, "июн": 6, "июл": 7, "август": 8,
    "сентябр": 9, "октябр": 10, "ноябр": 11, "декабр": 12, "jan": 1, "feb": 2, "mar": 3, "apr": 4,
    "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
RELATIVE_DAYS = {"сегодня": 0, "today": 0, "завтра": 1, "tomorrow": 1, "послезавтра": 2,
                 "вчера": -1, "yesterday": -1}  # fmt: skip
UNITS = {"мин": "minutes", "min": "minutes", "час": "hours", "hour": "hours", "дн": "days",
         "ден": "days", "day": "days", "недел": "weeks", "week": "weeks"}  # fmt: skip

_ISO_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_DOT_DATE = re.compile(r"\b(\d{1,2})[./](\d{1,2})(?:[./](\d{2,4}))?\b(?!:)")
_MONTH_DATE = re.compile(r"\b(\d{1,2})\s+([а-яa-z]{3,})\b")
_TIME = re.compile(
    r"\b(?:в|at|к|@)?\s*(\d{1,2}):(\d{2})\b"  # 15:00, в 11:30
    r"|\b(?:в|at|к)\s+(\d{1,2})\b(?!\s*(?:дн|день|недел|час|мин))"  # в 11 (not «в 3 дня»)
)
_RELATIVE = re.compile(r"\b(?:через|in)\s+(\d+|пару|полчаса|час|неделю|день)\s*([а-яa-z]*)")
_WORD = re.compile(r"[а-яa-z]+")
_FILLER = {"в", "на", "к", "at", "on", "by", "до", "утром", "днем", "вечером", "г", "года"}


@dataclass(frozen=True, slots=True)
class NextStep:
    text: str
    due: datetime  # aware, UTC


def parse_next_step(raw: str, now: datetime, tz: ZoneInfo, default_text: str) -> NextStep:
    """Understand a next step; refuses what it cannot read and what lies in the past."""
    text = " ".join(raw.split())
    if not text:
        raise Invalid("next_step.not_understood")
    if len(text) > MAX_TEXT:
        raise Invalid("next_step.too_long", limit=MAX_TEXT)
    local_now = now.astimezone(tz)
    lowered = fold(text)
    spans: list[tuple[int, int]] = []
    day: date | None = None
    at: time | None = None
    exact: datetime | None = None

    if match := _RELATIVE.search(lowered):
        count_word, unit_word = match[1], match[2]
        count = {"пару": 2, "полчаса": 30, "час": 1, "неделю": 1, "день": 1}.get(count_word)
        if count_word == "полчаса":
            unit = "minutes"
        elif count_word in ("час", "неделю", "день"):
            unit = {"час": "hours", "неделю": "weeks", "день": "days"}[count_word]
        else:
            unit = next((v for k, v in UNITS.items() if unit_word.startswith(k)), "")
        number = count if count is not None else int(count_word)
        if unit:
            spans.append(match.span())
            ahead = _ahead(unit, number)
            if unit in ("minutes", "hours"):
                exact = local_now + ahead
            else:
                day = local_now.date() + ahead
    if exact is None and day is None and (match := _ISO_DATE.search(lowered)):
        day = _safe_date(int(match[1]), int(match[2]), int(match[3]))
        spans.append(match.span())
    if exact is None and (match := _TIME.search(lowered)):
        hour = int(match[1] or match[3])
        minute = int(match[2] or 0)
        if hour > 23 or minute > 59:
            raise Invalid("next_step.not_understood")
        if match[3] and hour < 7:  # «в 3» during business hours means 15:00
            hour += 12
        at = time(hour, minute)
        spans.append(match.span())
    if exact is None and day is None:
        day = _find_day(lowered, local_now.date(), spans)
    if exact is None and day is None and at is None:
        raise Invalid("next_step.not_understood")
    if exact is not None:
        due_local = exact
    else:
        due_local = datetime.combine(day or local_now.date(), at or DEFAULT_TIME, tz)
    if due_local <= local_now:
        raise Invalid("next_step.in_past")
    if due_local - local_now > MAX_AHEAD:
        raise Invalid("next_step.too_far", years=MAX_YEARS_AHEAD)
    action = _leftover(text, lowered, spans) or default_text
    return NextStep(action, due_local.astimezone(ZoneInfo("UTC")))


def _ahead(unit: str, number: int) -> timedelta:
    """«через N дней» as a span, refused past MAX_AHEAD before any date arithmetic overflows."""
    per_unit = {"minutes": 60, "hours": 3600, "days": 86400, "weeks": 7 * 86400}[unit]
    if number * per_unit > MAX_AHEAD.total_seconds():
        raise Invalid("next_step.too_far", years=MAX_YEARS_AHEAD)
    return timedelta(seconds=number * per_unit)


def in_days(days: int, now: datetime, tz: ZoneInfo) -> datetime:
    """A quick next step («tomorrow», «in 3 days»): that local day, at the usual hour."""
    local_day = now.astimezone(tz).date() + _ahead("days", days)
    return datetime.combine(local_day, DEFAULT_TIME, tz)


def _find_day(lowered: str, today: date, spans: list[tuple[int, int]]) -> date | None:
    for word_match in _WORD.finditer(lowered):
        word = word_match[0]
        if word in RELATIVE_DAYS:
            spans.append(word_match.span())
            return today + timedelta(days=RELATIVE_DAYS[word])
        if word in WEEKDAY_OF:
            spans.append(word_match.span())
            ahead = (WEEKDAY_OF[word] - today.weekday()) % 7 or 7
            return today + timedelta(days=ahead)
    if match := _DOT_DATE.search(lowered):
        year = int(match[3]) if match[3] else today.year
        year = year + 2000 if year < 100 else year
        found = _safe_date(year, int(match[2]), int(match[1]))
        if not match[3] and found < today:
            found = _safe_date(year + 1, int(match[2]), int(match[1]))
        spans.append(match.span())
        return found
    for match in _MONTH_DATE.finditer(lowered):
        month = next((n for prefix, n in MONTHS.items() if match[2].startswith(prefix)), None)
        if month is None or (len(match[2]) < 3):
            continue
        found = _safe_date(today.year, month, int(match[1]))
        if found < today:
            found = _safe_date(today.year + 1, month, int(match[1]))
        spans.append(match.span())
        return found
    return None


def _safe_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise Invalid("next_step.not_understood") from None


def _leftover(text: str, lowered: str, spans: list[tuple[int, int]]) -> str:
    """What remains once the date and time are taken out: the action itself."""
    keep = [True] * len(text)
    for start, end in spans:
        for index in range(start, end):
            keep[index] = False
    rest = "".join(ch if keep[i] else " " for i, ch in enumerate(text))
    words = [w for w in rest.split() if fold(w).strip(",.;:-") not in _FILLER]
    return " ".join(words).strip(" ,.;:-")
