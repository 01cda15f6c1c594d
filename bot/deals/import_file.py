"""The deals import file as pydantic models: teams, people, and deals in the export format.

The file is an object {format, version, teams, people, deals} (`FILE_FORMAT`, version 2);
a bare array of deals, as exports before version 2 wrote, is read too, with no teams or
people of its own. A row is checked against what the database and the funnels hold (the
people, the teams, the funnel's stages, the clock), given as the validation context. Every
problem is reported, each naming its place (`people[1].role`; `row 4, history[1].at` for
the fourth deal: rows count from 1, as people count records, while paths inside a record keep
JSON's indexes) and what to write instead, so a big file can be fixed in one pass;
`read_file` checks the whole file before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, NamedTuple, TypeVar

from iso4217 import Currency
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
from bot.common.formats import field_path, problems_of, why
from bot.common.i18n import DEFAULT_LANGUAGE, LANGUAGES
from bot.common.money import to_amount
from bot.deals.funnel import Funnel, FunnelConfig
from bot.deals.import_store import ClientKey, PersonRecord, TeamRecord
from bot.deals.service import MAX_NOTE, MAX_TITLE, Via
from bot.people.service import MAX_PERSON_NAME, MAX_TEAM_NAME, Role, clean_name

FILE_FORMAT = "voronka-deals"
FILE_VERSION = 2
DEFAULT_CURRENCY = "RUB"
MAX_TELEGRAM_ID = 2**63 - 1  # BigInteger
STATUSES = ("open", "won", "lost")
# ISO 4217 codes money is counted in: the X codes without minor units (gold, XDR, XXX "no
# currency", XTS "testing") are not a deal's currency.
CURRENCIES = frozenset(c.code for c in Currency if c.exponent is not None)

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
    "next_step": "expected an object {text, due, done} or null",
    "history": "required: a list of moves {from, to, at, by_telegram_id, via}, oldest first",
    "history[]": "expected an object {from, to, at, by_telegram_id, via, lost_reason, comment,"
    " owner_telegram_id}",
    "notes": "expected a list of notes {text, at, by_telegram_id}, oldest first",
    "notes[]": "expected an object {text, at, by_telegram_id}",
    "format": f"expected '{FILE_FORMAT}'",
    "deals": "required: a list of deals",
    "teams": "expected a list of teams {name, funnel, group_chat_id}",
    "people": "expected a list of people {telegram_id, name, role, team, language, active}",
    "active": "expected true or false",
    "done": "expected true or false",
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
    # Teams and people the file describes and the database lacks (only with create_users).
    file_teams: dict[str, TeamRecord] = field(default_factory=dict)
    file_people: dict[int, PersonRecord] = field(default_factory=dict)
    # Named by a deal or a person but described nowhere: created bare, people as managers.
    new_users: dict[int, str | None] = field(default_factory=dict)  # Telegram id -> team
    new_teams: set[str] = field(default_factory=set)

    def has_team(self, name: str) -> bool:
        return name in self.teams or name in self.file_teams


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


def _telegram_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_TELEGRAM_ID:
        raise why("expected a Telegram user id (a positive whole number)")
    return value


def _person_in(value: Any, context: ImportContext, team: str | None) -> int:
    """A Telegram id of a known user, of one the file describes, or of one to create."""
    telegram_id = _telegram_id(value)
    if telegram_id not in context.users and telegram_id not in context.file_people:
        if not context.create_users:
            raise why(f"no user with Telegram id {telegram_id}; {USE_CREATE_USERS}")
        context.new_users.setdefault(telegram_id, team)
    return telegram_id


def _team_name(value: Any, *, nullable: bool = True) -> str:
    name = clean_name(value, MAX_TEAM_NAME + 1) if isinstance(value, str) else ""
    if not name or len(name) > MAX_TEAM_NAME:
        choice = ", or null" if nullable else ""
        raise why(f"expected a team name of up to {MAX_TEAM_NAME} characters{choice}")
    return name


def _known_team(value: Any, context: ImportContext) -> str:
    """A team of the database or the file, or one to create when creating users."""
    name = _team_name(value)
    if not context.has_team(name):
        if not context.create_users:
            raise why(f"no team '{name}'; {USE_CREATE_USERS}")
        context.new_teams.add(name)
    return name


def _currency_code(value: Any) -> str:
    if not isinstance(value, str) or value not in CURRENCIES:
        shown = f"'{value}'" if isinstance(value, str) else "this"
        raise why(f"{shown} is not an ISO 4217 currency: write a code such as RUB, USD or EUR")
    return value


def _lost_reason_of(value: Any, context: ImportContext, funnel: Funnel | None, stage: Any) -> str:
    reasons = context.funnels
    if not isinstance(value, str) or reasons.lost_reason(value) is None:
        known = ", ".join(reason.key for reason in reasons.lost_reasons)
        raise why(f"unknown lost reason (known: {known})")
    if (
        funnel is not None
        and isinstance(stage, str)
        and funnel.has_stage(stage)
        and not funnel.stage(stage).lost
    ):
        raise why(f"only a lost deal has a lost reason; stage '{stage}' is not lost")
    return value


def _comment(value: Any) -> str | None:
    value = _blank_is_missing(value)
    if value is None:
        return None
    if not isinstance(value, str):
        raise why("expected a string or null")
    if len(value) > MAX_NOTE:
        raise why(f"longer than {MAX_NOTE} characters")
    return value


def _stage_of(funnel: Funnel | None, value: Any) -> str:
    if not isinstance(value, str):
        raise why("expected a stage key")
    if funnel is not None and not funnel.has_stage(value):
        known = ", ".join(stage.key for stage in funnel.stages)
        raise why(f"no stage '{value}' in funnel '{funnel.key}' (stages: {known})")
    return value


_Model = TypeVar("_Model", bound=BaseModel)
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
    """`done`: the step's time came and the bot asked how it went; it is not asked again."""

    model_config = _Row

    text: Text500 | None = None
    due: datetime | None = None
    done: bool = Field(False, strict=True)

    @field_validator("due", mode="plain")
    @classmethod
    def _due(cls, value: Any, info: ValidationInfo) -> datetime | None:
        return None if value is None else _any_time(value, info)

    @field_validator("done", mode="before")
    @classmethod
    def _done(cls, value: Any, info: ValidationInfo) -> Any:
        if value is True and info.data.get("due") is None and "due" in info.data:
            raise why("only a step with a due time can be done")
        return False if value is None else value


