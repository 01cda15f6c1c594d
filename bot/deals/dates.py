"""Next-step times the way people type them, in Russian and English.

«позвонить завтра в 11», «встреча пт 15:00», «через 3 дня отправить договор», «в 3 часа дня»,
"call them tomorrow at 11am", "send contract on Friday at 3pm", "demo next monday".

Why our own reader rather than dateparser: measured on both labelled sets
(tests/data/next_steps*.yaml), dateparser's `search_dates` read «завтра в 11» as 09:30,
«в 3 часа дня» as 12:30 and «15.12 в 16:30» as today, and it cannot tell whether a time was
given at all, which decides the default hour. A message is read as a set of parts, each
found by one pattern: a day (relative, a weekday, a date), a time of day (exact, 12-hour, a
part of the day), or a span of time from now. What is left, without the prepositions that
led into those parts, is the step's text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.common.errors import Invalid
from bot.common.text import fold

DEFAULT_TIME = time(10, 0)
MAX_TEXT = 500
UTC = ZoneInfo("UTC")
MAX_YEARS_AHEAD = 10
MAX_AHEAD = timedelta(days=366 * MAX_YEARS_AHEAD)
"""How far ahead a next step may be: «через 9999999999999 часов» is a typo, not a plan."""

WEEKDAYS = {
    0: ("пн", "пон", "понедельник", "понедельника", "понедельнику", "mon", "monday"),
    1: ("вт", "вто", "вторник", "вторника", "вторнику", "tue", "tues", "tuesday"),
    2: ("ср", "сре", "среда", "среду", "среды", "среде", "wed", "wednesday"),
    3: ("чт", "чет", "четверг", "четверга", "четвергу", "thu", "thur", "thurs", "thursday"),
    4: ("пт", "пят", "пятница", "пятницу", "пятницы", "пятнице", "fri", "friday"),
    5: ("сб", "суб", "суббота", "субботу", "субботы", "субботе", "sat", "saturday"),
    6: ("вс", "вос", "воскресенье", "воскресенья", "воскресенью", "sun", "sunday"),
}
WEEKDAY_OF = {word: day for day, names in WEEKDAYS.items() for word in names}
MONTHS = {
    "январ": 1, "феврал": 2, "март": 3, "апрел": 4, "мая": 5, "май": 5, "июн": 6, "июл": 7,
    "август": 8, "сентябр": 9, "октябр": 10, "ноябр": 11, "декабр": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
RELATIVE_DAYS = {
    "сегодня": 0, "today": 0, "tonight": 0, "завтра": 1, "tomorrow": 1, "tmrw": 1, "tmr": 1,
    "послезавтра": 2, "вчера": -1, "yesterday": -1,
}  # fmt: skip
# Parts of the day, when no exact time is given.
PARTS_OF_DAY = {
    "утром": time(10), "с утра": time(10), "morning": time(10), "до обеда": time(10),
    "днем": time(14), "после обеда": time(14), "afternoon": time(14),
    "вечером": time(18), "evening": time(18), "tonight": time(18),
}  # fmt: skip
UNIT_WORDS = {
    "мин": "minutes", "min": "minutes", "час": "hours", "hour": "hours", "hr": "hours",
    "дн": "days", "ден": "days", "day": "days", "недел": "weeks", "week": "weeks",
}  # fmt: skip
# Words that only lead into a date or a time: taken out with it.
LEAD_INS = {"в", "во", "на", "к", "ко", "до", "с", "at", "on", "by", "in", "the", "of", "for",
            "this", "around", "about", "около", "примерно", "часов", "часа", "час"}  # fmt: skip

_MONTH = r"(?P<month>[а-яa-z]{3,}\.?)"
_SECONDS = {"minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}
_NUMBER_WORDS = {"пару": 2, "пара": 2, "a": 1, "an": 1, "one": 1, "two": 2, "three": 3}


@dataclass
class _Reading:
    """What has been understood so far, and where in the text it was written."""

    today: date
    now: datetime
    day: date | None = None
    at: time | None = None
    exact: datetime | None = None  # «через 2 часа»: a moment, not a day and a time
    part_of_day: time | None = None
    spans: list[tuple[int, int]] = field(default_factory=list)

    def taken(self, start: int, end: int) -> bool:
        return any(start < s_end and s_start < end for s_start, s_end in self.spans)


_Rule = tuple[re.Pattern[str], Callable[[re.Match[str], _Reading], bool]]


def parse_next_step(raw: str, now: datetime, tz: ZoneInfo, default_text: str) -> NextStep:
    """Understand a next step; refuses what it cannot read and what lies in the past."""
    text = " ".join(raw.split())
    if not text:
        raise Invalid("next_step.not_understood")
    if len(text) > MAX_TEXT:
        raise Invalid("next_step.too_long", limit=MAX_TEXT)
    local_now = now.astimezone(tz)
    lowered = fold(text)
    reading = _Reading(local_now.date(), local_now)
    for pattern, read in _RULES:
        for match in pattern.finditer(lowered):
            if not reading.taken(*match.span()) and read(match, reading):
                reading.spans.append(match.span())
    due_local = _due(reading, tz)
    if due_local <= local_now:
        raise Invalid("next_step.in_past")
    if due_local - local_now > MAX_AHEAD:
        raise Invalid("next_step.too_far", years=MAX_YEARS_AHEAD)
    action = _leftover(text, lowered, reading.spans) or default_text
    return NextStep(action, due_local.astimezone(UTC))


@dataclass(frozen=True, slots=True)
class NextStep:
    text: str
    due: datetime  # aware, UTC


def in_days(days: int, now: datetime, tz: ZoneInfo) -> datetime:
    """A quick next step («tomorrow», «in 3 days»): that local day, at the usual hour."""
    local_day = now.astimezone(tz).date() + _span_of("days", days)
    return datetime.combine(local_day, DEFAULT_TIME, tz)


def _span_of(unit: str, count: int) -> timedelta:
    """A span of `count` units, refused past MAX_AHEAD before any date arithmetic overflows."""
    if count * _SECONDS[unit] > MAX_AHEAD.total_seconds():
        raise Invalid("next_step.too_far", years=MAX_YEARS_AHEAD)
    return timedelta(seconds=count * _SECONDS[unit])


def _due(reading: _Reading, tz: ZoneInfo) -> datetime:
    if reading.exact is not None:
        if reading.at is not None:  # «через 2 дня в 15:00» was read as days: see _span
            return datetime.combine(reading.exact.date(), reading.at, tz)
        return reading.exact
    at = reading.at or reading.part_of_day
    if reading.day is None and at is None:
        raise Invalid("next_step.not_understood")
    if reading.day is None:
        assert at is not None
        today_at = datetime.combine(reading.today, at, tz)
        return today_at if today_at > reading.now else today_at + timedelta(days=1)
    return datetime.combine(reading.day, at or DEFAULT_TIME, tz)


# --- the parts --------------------------------------------------------------------------------


def _set_day(reading: _Reading, day: date) -> bool:
    if reading.day is not None or reading.exact is not None:
        return False
    reading.day = day
    return True


def _set_time(reading: _Reading, hour: int, minute: int = 0) -> bool:
    if reading.at is not None:
        return False
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise Invalid("next_step.not_understood")
    reading.at = time(hour, minute)
    return True


def _safe_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise Invalid("next_step.not_understood") from None


def _ahead(reading: _Reading, month: int, day: int, year: str | None) -> date:
    """A date as written; without a year, the next such date from today."""
    if year:
        full = int(year)
        return _safe_date(full + 2000 if full < 100 else full, month, day)
    found = _safe_date(reading.today.year, month, day)
    return found if found >= reading.today else _safe_date(found.year + 1, month, day)


def _month_of(word: str) -> int | None:
    word = word.rstrip(".")
    return next((n for prefix, n in MONTHS.items() if word.startswith(prefix)), None)


def _iso(match: re.Match[str], reading: _Reading) -> bool:
    day = _safe_date(int(match["y"]), int(match["m"]), int(match["d"]))
    return _set_day(reading, day)


def _dotted(match: re.Match[str], reading: _Reading) -> bool:
    if int(match["m"]) > 12:
        return False  # «в 11.30»: a time
    return _set_day(reading, _ahead(reading, int(match["m"]), int(match["d"]), match["y"]))


def _day_month(match: re.Match[str], reading: _Reading) -> bool:
    month = _month_of(match["month"])
    if month is None:
        return False
    return _set_day(reading, _ahead(reading, month, int(match["d"]), match["y"]))


def _relative_day(match: re.Match[str], reading: _Reading) -> bool:
    words = match[0].split()
    if words[:3] == ["day", "after", "tomorrow"]:
        return _set_day(reading, reading.today + timedelta(days=2))
    return _set_day(reading, reading.today + timedelta(days=RELATIVE_DAYS[words[-1]]))


def _weekday(match: re.Match[str], reading: _Reading) -> bool:
    target = WEEKDAY_OF[match["weekday"]]
    ahead = (target - reading.today.weekday()) % 7 or 7
    return _set_day(reading, reading.today + timedelta(days=ahead))


def _next_week(_match: re.Match[str], reading: _Reading) -> bool:
    return _set_day(reading, reading.today + timedelta(days=7 - reading.today.weekday()))


def _end_of_week(_match: re.Match[str], reading: _Reading) -> bool:
    friday = reading.today + timedelta(days=(4 - reading.today.weekday()) % 7)
    return _set_day(reading, friday)


def _span(match: re.Match[str], reading: _Reading) -> bool:
    """«через 3 дня», "in 2 hours": from now; days and weeks keep the usual hour."""
    count_word, unit_word = match["count"] or "1", match["unit"]
    if unit_word.startswith(("полчаса", "half")):
        count, unit = 30, "minutes"
    else:
        count = int(count_word) if count_word.isdigit() else _NUMBER_WORDS.get(count_word, 1)
        unit = next((v for k, v in UNIT_WORDS.items() if unit_word.startswith(k)), "")
    if not unit or reading.day is not None or reading.exact is not None:
        return False
    if unit in ("minutes", "hours"):
        reading.exact = reading.now + _span_of(unit, count)
    else:
        reading.day = reading.today + _span_of(unit, count)
    return True


def _clock(match: re.Match[str], reading: _Reading) -> bool:
    """15:00, в 11:30, at 9:45, «в 11.30» (a dot only after в/at: 15.12 is a date)."""
    if match["sep"] == "." and not match["lead"]:
        return False
    hour, minute = int(match["h"]), int(match["mi"])
    return _set_time(reading, _with_half(hour, match["half"]), minute)


def _with_half(hour: int, half: str | None) -> int:
    """12-hour clock words: pm, p.m., «дня», «вечера» add 12; am, «утра», «ночи» keep it."""
    half = (half or "").replace(".", "").replace(" ", "")
    if half in ("pm", "дня", "вечера") and hour < 12:
        return hour + 12
    if half in ("am", "ночи") and hour == 12:
        return 0
    return hour


def _hour(match: re.Match[str], reading: _Reading) -> bool:
    """«в 11», «в 3 часа дня», "at 4pm", "3 p.m.": an hour without minutes."""
    hour, half = int(match["h"]), match["half"]
    if not (match["lead"] or half or match["oclock"]):
        return False  # a bare number is not a time
    if half and half.replace(".", "").replace(" ", "") in ("am", "pm") and not 1 <= hour <= 12:
        raise Invalid("next_step.not_understood")  # «13pm»
    if not half and hour < 7:  # «в 3» during business hours means 15:00
        hour += 12
    return _set_time(reading, _with_half(hour, half))


def _noon(match: re.Match[str], reading: _Reading) -> bool:
    return _set_time(reading, 0 if match[0] in ("полночь", "midnight") else 12)


def _part_of_day(match: re.Match[str], reading: _Reading) -> bool:
    phrase = " ".join(match[0].split())
    if reading.part_of_day is not None:
        return False
    reading.part_of_day = PARTS_OF_DAY[phrase]
    if phrase == "tonight":
        _set_day(reading, reading.today)
    return True


def _words(options: object) -> str:
    assert isinstance(options, (list, tuple, set, dict))
    return "|".join(sorted((re.escape(w) for w in options), key=len, reverse=True))


_HALF = r"(?P<half>p\.?\s?m\.?|a\.?\s?m\.?|дня|вечера|утра|ночи)"
_LEAD = r"(?P<lead>\b(?:в|во|к|at|by|around|до)\s+)"
_ISO = r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b"
_DOTTED = r"\b(?P<d>\d{1,2})[./](?P<m>\d{1,2})(?:[./](?P<y>\d{2,4}))?\b(?![:.]\d)"
_DAY_MONTH = (
    r"\b(?P<d>\d{1,2})(?:st|nd|rd|th|-?го|-?е)?\s+(?:of\s+)?" + _MONTH + r"(?:\s+(?P<y>\d{4}))?"
)
_MONTH_DAY = _MONTH + r"\s+(?:the\s+)?(?P<d>\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(?P<y>\d{4}))?"
_SPAN = (
    r"\b(?:через|in)\s+(?:(?P<count>\d+|пару|пара|an?|one|two|three)\s*)?"
    r"(?P<unit>полчаса|half\s+an\s+hour|минут\w*|мин\b|minutes?|mins?\b|час\w*|"
    r"hours?|hrs?\b|дн\w*|день|days?|недел\w*|weeks?)"
)
# «следующий», «след.», «след»: the word and its abbreviations, read alike wherever «next» goes.
_NEXT = r"(?:следующ\w+|след(?:\.|\b))"
_NEXT_WEEK = (
    r"\b(?:на\s+)?" + _NEXT + r"\s*недел\w+|\bnext\s+week\b|"
    r"\bв\s+начале\s+" + _NEXT + r"\s*недел\w+|\bearly\s+next\s+week\b"
)
_END_OF_WEEK = (
    r"\b(?:до\s+)?конц[аеу]\s+недели\b|\b(?:by\s+)?(?:the\s+)?end\s+of\s+(?:the\s+)?week\b"
)
_RELATIVE = r"\bday\s+after\s+tomorrow\b|\b(?:" + _words(RELATIVE_DAYS) + r")\b"
_WEEKDAY = (
    r"\b(?:(?:в|во|на)\s+)?(?:" + _NEXT + r"\s*|(?:эт[уоа]|этот)\s+|next\s+|this\s+|coming\s+)?"
    r"(?P<weekday>" + _words(WEEKDAY_OF) + r")\b"
)
_CLOCK = _LEAD + r"?\b(?P<h>\d{1,2})(?P<sep>[:.])(?P<mi>\d{2})(?!\d)\s*" + _HALF + r"?"
_HOUR = (
    _LEAD + r"?\b(?P<h>\d{1,2})\s*(?P<oclock>час\w*|o'?clock)?\s*" + _HALF + r"?"
    r"(?![\d:.])(?!\s*(?:дн|день|недел|мин|min|day|week|hour|%|тыс|шт))"
)
_NOON = r"\b(?:в\s+)?(?:полдень|полночь)\b|\b(?:at\s+)?(?:noon|midnight)\b"
_PART_OF_DAY = r"\b(?:" + _words(PARTS_OF_DAY) + r")\b"

# In this order: dates before times (15.12 is a date), spans of time before bare hours.
_RULES: tuple[_Rule, ...] = tuple(
    (re.compile(pattern), read)
    for pattern, read in (
        (_ISO, _iso),
        (_DOTTED, _dotted),
        (_DAY_MONTH, _day_month),
        (_MONTH_DAY, _day_month),
        (_SPAN, _span),
        (_NEXT_WEEK, _next_week),
        (_END_OF_WEEK, _end_of_week),
        (_RELATIVE, _relative_day),
        (_WEEKDAY, _weekday),
        (_CLOCK, _clock),
        (_HOUR, _hour),
        (_NOON, _noon),
        (_PART_OF_DAY, _part_of_day),
    )
)


# --- what is left: the step itself ----------------------------------------------------------


def _leftover(text: str, lowered: str, spans: list[tuple[int, int]]) -> str:
    """The text without the date and time parts and the word that led into each of them
    («отправить КП в» [среду], "send it by" [friday]), unless the part took it already."""
    words: list[str] = []
    position = 0
    for start, end in sorted(spans):
        piece = text[position:start].split()
        if piece and _lead_in(piece[-1]) and not _starts_with_lead_in(lowered[start:end]):
            led = fold(piece.pop())
            if led in ("the", "of") and piece and _lead_in(piece[-1]):
                piece.pop()  # "by the" [end of week]
        words.extend(piece)
        position = max(position, end)
    words.extend(text[position:].split())
    return " ".join(words).strip(" ,.;:-—")


def _starts_with_lead_in(part: str) -> bool:
    first = part.split(maxsplit=1)[0] if part.split() else ""
    return _lead_in(first)


def _lead_in(word: str) -> bool:
    return fold(word).strip(",.;:-—") in LEAD_INS
