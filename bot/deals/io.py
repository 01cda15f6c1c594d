"""Export and import of deals with their stage history, to move data in from and out to other CRMs.

One deal is one JSON object (fields in `export_deals`). An import is keyed by `external_id`:
a deal whose `external_id` is already in the database is skipped, so running the same file
again changes nothing and an interrupted import resumes where it stopped. For the same
reason the export first gives deals made in the bot a permanent `external_id`.
"""

from __future__ import annotations

import csv
import json
import re
from collections import ChainMap
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TextIO

from bot.common.clock import Clock
from bot.deals.funnel import Funnel, FunnelConfig
from bot.deals.import_store import (
    ClientKey,
    ImportStore,
    NewDeal,
    NewMove,
    StoredDeal,
    StoredMove,
)
from bot.deals.service import MAX_TITLE, Via
from bot.people.service import MAX_TEAM_NAME, PeopleService, Role, clean_name

EXPORT_BATCH = 1000
IMPORT_BATCH = 2000
DEFAULT_CURRENCY = "RUB"
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999999999.99")  # Numeric(18, 2)
MAX_TELEGRAM_ID = 2**63 - 1  # BigInteger
STATUSES = ("open", "won", "lost")
CURRENCY = re.compile(r"[A-Z]{3}")

CSV_FIELDS = (
    "id",
    "external_id",
    "title",
    "client_name",
    "client_contact",
    "client_phone",
    "client_email",
    "owner_telegram_id",
    "team",
    "funnel",
    "stage",
    "status",
    "amount",
    "currency",
    "lost_reason",
    "next_step_text",
    "next_step_due",
    "created_at",
    "history_count",
)

TIME_FORMAT = "expected an ISO 8601 time with an offset, e.g. 2026-11-30T10:00:00+03:00 or …Z"
NO_OFFSET = "no UTC offset: add one, e.g. +03:00 or Z (a time without it is ambiguous)"
NO_EXTERNAL_ID = (
    "required: external_id identifies the deal, so that importing the file again changes nothing"
)
USE_CREATE_USERS = "create it first or import with --create-users"


