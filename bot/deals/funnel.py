"""Funnels and their stages, loaded from a YAML file (format in README and funnel.yaml).

The file is read through pydantic models (`FunnelFile`) and turned into the frozen
dataclasses the rest of the bot uses (`FunnelConfig`): those sit on the hottest paths
(every move looks up a stage) and need none of a model's machinery. Every problem of
the file is reported, each named the way its author thinks of it:
"funnel 'b2b', stage 'offer', field 'probability'".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import InitErrorDetails

from bot.common.errors import FileProblem, InvalidFile
from bot.common.formats import problems_of, why

KEY_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass(frozen=True, slots=True)
class Stage:
    key: str
    names: Mapping[str, str]
    order: int
    aliases: tuple[str, ...] = ()
    probability: int = 0
    rotting_days: int | None = None
    needs_next_step: bool = False
    won: bool = False
    lost: bool = False

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names.get("ru") or self.key

    @property
    def closed(self) -> bool:
        return self.won or self.lost


@dataclass(frozen=True, slots=True)
class LostReason:
    key: str
    names: Mapping[str, str]

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names.get("ru") or self.key


@dataclass(frozen=True, slots=True)
class Funnel:
    key: str
    names: Mapping[str, str]
    stages: tuple[Stage, ...]
    default: bool = False
    _by_key: Mapping[str, Stage] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_key", {stage.key: stage for stage in self.stages})

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names.get("ru") or self.key

    def stage(self, key: str) -> Stage:
        return self._by_key[key]

    def has_stage(self, key: str) -> bool:
        return key in self._by_key

    @property
    def first(self) -> Stage:
        return self.stages[0]

    @property
    def won_stage(self) -> Stage:
        return next(stage for stage in self.stages if stage.won)

    @property
    def lost_stage(self) -> Stage:
        return next(stage for stage in self.stages if stage.lost)

    @property
    def open_stages(self) -> tuple[Stage, ...]:
        return tuple(stage for stage in self.stages if not stage.closed)

    def next_stage(self, key: str) -> Stage | None:
        """The stage after this one in order, skipping lost stages; None at the end."""
        current = self.stage(key)
        if current.lost:
            return None
        for stage in self.stages[current.order + 1 :]:
            if not stage.lost:
                return stage
        return None

    def is_forward(self, source: str | None, target: str) -> bool:
        """Forward: later in order and not a lost stage (a move into a won stage is forward)."""
        if source is None:
            return False
        to = self.stage(target)
        return not to.lost and to.order > self.stage(source).order

    def status_of(self, key: str) -> str:
        stage = self.stage(key)
        return "won" if stage.won else "lost" if stage.lost else "open"


@dataclass(frozen=True, slots=True)
class FunnelConfig:
    funnels: tuple[Funnel, ...]
    lost_reasons: tuple[LostReason, ...]

    @property
    def default(self) -> Funnel:
        return next((f for f in self.funnels if f.default), self.funnels[0])

    def funnel(self, key: str) -> Funnel:
        for funnel in self.funnels:
            if funnel.key == key:
                return funnel
        raise KeyError(key)

    def of_team(self, key: str | None) -> Funnel:
        """A team's funnel; the default when it chose none or its choice left the file."""
        return next((f for f in self.funnels if f.key == key), self.default)

    def lost_reason(self, key: str) -> LostReason | None:
        return next((reason for reason in self.lost_reasons if reason.key == key), None)


# --- the file ------------------------------------------------------------------------------

KEY_FORM = "lowercase latin letters, digits, '_' or '-'"
MAX_KEY = 30  # with a deal id and a version of 19 and 10 digits, 64 bytes of button data
NAME_FORM = "give {ru: ..., en: ...} or a string"

# The file's own words for a missing value or one of the wrong kind, by field path.
WORDS = {
    "": "expected 'funnels:' with a list of funnels",
    "funnels": "expected a list of funnels",
    "funnels[]": "expected a mapping",
    "funnels[].stages": "a list of at least two stages",
    "funnels[].stages[]": "expected a mapping",
    "lost_reasons": "a list",
    "lost_reasons[]": "expected a mapping",
}


def _key(value: Any) -> str:
    if not isinstance(value, str) or not value or not set(value) <= KEY_CHARS:
        raise why(KEY_FORM)
    if len(value) > MAX_KEY:  # keys travel in button data: dm:<deal>:<stage>:<version>
        raise why(f"at most {MAX_KEY} characters")
    return value


def _names(value: Any) -> dict[str, str]:
    if isinstance(value, str) and value.strip():
        return {"ru": value.strip(), "en": value.strip()}
    if isinstance(value, Mapping) and value.get("ru"):
        return {str(k): str(v) for k, v in value.items() if v}
    raise why(NAME_FORM)


def _flag(value: Any) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise why("expected true or false")
    return value


