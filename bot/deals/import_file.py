"""The deals import file as pydantic models: one row is a deal in the export format.

A row is checked against what the database and the funnels hold (the people, the teams, the
funnel's stages, the clock), given as the validation context. Every problem of a row is
reported, each naming its field (`history[1].at`) and what to write instead, so a big file
can be fixed in one pass; `read_rows` checks the whole file before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, NamedTuple

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from bot.common.errors import FileProblem, InvalidFile
from bot.common.formats import problems_of, why
from bot.common.money import CURRENCY_CODE, to_amount
from bot.deals.funnel import Funnel, FunnelConfig
from bot.deals.import_store import ClientKey
from bot.deals.service import MAX_TITLE, Via
from bot.people.service import MAX_TEAM_NAME, clean_name

DEFAULT_CURRENCY = "RUB"
MAX_TELEGRAM_ID = 2**63 - 1  # BigInteger
STATUSES = ("open", "won", "lost")

TIME_FORMAT = "expected an ISO 8601 time with an offset, e.g. 2026-11-30T10:00:00+03:00 or …Z"
NO_OFFSET = "no UTC offset: add one, e.g. +03:00 or Z (a time without it is ambiguous)"
NO_EXTERNAL_ID = (
    "required: external_id identifies the deal, so that importing the file again changes nothing"
)
USE_CREATE_USERS = "create it first or import with --create-users"

# A format's own words for a missing value or a value of the wrong kind, by field path.
WORDS = {
    "external_id": NO_EXTERNAL_ID,
    "client": "expected an object {name, contact, phone, email} or null",
    "team": "required: a team name, or null for a deal without a team",
    "next_step": "expected an object {text, due} or null",
    "history": "required: a list of moves {from, to, at, by_telegram_id, via}, oldest first",
    "history[]": "expected an object {from, to, at, by_telegram_id, via}",
}


@dataclass
class ImportContext:
    """What rows are checked against; the people and teams to create are collected here."""

    funnels: FunnelConfig
    now: datetime
    create_users: bool
    users: dict[int, int]  # Telegram id -> users.id
    teams: dict[str, int]  # name -> teams.id
    team_funnels: dict[str, str | None]  # name -> the funnel key the team chose
    new_users: dict[int, str | None] = field(default_factory=dict)  # Telegram id -> team
    new_teams: set[str] = field(default_factory=set)


def _context(info: ValidationInfo) -> ImportContext:
    context = info.context
    assert isinstance(context, ImportContext), "validate with context=ImportContext(...)"
    return context


def _blank_is_missing(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


_Blank = BeforeValidator(_blank_is_missing)
Text20 = Annotated[str, _Blank, StringConstraints(max_length=20)]
Text50 = Annotated[str, _Blank, StringConstraints(max_length=50)]
Text100 = Annotated[str, _Blank, StringConstraints(max_length=100)]
Text200 = Annotated[str, _Blank, StringConstraints(max_length=200)]
Title = Annotated[str, _Blank, StringConstraints(max_length=MAX_TITLE)]
Text300 = Annotated[str, _Blank, StringConstraints(max_length=300)]
Text500 = Annotated[str, _Blank, StringConstraints(max_length=500)]


def _moment(value: Any, now: datetime, *, past: bool) -> datetime:
    """An aware time in UTC; `past` refuses times after `now` (history cannot be ahead)."""
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise why(TIME_FORMAT)
    if parsed.tzinfo is None:
        raise why(NO_OFFSET)
    if past and parsed > now:
        raise why(f"in the future (now is {now.astimezone(UTC).isoformat()})")
    return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)


def _past(value: Any, info: ValidationInfo) -> datetime:
    return _moment(value, _context(info).now, past=True)


def _any_time(value: Any, info: ValidationInfo) -> datetime:
    return _moment(value, _context(info).now, past=False)


def _person(value: Any, info: ValidationInfo, team: str | None) -> int:
    return _person_in(value, _context(info), team)


def _person_in(value: Any, context: ImportContext, team: str | None) -> int:
    """A Telegram id of a known user, or of one to create when creating users."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_TELEGRAM_ID:
        raise why("expected a Telegram user id (a positive whole number)")
    if value not in context.users:
        if not context.create_users:
            raise why(f"no user with Telegram id {value}; {USE_CREATE_USERS}")
        context.new_users.setdefault(value, team)
    return value