class DealTransfer:
    """Export and import of deals, given just what they need rather than the whole core.

    `written` runs after each committed import batch: deals appeared behind the deals
    service's back, so whatever it caches about them must be read afresh.
    """

    def __init__(
        self,
        store: ImportStore,
        funnels: FunnelConfig,
        people: PeopleService,
        *,
        clock: Clock,
        written: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.funnels = funnels
        self.people = people
        self.clock = clock
        self.written = written

    # --- export ----------------------------------------------------------------------------

    async def export_deals(
        self, *, batch_size: int = EXPORT_BATCH
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Every deal, oldest id first, read in batches so 100k deals never sit in memory at once.

        Fields: id, external_id, title, client {name, contact, phone, email} or null,
        owner_telegram_id, team, funnel, stage, status, amount ("150000.00" or null), currency,
        lost_reason, next_step {text, due} or null, created_at and history
        [{from, to, at, by_telegram_id, via}] oldest first. Times are ISO 8601 in UTC.

        Deals made in the bot first get a permanent external_id: an import is keyed by it, so
        without one a file could not be imported at all, and importing it back here would
        duplicate the deals. A random id never collides with the ids of deals exported from
        another Voronka and merged into this one.
        """
        async with self.store.transaction() as session:
            await self.store.stamp_external_ids(session)
        async with aclosing(self.store.deal_batches(batch_size)) as batches:
            async for deals, history in batches:
                for deal in deals:
                    yield _deal_record(deal, history.get(deal.id, ()))

    async def write_json(self, out: TextIO) -> int:
        """Write one JSON array, a deal per line, as the deals are read; returns how many."""
        count = 0
        out.write("[")
        async with aclosing(self.export_deals()) as deals:
            async for deal in deals:
                out.write(",\n" if count else "\n")
                out.write(json.dumps(deal, ensure_ascii=False))
                count += 1
        out.write("\n]\n" if count else "]\n")
        return count

    async def write_csv(self, out: TextIO) -> int:
        """Write a header and one row per deal (empty cells for nulls); returns how many."""
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
        writer.writeheader()
        count = 0
        async with aclosing(self.export_deals()) as deals:
            async for deal in deals:
                writer.writerow(csv_row(deal))
                count += 1
        return count

    # --- import ----------------------------------------------------------------------------

    async def import_deals(
        self,
        rows: Sequence[Any],
        *,
        create_users: bool = False,
        progress: Progress | None = None,
        batch_size: int = IMPORT_BATCH,
    ) -> ImportReport:
        """Import deals in the export format; the whole file is checked before anything is written.

        Each batch of deals is one transaction with the deals' history, so an interrupted import
        leaves whole batches behind and a re-run skips them by external_id.
        """
        context = await self._load_context(create_users)
        parsed = _read_rows(rows, context)
        users_created = await self._create_people(context)
        async with self.store.transaction() as session:
            clients = await self.store.clients(session)
        created = unchanged = 0
        for start in range(0, len(parsed), batch_size):
            batch = parsed[start : start + batch_size]
            written = await self._write_batch(batch, context, clients)
            created += written
            unchanged += len(batch) - written
            if progress is not None:
                progress(start + len(batch), len(parsed))
        return ImportReport(created, unchanged, users_created)

    async def _load_context(self, create_users: bool) -> _Context:
        async with self.store.transaction() as session:
            users = await self.store.users(session)
            teams = await self.store.teams(session)
        return _Context(
            self.funnels, self.clock(), create_users, users,
            {team.name: team.id for team in teams}, {team.name: team.funnel for team in teams},
        )  # fmt: skip

    async def _create_people(self, context: _Context) -> int:
        """Create the teams and people the file names but the database lacks (as managers)."""
        for name in sorted(context.new_teams - context.teams.keys()):
            team_id, team_name = await self.people.create_team(None, name)
            context.teams[team_name] = team_id
        if not context.new_users:
            return 0
        async with self.store.transaction() as session:  # someone may have registered meanwhile
            context.users.update(await self.store.users(session, context.new_users))
        created = 0
        for telegram_id, team in context.new_users.items():
            if telegram_id not in context.users:
                person = await self.people.ensure_person(
                    telegram_id, str(telegram_id), Role.MANAGER, team
                )
                context.users[telegram_id] = person.id
                created += 1
        return created

    async def _write_batch(
        self, batch: Sequence[_Row], context: _Context, clients: dict[ClientKey, int]
    ) -> int:
        """Insert the batch's new deals, their clients and history in one transaction."""
        store = self.store
        async with store.transaction() as session:
            known = await store.known_external_ids(session, [row.external_id for row in batch])
            fresh = [row for row in batch if row.external_id not in known]
            if not fresh:
                return 0
            new_clients = await store.insert_clients(session, _clients_of(fresh, clients))
            every_client = ChainMap(new_clients, clients)
            deal_ids = await store.insert_deals(
                session, [_new_deal(row, context, every_client) for row in fresh]
            )
            await store.insert_history(session, _new_moves(fresh, context.users), deal_ids)
        clients.update(new_clients)  # only once committed
        self.written()
        return len(fresh)


def _deal_record(deal: StoredDeal, history: Sequence[StoredMove]) -> dict[str, Any]:
    client = None
    if deal.client_id is not None:
        client = {
            "name": deal.client_name,
            "contact": deal.contact,
            "phone": deal.phone,
            "email": deal.email,
        }
    next_step = None
    if deal.next_step_text is not None or deal.next_step_due is not None:
        next_step = {"text": deal.next_step_text, "due": _iso(deal.next_step_due)}
    return {
        "id": deal.id,
        "external_id": deal.external_id,
        "title": deal.title,
        "client": client,
        "owner_telegram_id": deal.owner_telegram_id,
        "team": deal.team,
        "funnel": deal.funnel,
        "stage": deal.stage,
        "status": deal.status,
        "amount": None if deal.amount is None else str(Decimal(deal.amount).quantize(CENT)),
        "currency": deal.currency,
        "lost_reason": deal.lost_reason,
        "next_step": next_step,
        "created_at": _iso(deal.created_at),
        "history": [
            {
                "from": move.from_stage,
                "to": move.to_stage,
                "at": _iso(move.at),
                "by_telegram_id": move.by_telegram_id,
                "via": move.via,
            }
            for move in history
        ],
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def csv_row(deal: Mapping[str, Any]) -> dict[str, Any]:
    """One exported deal flattened for a spreadsheet: nested fields get a prefix."""
    client = deal["client"] or {}
    next_step = deal["next_step"] or {}
    flat = {name: deal.get(name) for name in CSV_FIELDS}
    flat.update(
        client_name=client.get("name"),
        client_contact=client.get("contact"),
        client_phone=client.get("phone"),
        client_email=client.get("email"),
        next_step_text=next_step.get("text"),
        next_step_due=next_step.get("due"),
        history_count=len(deal["history"]),
    )
    return flat


# --- import: results and problems ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """One bad value: the row's index in the file (from 0), the field and what is wrong."""

    index: int
    field: str
    why: str

    def __str__(self) -> str:
        return f"row {self.index}, {self.field}: {self.why}"


class DealImportError(Exception):
    """The file has bad rows; nothing was written. `problems` lists every one of them."""

    def __init__(self, problems: Sequence[ImportProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__(f"{len(self.problems)} problem(s) in the file; nothing was imported")


@dataclass(frozen=True, slots=True)
class ImportReport:
    created: int
    unchanged: int
    users_created: int


Progress = Callable[[int, int], None]


# --- import: reading and checking rows -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Move:
    from_stage: str | None
    to_stage: str
    at: datetime
    by: int | None  # Telegram id
    via: str


@dataclass(frozen=True, slots=True)
class _Row:
    external_id: str
    title: str
    client: ClientKey | None
    owner: int  # Telegram id
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
    history: tuple[_Move, ...]


@dataclass
class _Context:
    """What the rows are checked against; unknown people and teams are collected here."""

    funnels: FunnelConfig
    now: datetime
    create_users: bool
    users: dict[int, int]  # Telegram id -> users.id
    teams: dict[str, int]  # name -> teams.id
    team_funnels: dict[str, str | None]  # name -> the funnel key the team chose
    new_users: dict[int, str | None] = field(default_factory=dict)  # Telegram id -> team
    new_teams: set[str] = field(default_factory=set)


class _Reader:
    """Reads one row's values, noting every problem instead of stopping at the first."""

    def __init__(self, index: int, context: _Context, problems: list[ImportProblem]) -> None:
        self.index = index
        self.context = context
        self.failed = False
        self._problems = problems

    def bad(self, name: str, why: str) -> None:
        self._problems.append(ImportProblem(self.index, name, why))
        self.failed = True

    def text(
        self, value: Any, name: str, limit: int, *, required: bool = False, missing: str = ""
    ) -> str | None:
        """A string of up to `limit` characters; blank counts as missing (`missing` says why)."""
        if value is None or (isinstance(value, str) and not value.strip()):
            if required or missing:
                self.bad(name, missing or "required")
            return None
        if not isinstance(value, str):
            self.bad(name, "expected a string")
            return None
        if len(value) > limit:
            self.bad(name, f"longer than {limit} characters")
            return None
        return value

    def moment(self, value: Any, name: str, *, required: bool, past: bool) -> datetime | None:
        """An aware time in UTC; `past` refuses times after now (history cannot be ahead)."""
        if value is None:
            if required:
                self.bad(name, "required")
            return None
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            self.bad(name, TIME_FORMAT)
            return None
        if parsed.tzinfo is None:
            self.bad(name, NO_OFFSET)
            return None
        if past and parsed > self.context.now:
            self.bad(name, f"in the future (now is {_iso(self.context.now)})")
            return None
        return parsed.astimezone(UTC)

    def person(self, value: Any, name: str, team: str | None, *, required: bool) -> int | None:
        """A Telegram id of a known user, or of one to create when creating users."""
        if value is None:
            if required:
                self.bad(name, "required")
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 0 < value <= MAX_TELEGRAM_ID
        ):
            self.bad(name, "expected a Telegram user id (a positive whole number)")
            return None
        context = self.context
        if value not in context.users:
            if not context.create_users:
                self.bad(name, f"no user with Telegram id {value}; {USE_CREATE_USERS}")
                return None
            context.new_users.setdefault(value, team)
        return value

    def stage(self, value: Any, name: str, funnel: Funnel | None, *, required: bool) -> str | None:
        if value is None:
            if required:
                self.bad(name, "required")
            return None
        if not isinstance(value, str):
            self.bad(name, "expected a stage key")
            return None
        if funnel is not None and not funnel.has_stage(value):
            known = ", ".join(stage.key for stage in funnel.stages)
            self.bad(name, f"no stage '{value}' in funnel '{funnel.key}' (stages: {known})")
            return None
        return value


def _read_rows(rows: Sequence[Any], context: _Context) -> list[_Row]:
    """Check the whole file; raise DealImportError listing every problem when any row is bad."""
    problems: list[ImportProblem] = []
    parsed: list[_Row] = []
    first_seen: dict[str, int] = {}
    for index, raw in enumerate(rows):
        reader = _Reader(index, context, problems)
        if not isinstance(raw, Mapping):
            reader.bad("row", "expected an object")
            continue
        row = _read_row(raw, reader)
        external_id = row.external_id if row else raw.get("external_id")
        if isinstance(external_id, str) and external_id.strip():
            if external_id in first_seen:
                reader.bad("external_id", f"same external_id as row {first_seen[external_id]}")
            first_seen.setdefault(external_id, index)
        if row is not None and not reader.failed:
            parsed.append(row)
    if problems:
        raise DealImportError(problems)
    return parsed


def _read_row(raw: Mapping[str, Any], r: _Reader) -> _Row | None:
    external_id = r.text(raw.get("external_id"), "external_id", 100, missing=NO_EXTERNAL_ID)
    title = r.text(raw.get("title"), "title", MAX_TITLE, required=True)
    client = _read_client(raw.get("client"), r)
    team = _read_team(raw, r)
    owner = r.person(raw.get("owner_telegram_id"), "owner_telegram_id", team, required=True)
    funnel = _read_funnel(raw.get("funnel"), team, r)
    stage = r.stage(raw.get("stage"), "stage", funnel, required=True)
    status = _read_status(raw.get("status"), funnel, stage, r)
    amount = _read_amount(raw.get("amount"), r)
    currency = _read_currency(raw.get("currency"), r)
    lost_reason = _read_lost_reason(raw.get("lost_reason"), funnel, stage, r)
    next_step = _read_next_step(raw.get("next_step"), r)
    created_at = r.moment(raw.get("created_at"), "created_at", required=True, past=True)
    history = _read_history(raw.get("history"), funnel, stage, team, r)
    if (
        r.failed or external_id is None or title is None or owner is None or funnel is None
        or stage is None or status is None or created_at is None or history is None
    ):  # fmt: skip
        return None
    return _Row(
        external_id, title, client, owner, team, funnel.key, stage, status, amount, currency,
        lost_reason, next_step[0], next_step[1], created_at, history,
    )  # fmt: skip


def _read_client(value: Any, r: _Reader) -> ClientKey | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        r.bad("client", "expected an object {name, contact, phone, email} or null")
        return None
    name = r.text(value.get("name"), "client.name", 300, required=True)
    contact = r.text(value.get("contact"), "client.contact", 200)
    phone = r.text(value.get("phone"), "client.phone", 50)
    email = r.text(value.get("email"), "client.email", 200)
    return None if name is None else (name, contact, phone, email)


def _read_team(raw: Mapping[str, Any], r: _Reader) -> str | None:
    if "team" not in raw:
        r.bad("team", "required: a team name, or null for a deal without a team")
        return None
    value = raw["team"]
    if value is None:
        return None
    name = clean_name(value, MAX_TEAM_NAME + 1) if isinstance(value, str) else ""
    if not name or len(name) > MAX_TEAM_NAME:
        r.bad("team", f"expected a team name of up to {MAX_TEAM_NAME} characters, or null")
        return None
    context = r.context
    if name not in context.teams:
        if not context.create_users:
            r.bad("team", f"no team '{name}'; {USE_CREATE_USERS}")
            return None
        context.new_teams.add(name)
    return name


def _read_funnel(value: Any, team: str | None, r: _Reader) -> Funnel | None:
    """The row's funnel; without one, the funnel its team's new deals go to."""
    funnels = r.context.funnels
    if value is None:
        return funnels.of_team(r.context.team_funnels.get(team or ""))
    if isinstance(value, str) and any(funnel.key == value for funnel in funnels.funnels):
        return funnels.funnel(value)
    known = ", ".join(funnel.key for funnel in funnels.funnels)
    r.bad("funnel", f"no funnel '{value}' (funnels: {known})")
    return None


def _read_status(value: Any, funnel: Funnel | None, stage: str | None, r: _Reader) -> str | None:
    if value is None:
        r.bad("status", "required")
        return None
    if value not in STATUSES:
        r.bad("status", "expected open, won or lost")
        return None
    if funnel is not None and stage is not None:
        expected = funnel.status_of(stage)
        if value != expected:
            r.bad("status", f"'{value}' does not match stage '{stage}', which is '{expected}'")
            return None
    return str(value)


def _read_amount(value: Any, r: _Reader) -> Decimal | None:
    if value is None:
        return None
    try:
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            raise InvalidOperation
        amount = Decimal(str(value).strip())
        if not amount.is_finite() or not 0 <= amount <= MAX_AMOUNT:
            raise InvalidOperation
        if amount != amount.quantize(CENT):
            raise InvalidOperation
    except InvalidOperation:
        r.bad("amount", 'expected a non-negative amount with at most 2 decimals, e.g. "150000.00"')
        return None
    return amount.quantize(CENT)


def _read_currency(value: Any, r: _Reader) -> str:
    if value is None:
        return DEFAULT_CURRENCY
    if not isinstance(value, str) or not CURRENCY.fullmatch(value):
        r.bad("currency", "expected a three-letter code such as RUB")
    return str(value)


def _read_lost_reason(
    value: Any, funnel: Funnel | None, stage: str | None, r: _Reader
) -> str | None:
    if value is None:
        return None
    reasons = r.context.funnels
    if not isinstance(value, str) or reasons.lost_reason(value) is None:
        known = ", ".join(reason.key for reason in reasons.lost_reasons)
        r.bad("lost_reason", f"unknown lost reason (known: {known})")
        return None
    if funnel is not None and stage is not None and not funnel.stage(stage).lost:
        r.bad("lost_reason", f"only a lost deal has a lost reason; stage '{stage}' is not lost")
        return None
    return value


def _read_next_step(value: Any, r: _Reader) -> tuple[str | None, datetime | None]:
    if value is None:
        return None, None
    if not isinstance(value, Mapping):
        r.bad("next_step", "expected an object {text, due} or null")
        return None, None
    text = r.text(value.get("text"), "next_step.text", 500)
    due = r.moment(value.get("due"), "next_step.due", required=False, past=False)
    return text, due


def _read_history(
    value: Any, funnel: Funnel | None, stage: str | None, team: str | None, r: _Reader
) -> tuple[_Move, ...] | None:
    if not isinstance(value, list):
        r.bad(
            "history", "required: a list of moves {from, to, at, by_telegram_id, via}, oldest first"
        )
        return None
    moves: list[_Move] = []
    for number, entry in enumerate(value):
        move = _read_move(entry, f"history[{number}]", funnel, team, r)
        if move is not None:
            if moves and move.at < moves[-1].at:
                r.bad(f"history[{number}].at", "earlier than the move before; list oldest first")
            moves.append(move)
    if value and stage is not None and isinstance(value[-1], Mapping):
        last = value[-1].get("to")
        if isinstance(last, str) and last != stage:
            r.bad(f"history[{len(value) - 1}].to", f"the last move must end in stage '{stage}'")
    return tuple(moves)


def _read_move(
    entry: Any, name: str, funnel: Funnel | None, team: str | None, r: _Reader
) -> _Move | None:
    if not isinstance(entry, Mapping):
        r.bad(name, "expected an object {from, to, at, by_telegram_id, via}")
        return None
    source = r.stage(entry.get("from"), f"{name}.from", funnel, required=False)
    target = r.stage(entry.get("to"), f"{name}.to", funnel, required=True)
    at = r.moment(entry.get("at"), f"{name}.at", required=True, past=True)
    by = r.person(entry.get("by_telegram_id"), f"{name}.by_telegram_id", team, required=False)
    via = r.text(entry.get("via"), f"{name}.via", 20) or Via.IMPORT
    if target is None or at is None:
        return None
    return _Move(source, target, at, by, via)


# --- import: writing -------------------------------------------------------------------------


def _clients_of(rows: Sequence[_Row], known: Mapping[ClientKey, int]) -> dict[ClientKey, datetime]:
    """The rows' clients the database lacks, each created when its first deal was."""
    wanted: dict[ClientKey, datetime] = {}
    for row in rows:
        if row.client is not None and row.client not in known:
            wanted.setdefault(row.client, row.created_at)
    return wanted


def _new_deal(row: _Row, context: _Context, clients: Mapping[ClientKey, int]) -> NewDeal:
    return NewDeal(
        row.external_id, row.title, clients[row.client] if row.client else None,
        context.users[row.owner], context.teams[row.team] if row.team else None, row.funnel,
        row.stage, row.status, row.amount, row.currency, row.lost_reason, row.next_step_text,
        row.next_step_due, row.created_at, row.history[-1].at if row.history else row.created_at,
    )  # fmt: skip


def _new_moves(rows: Sequence[_Row], users: Mapping[int, int]) -> list[NewMove]:
    moves = []
    for row in rows:
        last = len(row.history) - 1
        for index, move in enumerate(row.history):
            # The file keeps one lost reason per deal: it belongs to the move that lost it.
            reason = row.lost_reason if index == last and row.lost_reason else None
            by_id = None if move.by is None else users[move.by]
            moves.append(
                NewMove(row.external_id, move.from_stage, move.to_stage, move.at, by_id,
                        move.via, reason)
            )  # fmt: skip
    return moves


__all__: Sequence[str] = (
    "CSV_FIELDS",
    "DealImportError",
    "DealTransfer",
    "ImportProblem",
    "ImportReport",
    "csv_row",
)