def _aliases(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(
        isinstance(alias, str | int) and not isinstance(alias, bool) for alias in value
    ):
        raise why("a list of words")
    return tuple(str(alias) for alias in value)


def _whole(low: int, high: int) -> PlainValidator:
    def whole(value: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise why(f"a whole number from {low} to {high}")
        return value

    return PlainValidator(whole)


def _list(value: Any) -> Any:
    return [] if value is None else value


def _two_or_more(value: Any) -> Any:
    if isinstance(value, list) and len(value) < 2:
        raise why(WORDS["funnels[].stages"])
    return value


Key = Annotated[str, PlainValidator(_key)]
Names = Annotated[dict[str, str], PlainValidator(_names)]
Flag = Annotated[bool, PlainValidator(_flag)]

_Format = ConfigDict(frozen=True, extra="ignore")


class StageSpec(BaseModel):
    """One stage as the file writes it; unknown fields are ignored."""

    model_config = _Format

    key: Key = Field(None, validate_default=True)
    name: Names = Field(None, validate_default=True)
    aliases: Annotated[tuple[str, ...], PlainValidator(_aliases)] = ()
    probability: Annotated[int | None, _whole(0, 100)] = None
    rotting_days: Annotated[int | None, _whole(1, 3650)] = None
    needs_next_step: Flag = False
    won: Flag = False
    lost: Flag = False

    @field_validator("lost")
    @classmethod
    def _not_both(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("won"):
            raise why("a stage cannot be both won and lost")
        return value

    def stage(self, order: int) -> Stage:
        return Stage(
            self.key, self.name, order, self.aliases, self.probability or 0,
            self.rotting_days, self.needs_next_step, self.won, self.lost,
        )  # fmt: skip


class FunnelSpec(BaseModel):
    model_config = _Format

    key: Key = Field(None, validate_default=True)
    name: Names = Field(None, validate_default=True)
    default: Flag = False
    stages: Annotated[list[StageSpec], BeforeValidator(_two_or_more)]

    @field_validator("stages")
    @classmethod
    def _stages(cls, stages: list[StageSpec]) -> list[StageSpec]:
        """Stages with distinct keys, one won and one lost, the first one open."""
        errors: list[InitErrorDetails] = []
        seen: set[str] = set()
        for number, stage in enumerate(stages):
            if stage.key in seen:
                errors.append(_error("used twice", (number, "key")))
            seen.add(stage.key)
        if not any(stage.won for stage in stages):
            errors.append(_error("mark one stage 'won: true'", ()))
        if not any(stage.lost for stage in stages):
            errors.append(_error("mark one stage 'lost: true'", ()))
        if stages[0].won or stages[0].lost:
            errors.append(_error("the first stage must be open", (0,)))
        if errors:
            raise ValidationError.from_exception_data("stages", errors)
        return stages

    def funnel(self) -> Funnel:
        stages = tuple(stage.stage(order) for order, stage in enumerate(self.stages))
        return Funnel(self.key, self.name, stages, self.default)


class LostReasonSpec(BaseModel):
    model_config = _Format

    key: Key = Field(None, validate_default=True)
    name: Names = Field(None, validate_default=True)


class FunnelFile(BaseModel):
    """The whole file: the funnels (one of them the default) and the reasons deals are lost."""

    model_config = _Format

    funnels: list[FunnelSpec]
    lost_reasons: Annotated[list[LostReasonSpec], BeforeValidator(_list)] = []

    @field_validator("funnels")
    @classmethod
    def _funnels(cls, funnels: list[FunnelSpec]) -> list[FunnelSpec]:
        if not funnels:
            raise why("define at least one funnel")
        errors: list[InitErrorDetails] = []
        seen: set[str] = set()
        defaults = 0
        for number, funnel in enumerate(funnels):
            if funnel.key in seen:
                errors.append(_error("two funnels share a key", (number, "key")))
            seen.add(funnel.key)
            defaults += funnel.default
            if funnel.default and defaults == 2:
                errors.append(_error("only one funnel can be the default", (number, "default")))
        if errors:
            raise ValidationError.from_exception_data("funnels", errors)
        return funnels

    def config(self) -> FunnelConfig:
        reasons = tuple(LostReason(reason.key, reason.name) for reason in self.lost_reasons)
        return FunnelConfig(tuple(funnel.funnel() for funnel in self.funnels), reasons)


def _error(message: str, loc: tuple[int | str, ...]) -> InitErrorDetails:
    return InitErrorDetails(type=why(message), loc=loc, input=None)


_LABELS = {"funnels": "funnel", "stages": "stage", "lost_reasons": "lost reason"}


def where(loc: tuple[int | str, ...], data: Any) -> str:
    """A place in the file as its author thinks of it.

    ("funnels", 0, "stages", 4, "probability") → "funnel 'b2b', stage 'offer', field 'probability'".

    A funnel, stage or lost reason is named by its key when that key is valid, else by
    its number from 1, so that a wrong key is still found.
    """
    parts: list[str] = []
    node = data
    index = 0
    while index < len(loc):
        part = loc[index]
        following = loc[index + 1] if index + 1 < len(loc) else None
        if isinstance(part, str) and part in _LABELS and isinstance(following, int):
            items = node.get(part) if isinstance(node, Mapping) else None
            node = items[following] if isinstance(items, list) else None
            key = node.get("key") if isinstance(node, Mapping) else None
            valid = isinstance(key, str) and key and set(key) <= KEY_CHARS
            parts.append(
                f"{_LABELS[part]} '{key}'" if valid else f"{_LABELS[part]} #{following + 1}"
            )
            index += 2
            continue
        if isinstance(part, str):
            parts.append(f"field '{part}'")
            break
        index += 1
    if not parts or parts[0].startswith("field"):
        parts.insert(0, "top level")
    return ", ".join(parts)


def parse_funnels(data: Any) -> FunnelConfig:
    """The funnels of a file's data; InvalidFile lists every problem found."""
    try:
        return FunnelFile.model_validate(data).config()
    except ValidationError as error:
        problems = problems_of(error, words=WORDS, where=lambda loc: where(loc, data))
        raise InvalidFile(problems) from None


def load_funnels(path: Path) -> FunnelConfig:
    try:
        with path.open(encoding="utf-8") as file:
            data = yaml.safe_load(file)
    except OSError as error:
        raise InvalidFile([FileProblem(f"cannot read: {error.strerror}")], path) from None
    except yaml.YAMLError as error:
        raise InvalidFile([FileProblem(f"invalid YAML: {error}")], path) from None
    try:
        return parse_funnels(data)
    except InvalidFile as error:
        raise InvalidFile(error.problems, path) from None