def _stage_of(funnel: Funnel | None, value: Any) -> str:
    if not isinstance(value, str):
        raise why("expected a stage key")
    if funnel is not None and not funnel.has_stage(value):
        known = ", ".join(stage.key for stage in funnel.stages)
        raise why(f"no stage '{value}' in funnel '{funnel.key}' (stages: {known})")
    return value


_Row = ConfigDict(frozen=True, extra="ignore", arbitrary_types_allowed=True)


class ImportClient(BaseModel):
    model_config = _Row

    name: Text300
    contact: Text200 | None = None
    phone: Text50 | None = None
    email: Text200 | None = None

    @property
    def key(self) -> ClientKey:
        return self.name, self.contact, self.phone, self.email


class ImportNextStep(BaseModel):
    model_config = _Row

    text: Text500 | None = None
    due: datetime | None = None

    @field_validator("due", mode="plain")
    @classmethod
    def _due(cls, value: Any, info: ValidationInfo) -> datetime | None:
        return None if value is None else _any_time(value, info)


class ImportMove(NamedTuple):
    """One history entry, as checked by `ImportRow`'s history (a tuple: there are a million)."""

    from_stage: str | None
    to_stage: str
    at: datetime
    by_telegram_id: int | None
    via: str


class ImportedDeal(NamedTuple):
    """A checked row as kept until it is written: a tuple, so that 100k of them stay light.

    A pydantic model is three objects for the garbage collector to walk; keeping a whole
    file of them alive made each collection, and so the import, markedly slower.
    """

    external_id: str
    title: str
    client: ClientKey | None
    owner_telegram_id: int
    team: str | None
    funnel: str
    stage: str
    status: str
    amount: Decimal | None
    currency: str
    lost_reason: str | None
    next_step_text: str | None
    next_step_due: datetime | None
    created_at: datetime
    history: tuple[ImportMove, ...]