class ImportMove(NamedTuple):
    """One history entry, as checked by `ImportRow`'s history (a tuple: there are a million)."""

    from_stage: str | None
    to_stage: str
    at: datetime
    by_telegram_id: int | None
    via: str
    lost_reason: str | None
    comment: str | None
    owner_telegram_id: int | None = None  # whose deal it was then; missing in older files


class ImportNote(NamedTuple):
    text: str
    at: datetime
    by_telegram_id: int | None


class ImportTeam(BaseModel):
    """A team the file describes: its funnel for new deals and its group chat."""

    model_config = _Row

    name: str
    funnel: str | None = None
    group_chat_id: int | None = Field(None, strict=True)

    @field_validator("name", mode="plain")
    @classmethod
    def _name(cls, value: Any) -> str:
        if value is None:
            raise why("required")
        return _team_name(value, nullable=False)

    @field_validator("funnel", mode="plain")
    @classmethod
    def _funnel(cls, value: Any, info: ValidationInfo) -> str | None:
        funnels = _context(info).funnels.funnels
        if value is None or any(funnel.key == value for funnel in funnels):
            return value if value is None else str(value)
        known = ", ".join(funnel.key for funnel in funnels)
        raise why(f"no funnel '{value}' (funnels: {known}), or null for the default one")

    def record(self) -> TeamRecord:
        return TeamRecord(self.name, self.funnel, self.group_chat_id)


