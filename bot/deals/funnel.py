"""Funnels and their stages, loaded from a YAML file (format in README and funnel.yaml)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

KEY_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


class FunnelError(Exception):
    """The funnel file is invalid; the message names the funnel, stage and field."""


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


def _names(value: Any, where: str) -> dict[str, str]:
    if isinstance(value, str) and value.strip():
        return {"ru": value.strip(), "en": value.strip()}
    if isinstance(value, Mapping) and value.get("ru"):
        return {str(k): str(v) for k, v in value.items() if v}
    raise FunnelError(f"{where}, field 'name': give {{ru: ..., en: ...}} or a string")


def _key(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or not set(value) <= KEY_CHARS:
        raise FunnelError(f"{where}, field 'key': lowercase latin letters, digits, '_' or '-'")
    return value


def _int(raw: Mapping[str, Any], name: str, where: str, low: int, high: int) -> int | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FunnelError(f"{where}, field '{name}': a whole number from {low} to {high}")
    return value


def _stage(raw: Any, order: int, funnel_where: str) -> Stage:
    if not isinstance(raw, Mapping):
        raise FunnelError(f"{funnel_where}, stage #{order + 1}: expected a mapping")
    key = _key(raw.get("key"), f"{funnel_where}, stage #{order + 1}")
    where = f"{funnel_where}, stage '{key}'"
    aliases = raw.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str | int) for a in aliases):
        raise FunnelError(f"{where}, field 'aliases': a list of words")
    won, lost = bool(raw.get("won", False)), bool(raw.get("lost", False))
    if won and lost:
        raise FunnelError(f"{where}, fields 'won' and 'lost': a stage cannot be both")
    return Stage(
        key=key,
        names=_names(raw.get("name"), where),
        order=order,
        aliases=tuple(str(alias) for alias in aliases),
        probability=_int(raw, "probability", where, 0, 100) or 0,
        rotting_days=_int(raw, "rotting_days", where, 1, 3650),
        needs_next_step=bool(raw.get("needs_next_step", False)),
        won=won,
        lost=lost,
    )


def _funnel(raw: Any, index: int) -> Funnel:
    if not isinstance(raw, Mapping):
        raise FunnelError(f"funnel #{index + 1}: expected a mapping")
    key = _key(raw.get("key"), f"funnel #{index + 1}")
    where = f"funnel '{key}'"
    stages_raw = raw.get("stages")
    if not isinstance(stages_raw, list) or len(stages_raw) < 2:
        raise FunnelError(f"{where}, field 'stages': a list of at least two stages")
    stages = tuple(_stage(stage, order, where) for order, stage in enumerate(stages_raw))
    keys = [stage.key for stage in stages]
    duplicates = {k for k in keys if keys.count(k) > 1}
    if duplicates:
        raise FunnelError(f"{where}, stage '{sorted(duplicates)[0]}', field 'key': used twice")
    if not any(stage.won for stage in stages):
        raise FunnelError(f"{where}, field 'stages': mark one stage 'won: true'")
    if not any(stage.lost for stage in stages):
        raise FunnelError(f"{where}, field 'stages': mark one stage 'lost: true'")
    if stages[0].closed:
        raise FunnelError(f"{where}, stage '{stages[0].key}': the first stage must be open")
    return Funnel(key, _names(raw.get("name"), where), stages, bool(raw.get("default", False)))


def parse_funnels(data: Any) -> FunnelConfig:
    if not isinstance(data, Mapping) or not isinstance(data.get("funnels"), list):
        raise FunnelError("top level: expected 'funnels:' with a list of funnels")
    funnels = tuple(_funnel(raw, index) for index, raw in enumerate(data["funnels"]))
    if not funnels:
        raise FunnelError("top level, field 'funnels': define at least one funnel")
    keys = [f.key for f in funnels]
    if len(set(keys)) != len(keys):
        raise FunnelError("top level, field 'funnels': two funnels share a key")
    if sum(f.default for f in funnels) > 1:
        raise FunnelError("top level, field 'default': only one funnel can be the default")
    reasons_raw = data.get("lost_reasons") or []
    if not isinstance(reasons_raw, list):
        raise FunnelError("top level, field 'lost_reasons': a list")
    reasons = []
    for index, raw in enumerate(reasons_raw):
        if not isinstance(raw, Mapping):
            raise FunnelError(f"lost reason #{index + 1}: expected a mapping")
        key = _key(raw.get("key"), f"lost reason #{index + 1}")
        reasons.append(LostReason(key, _names(raw.get("name"), f"lost reason '{key}'")))
    return FunnelConfig(funnels, tuple(reasons))


def load_funnels(path: Path) -> FunnelConfig:
    try:
        with path.open(encoding="utf-8") as file:
            data = yaml.safe_load(file)
    except OSError as error:
        raise FunnelError(f"cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise FunnelError(f"{path}: invalid YAML: {error}") from None
    try:
        return parse_funnels(data)
    except FunnelError as error:
        raise FunnelError(f"{path}: {error}") from None