class ImportRow(BaseModel):
    """One deal of the file. Fields are checked in this order, later ones seeing earlier ones."""

    model_config = _Row

    external_id: Text100
    title: Title
    client: ImportClient | None = None
    team: str | None
    owner_telegram_id: int
    funnel: Funnel = Field(None, validate_default=True)
    stage: str
    status: str = Field(None, validate_default=True)
    amount: Decimal | None = None
    currency: str = Field(DEFAULT_CURRENCY, validate_default=True)
    lost_reason: str | None = None
    next_step: ImportNextStep | None = None
    created_at: datetime
    history: tuple[ImportMove, ...]

    def kept(self) -> ImportedDeal:
        step = self.next_step
        return ImportedDeal(
            self.external_id, self.title, self.client.key if self.client else None,
            self.owner_telegram_id, self.team, self.funnel.key, self.stage, self.status,
            self.amount, self.currency, self.lost_reason, step.text if step else None,
            step.due if step else None, self.created_at, self.history,
        )  # fmt: skip

    @field_validator("team", mode="plain")
    @classmethod
    def _team(cls, value: Any, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        name = clean_name(value, MAX_TEAM_NAME + 1) if isinstance(value, str) else ""
        if not name or len(name) > MAX_TEAM_NAME:
            raise why(f"expected a team name of up to {MAX_TEAM_NAME} characters, or null")
        context = _context(info)
        if name not in context.teams:
            if not context.create_users:
                raise why(f"no team '{name}'; {USE_CREATE_USERS}")
            context.new_teams.add(name)
        return name

    @field_validator("owner_telegram_id", mode="plain")
    @classmethod
    def _owner(cls, value: Any, info: ValidationInfo) -> int:
        if value is None:
            raise why("required")
        return _person(value, info, info.data.get("team"))

    @field_validator("funnel", mode="plain")
    @classmethod
    def _funnel(cls, value: Any, info: ValidationInfo) -> Funnel:
        """The row's funnel; without one, the funnel its team's new deals go to."""
        context = _context(info)
        funnels = context.funnels
        if value is None:
            return funnels.of_team(context.team_funnels.get(info.data.get("team") or ""))
        if isinstance(value, str) and any(funnel.key == value for funnel in funnels.funnels):
            return funnels.funnel(value)
        known = ", ".join(funnel.key for funnel in funnels.funnels)
        raise why(f"no funnel '{value}' (funnels: {known})")

    @field_validator("stage", mode="plain")
    @classmethod
    def _stage(cls, value: Any, info: ValidationInfo) -> str:
        if value is None:
            raise why("required")
        return _stage_of(info.data.get("funnel"), value)

    @field_validator("status", mode="plain")
    @classmethod
    def _status(cls, value: Any, info: ValidationInfo) -> str:
        if value is None:
            raise why("required")
        if value not in STATUSES:
            raise why("expected open, won or lost")
        funnel, stage = info.data.get("funnel"), info.data.get("stage")
        if funnel is not None and stage is not None:
            expected = funnel.status_of(stage)
            if value != expected:
                raise why(f"'{value}' does not match stage '{stage}', which is '{expected}'")
        return str(value)

    @field_validator("amount", mode="plain")
    @classmethod
    def _amount(cls, value: Any) -> Decimal | None:
        if value is None:
            return None
        try:
            return to_amount(value, "amount")
        except InvalidFile as error:
            raise why(error.problems[0].why) from None

    @field_validator("currency", mode="plain")
    @classmethod
    def _currency(cls, value: Any) -> str:
        if value is None:
            return DEFAULT_CURRENCY
        if not isinstance(value, str) or not CURRENCY_CODE.fullmatch(value):
            raise why("expected a three-letter code such as RUB")
        return value

    @field_validator("lost_reason", mode="plain")
    @classmethod
    def _lost_reason(cls, value: Any, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        reasons = _context(info).funnels
        if not isinstance(value, str) or reasons.lost_reason(value) is None:
            known = ", ".join(reason.key for reason in reasons.lost_reasons)
            raise why(f"unknown lost reason (known: {known})")
        funnel, stage = info.data.get("funnel"), info.data.get("stage")
        if funnel is not None and stage is not None and not funnel.stage(stage).lost:
            raise why(f"only a lost deal has a lost reason; stage '{stage}' is not lost")
        return value

    @field_validator("created_at", mode="plain")
    @classmethod
    def _created_at(cls, value: Any, info: ValidationInfo) -> datetime:
        if value is None:
            raise why("required")
        return _past(value, info)

    @field_validator("history", mode="plain")
    @classmethod
    def _history(cls, value: Any, info: ValidationInfo) -> tuple[ImportMove, ...]:
        """The moves against this row's funnel and team: oldest first, ending in its stage.

        Read by hand rather than as a model per move: a file holds ten moves per deal, and
        a validator call per field of each would make the import half again as slow.
        """
        if not isinstance(value, list):
            raise why(WORDS["history"])
        funnel, team = info.data.get("funnel"), info.data.get("team")
        errors: list[InitErrorDetails] = []
        moves: list[ImportMove] = []
        for number, entry in enumerate(value):
            move = _move(entry, number, funnel, team, info, errors)
            if move is not None:
                if moves and move.at < moves[-1].at:
                    late = "earlier than the move before; list oldest first"
                    errors.append(_error(late, number, "at", entry))
                moves.append(move)
        stage = info.data.get("stage")
        if value and stage is not None and isinstance(value[-1], dict):
            last = value[-1].get("to")
            if isinstance(last, str) and last != stage:
                end = f"the last move must end in stage '{stage}'"
                errors.append(_error(end, len(value) - 1, "to", value[-1]))
        if errors:
            raise ValidationError.from_exception_data("history", errors)
        return tuple(moves)


def _error(message: str, number: int, name: str | None, entry: Any) -> InitErrorDetails:
    loc: tuple[int | str, ...] = (number,) if name is None else (number, name)
    return InitErrorDetails(type=why(message), loc=loc, input=entry)


def _move(
    entry: Any,
    number: int,
    funnel: Funnel | None,
    team: str | None,
    info: ValidationInfo,
    errors: list[InitErrorDetails],
) -> ImportMove | None:
    if not isinstance(entry, dict):
        errors.append(_error(WORDS["history[]"], number, None, entry))
        return None
    try:
        return _valid_move(entry, funnel, team, _context(info))
    except PydanticCustomError:
        pass  # read again field by field, to name every problem of the entry
    before = len(errors)
    values: list[Any] = []
    for name, read in _MOVE_FIELDS:
        try:
            values.append(read(entry.get(name), funnel, team, info))
        except PydanticCustomError as error:
            errors.append(_error(error.message(), number, name, entry))
            values.append(None)
    if len(errors) > before:
        return None
    return ImportMove(*values)


def _valid_move(
    entry: dict[str, Any], funnel: Funnel | None, team: str | None, context: ImportContext
) -> ImportMove:
    """An entry read in one go, raising at its first problem: the path of a sound file.

    Nine moves in ten of a real file are sound; reading them without a call per field keeps
    a million of them within a few seconds. Any problem sends the entry to `_MOVE_FIELDS`.
    """
    source, target, at, by, via = (
        entry.get("from"), entry.get("to"), entry.get("at"), entry.get("by_telegram_id"),
        entry.get("via"),
    )  # fmt: skip
    if target is None or at is None:
        raise why("required")
    if source is not None:
        source = _stage_of(funnel, source)
    moved_at = _moment(at, context.now, past=True)
    if by is not None and (type(by) is not int or by not in context.users):
        by = _person_in(by, context, team)
    if type(via) is not str or not 0 < len(via) <= 20 or not via.strip():
        via = _move_via(via, funnel, team, None)
    return ImportMove(source, _stage_of(funnel, target), moved_at, by, via)


def _move_from(value: Any, funnel: Funnel | None, _team: str | None, _info: Any) -> str | None:
    return None if value is None else _stage_of(funnel, value)


def _move_to(value: Any, funnel: Funnel | None, _team: str | None, _info: Any) -> str:
    if value is None:
        raise why("required")
    return _stage_of(funnel, value)


def _move_at(value: Any, _funnel: Any, _team: str | None, info: ValidationInfo) -> datetime:
    if value is None:
        raise why("required")
    return _past(value, info)


def _move_by(value: Any, _funnel: Any, team: str | None, info: ValidationInfo) -> int | None:
    return None if value is None else _person(value, info, team)


def _move_via(value: Any, _funnel: Any, _team: str | None, _info: Any) -> str:
    value = _blank_is_missing(value)
    if value is None:
        return Via.IMPORT
    if not isinstance(value, str):
        raise why("expected a string")
    if len(value) > 20:
        raise why("longer than 20 characters")
    return value


_MOVE_FIELDS: tuple[tuple[str, Callable[[Any, Any, str | None, Any], Any]], ...] = (
    ("from", _move_from),
    ("to", _move_to),
    ("at", _move_at),
    ("by_telegram_id", _move_by),
    ("via", _move_via),
)


def read_rows(rows: Sequence[Any], context: ImportContext) -> list[ImportedDeal]:
    """Check the whole file; raise InvalidFile listing every problem when any row is bad."""
    problems: list[FileProblem] = []
    parsed: list[ImportedDeal] = []
    first_seen: dict[str, int] = {}
    for index, raw in enumerate(rows):
        before = len(problems)
        row = _read_row(index, raw, context, problems)
        external_id = row.external_id if row else _mapping_get(raw, "external_id")
        if isinstance(external_id, str) and external_id.strip():
            if external_id in first_seen:
                problems.append(
                    FileProblem(f"same external_id as row {first_seen[external_id]}",
                                "external_id", index)
                )  # fmt: skip
            first_seen.setdefault(external_id, index)
        if row is not None and len(problems) == before:
            parsed.append(row.kept())
    if problems:
        raise InvalidFile(problems)
    return parsed


def _read_row(
    index: int, raw: Any, context: ImportContext, problems: list[FileProblem]
) -> ImportRow | None:
    try:
        return ImportRow.model_validate(raw, context=context)
    except ValidationError as error:
        problems.extend(problems_of(error, words=WORDS, root="row", row=index))
    return None


def _mapping_get(raw: Any, key: str) -> Any:
    return raw.get(key) if isinstance(raw, dict) else None