class ImportPerson(BaseModel):
    """A person the file describes: created as they were, role, team and all, when missing."""

    model_config = _Row

    telegram_id: int
    name: str
    username: Annotated[str, _Blank, StringConstraints(max_length=64)] | None = None
    role: Role
    team: str | None = None
    language: str = DEFAULT_LANGUAGE
    active: bool = Field(True, strict=True)

    @field_validator("telegram_id", mode="plain")
    @classmethod
    def _id(cls, value: Any) -> int:
        if value is None:
            raise why("required")
        return _telegram_id(value)

    @field_validator("name", mode="plain")
    @classmethod
    def _name(cls, value: Any) -> str:
        name = clean_name(value, MAX_PERSON_NAME + 1) if isinstance(value, str) else ""
        if not name or len(name) > MAX_PERSON_NAME:
            raise why(f"required: a name of up to {MAX_PERSON_NAME} characters")
        return name

    @field_validator("role", mode="plain")
    @classmethod
    def _role(cls, value: Any) -> Role:
        if isinstance(value, str) and value in Role._value2member_map_:
            return Role(value)
        raise why("expected admin, lead or manager")

    @field_validator("team", mode="plain")
    @classmethod
    def _team(cls, value: Any, info: ValidationInfo) -> str | None:
        return None if value is None else _known_team(value, _context(info))

    @field_validator("language", mode="plain")
    @classmethod
    def _language(cls, value: Any) -> str:
        if value is None:
            return DEFAULT_LANGUAGE
        if value not in LANGUAGES:
            raise why(f"expected one of {', '.join(LANGUAGES)}")
        return str(value)

    def record(self) -> PersonRecord:
        return PersonRecord(
            self.telegram_id, self.name, self.username, self.role.value, self.team,
            self.language, self.active,
        )  # fmt: skip


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
    next_step_done: bool
    created_at: datetime
    history: tuple[ImportMove, ...]
    notes: tuple[ImportNote, ...]


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
    notes: tuple[ImportNote, ...] = ()

    def kept(self) -> ImportedDeal:
        step = self.next_step
        return ImportedDeal(
            self.external_id, self.title, self.client.key if self.client else None,
            self.owner_telegram_id, self.team, self.funnel.key, self.stage, self.status,
            self.amount, self.currency, self.lost_reason, step.text if step else None,
            step.due if step else None, bool(step and step.done), self.created_at,
            self.history, self.notes,
        )  # fmt: skip

    @field_validator("team", mode="plain")
    @classmethod
    def _team(cls, value: Any, info: ValidationInfo) -> str | None:
        return None if value is None else _known_team(value, _context(info))

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
        return DEFAULT_CURRENCY if value is None else _currency_code(value)

    @field_validator("lost_reason", mode="plain")
    @classmethod
    def _lost_reason(cls, value: Any, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        funnel, stage = info.data.get("funnel"), info.data.get("stage")
        return _lost_reason_of(value, _context(info), funnel, stage)

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
        final = len(value) - 1
        for number, entry in enumerate(value):
            move = _move(entry, number, funnel, team, info, errors)
            # Files before version 2 keep the lost reason on the deal alone: it belongs to
            # the move that lost it.
            if move is not None and number == final and "lost_reason" not in entry:
                move = move._replace(lost_reason=info.data.get("lost_reason"))
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

    @field_validator("notes", mode="plain")
    @classmethod
    def _notes(cls, value: Any, info: ValidationInfo) -> tuple[ImportNote, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise why(WORDS["notes"])
        team = info.data.get("team")
        errors: list[InitErrorDetails] = []
        notes: list[ImportNote] = []
        for number, entry in enumerate(value):
            if not isinstance(entry, dict):
                errors.append(_error(WORDS["notes[]"], number, None, entry))
                continue
            values: list[Any] = []
            for name, read in _NOTE_FIELDS:
                try:
                    values.append(read(entry.get(name), team, info))
                except PydanticCustomError as error:
                    errors.append(_error(error.message(), number, name, entry))
            if len(values) == len(_NOTE_FIELDS):
                notes.append(ImportNote(*values))
        if errors:
            raise ValidationError.from_exception_data("notes", errors)
        return tuple(notes)


def _note_text(value: Any, _team: str | None, _info: ValidationInfo) -> str:
    value = _blank_is_missing(value)
    if value is None:
        raise why("required")
    if not isinstance(value, str):
        raise why("expected a string")
    if len(value) > MAX_NOTE:
        raise why(f"longer than {MAX_NOTE} characters")
    return value


def _note_at(value: Any, _team: str | None, info: ValidationInfo) -> datetime:
    if value is None:
        raise why("required")
    return _past(value, info)


def _note_by(value: Any, team: str | None, info: ValidationInfo) -> int | None:
    return None if value is None else _person(value, info, team)


_NOTE_FIELDS: tuple[tuple[str, Callable[[Any, str | None, ValidationInfo], Any]], ...] = (
    ("text", _note_text),
    ("at", _note_at),
    ("by_telegram_id", _note_by),
)


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
        value = entry.get(name)
        try:
            if read is not None:
                values.append(read(value, funnel, team, info))
            elif value is None:
                values.append(None)
            else:
                values.append(_lost_reason_of(value, _context(info), funnel, entry.get("to")))
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
    get = entry.get
    source, target, at, by, via, reason, comment, owner = (
        get("from"), get("to"), get("at"), get("by_telegram_id"), get("via"),
        get("lost_reason"), get("comment"), get("owner_telegram_id"),
    )  # fmt: skip
    if target is None or at is None:
        raise why("required")
    if source is not None:
        source = _stage_of(funnel, source)
    target = _stage_of(funnel, target)
    moved_at = _moment(at, context.now, past=True)
    if by is not None and (type(by) is not int or by not in context.users):
        by = _person_in(by, context, team)
    if owner is not None and (type(owner) is not int or owner not in context.users):
        owner = _person_in(owner, context, team)
    if type(via) is not str or not 0 < len(via) <= 20 or not via.strip():
        via = _move_via(via, funnel, team, None)
    if reason is not None:
        reason = _lost_reason_of(reason, context, funnel, target)
    if comment is not None:
        comment = _comment(comment)
    return ImportMove(source, target, moved_at, by, via, reason, comment, owner)


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


def _move_comment(value: Any, _funnel: Any, _team: str | None, _info: Any) -> str | None:
    return _comment(value)


_MOVE_FIELDS: tuple[tuple[str, Callable[[Any, Any, str | None, Any], Any] | None], ...] = (
    ("from", _move_from),
    ("to", _move_to),
    ("at", _move_at),
    ("by_telegram_id", _move_by),
    ("via", _move_via),
    ("lost_reason", None),  # read in `_move`: it needs the move's target stage
    ("comment", _move_comment),
    ("owner_telegram_id", _move_by),
)


class ImportHead(BaseModel):
    """The file around the deals. `version` tells a file this Voronka cannot read (a later one's)
    from one it can; the teams and the people are checked one by one in `read_file`."""

    model_config = _Row

    format: Literal["voronka-deals"] = Field(None, validate_default=True)
    version: int = Field(None, validate_default=True)
    teams: list[Any] = []
    people: list[Any] = []
    deals: list[Any]

    @field_validator("format", mode="plain")
    @classmethod
    def _format(cls, value: Any) -> str:
        if value != FILE_FORMAT:
            raise why(f"expected '{FILE_FORMAT}': this is not a file `voronka deals export` wrote")
        return FILE_FORMAT

    @field_validator("version", mode="plain")
    @classmethod
    def _version(cls, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise why(f"expected a whole number from 1 to {FILE_VERSION}")
        if value > FILE_VERSION:
            raise why(
                f"version {value} is written by a newer Voronka; this one reads up to "
                f"{FILE_VERSION}: update it first"
            )
        return value


@dataclass(frozen=True, slots=True)
class ImportedFile:
    """A checked file: the teams and people to create (as the file describes them) and the
    deals. Teams and people the database has already are left as they are."""

    teams: list[TeamRecord]
    people: list[PersonRecord]
    deals: list[ImportedDeal]


def read_file(data: Any, context: ImportContext) -> ImportedFile:
    """Check the whole file (an object, or a bare array of deals as before version 2); raise
    InvalidFile listing every problem when anything is wrong."""
    if isinstance(data, list):
        return ImportedFile([], [], read_rows(data, context))
    try:
        head = ImportHead.model_validate(data, context=context)
    except ValidationError as error:
        raise InvalidFile(problems_of(error, words=WORDS, root="file")) from None
    problems: list[FileProblem] = []
    teams = _read_teams(head.teams, context, problems)
    people = _read_people(head.people, context, problems)
    try:
        deals = read_rows(head.deals, context)
    except InvalidFile as error:
        problems.extend(error.problems)
    if problems:
        raise InvalidFile(problems)
    return ImportedFile(teams, people, deals)


def _read_teams(
    raw: list[Any], context: ImportContext, problems: list[FileProblem]
) -> list[TeamRecord]:
    """The file's teams the database lacks, recorded in the context so that rows may name them."""
    fresh: list[TeamRecord] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        name = _mapping_get(item, "name")
        if isinstance(name, str) and clean_name(name, MAX_TEAM_NAME + 1):
            if clean_name(name, MAX_TEAM_NAME + 1) in seen:
                problems.append(FileProblem("the same team twice", f"teams[{index}].name"))
                continue
            seen.add(clean_name(name, MAX_TEAM_NAME + 1))
        team = _read_item(ImportTeam, "teams", index, item, context, problems)
        if team is None:
            continue
        if team.name in context.teams:
            continue
        if not context.create_users:
            why_not = f"no team '{team.name}'; {USE_CREATE_USERS}"
            problems.append(FileProblem(why_not, f"teams[{index}].name"))
            continue
        context.file_teams[team.name] = team.record()
        fresh.append(team.record())
    return fresh


def _read_people(
    raw: list[Any], context: ImportContext, problems: list[FileProblem]
) -> list[PersonRecord]:
    fresh: list[PersonRecord] = []
    seen: set[int] = set()
    for index, item in enumerate(raw):
        where = f"people[{index}].telegram_id"
        telegram_id = _mapping_get(item, "telegram_id")
        if isinstance(telegram_id, int):
            if telegram_id in seen:
                problems.append(FileProblem("the same person twice", where))
                continue
            seen.add(telegram_id)
        person = _read_item(ImportPerson, "people", index, item, context, problems)
        if person is None:
            continue
        if person.telegram_id in context.users:
            continue
        if not context.create_users:
            why_not = f"no user with Telegram id {person.telegram_id}; {USE_CREATE_USERS}"
            problems.append(FileProblem(why_not, where))
            continue
        context.file_people[person.telegram_id] = person.record()
        fresh.append(person.record())
    return fresh


def _read_item(
    model: type[_Model],
    section: str,
    index: int,
    item: Any,
    context: ImportContext,
    problems: list[FileProblem],
) -> _Model | None:
    try:
        return model.model_validate(item, context=context)
    except ValidationError as error:
        problems.extend(
            problems_of(
                error, words=WORDS, root=f"{section}[{index}]",
                where=lambda loc: field_path((section, index, *loc)) if loc else "",
            )
        )  # fmt: skip
    return None


def read_rows(rows: Sequence[Any], context: ImportContext) -> list[ImportedDeal]:
    """Check the deals; raise InvalidFile listing every problem when any row is bad."""
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
                                "external_id", index + 1)
                )  # fmt: skip
            first_seen.setdefault(external_id, index + 1)
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
        problems.extend(problems_of(error, words=WORDS, root="row", row=index + 1))
    return None


def _mapping_get(raw: Any, key: str) -> Any:
    return raw.get(key) if isinstance(raw, dict) else None
