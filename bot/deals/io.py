"""Export and import of deals with their stage history, to move data in from and out to other CRMs.

One deal is one JSON object (fields in `export_deals`). An import is keyed by `external_id`:
a deal whose `external_id` is already in the database is skipped, so running the same file
again changes nothing and an interrupted import resumes where it stopped. For the same
reason the export first gives deals made in the bot a permanent `external_id`.
"""

from __future__ import annotations

import json
from collections import ChainMap
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TextIO

from bot.common.clock import Clock
from bot.common.money import KOPECK
from bot.common.sheets import CsvWriter
from bot.deals.funnel import FunnelConfig
from bot.deals.import_file import ImportContext, ImportedDeal, read_rows
from bot.deals.import_store import (
    ClientKey,
    ImportStore,
    NewDeal,
    NewMove,
    StoredDeal,
    StoredMove,
)
from bot.people.service import PeopleService, Role

EXPORT_BATCH = 1000
IMPORT_BATCH = 2000

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
        """Write a header and one row per deal (empty cells for nulls); returns how many.

        Text goes through `bot.common.sheets`, so a title or name that a spreadsheet would read
        as a formula is written as text (the JSON export keeps it as it is).
        """
        writer = CsvWriter(out)
        writer.writerow(CSV_FIELDS)
        count = 0
        async with aclosing(self.export_deals()) as deals:
            async for deal in deals:
                row = csv_row(deal)
                writer.writerow(row[name] for name in CSV_FIELDS)
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

        A bad file raises `InvalidFile` listing every problem (`bot.deals.import_file`).

        Each batch of deals is one transaction with the deals' history, so an interrupted import
        leaves whole batches behind and a re-run skips them by external_id.
        """
        context = await self._load_context(create_users)
        parsed = read_rows(rows, context)
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

    async def _load_context(self, create_users: bool) -> ImportContext:
        async with self.store.transaction() as session:
            users = await self.store.users(session)
            teams = await self.store.teams(session)
        return ImportContext(
            self.funnels, self.clock(), create_users, users,
            {team.name: team.id for team in teams}, {team.name: team.funnel for team in teams},
        )  # fmt: skip

    async def _create_people(self, context: ImportContext) -> int:
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
        self, batch: Sequence[ImportedDeal], context: ImportContext, clients: dict[ClientKey, int]
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
        "amount": None if deal.amount is None else str(Decimal(deal.amount).quantize(KOPECK)),
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
    """One exported deal flattened for a spreadsheet: nested fields get a prefix.

    The amount, a string in JSON so that it stays exact, is a number here: a spreadsheet
    should sum it, and text starting with `-` would be escaped as a formula.
    """
    client = deal["client"] or {}
    next_step = deal["next_step"] or {}
    flat = {name: deal.get(name) for name in CSV_FIELDS}
    flat.update(
        amount=None if deal["amount"] is None else Decimal(deal["amount"]),
        client_name=client.get("name"),
        client_contact=client.get("contact"),
        client_phone=client.get("phone"),
        client_email=client.get("email"),
        next_step_text=next_step.get("text"),
        next_step_due=next_step.get("due"),
        history_count=len(deal["history"]),
    )
    return flat


# --- import: results -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportReport:
    created: int
    unchanged: int
    users_created: int


Progress = Callable[[int, int], None]


# --- import: writing -------------------------------------------------------------------------


def _clients_of(
    rows: Sequence[ImportedDeal], known: Mapping[ClientKey, int]
) -> dict[ClientKey, datetime]:
    """The rows' clients the database lacks, each created when its first deal was."""
    wanted: dict[ClientKey, datetime] = {}
    for row in rows:
        if row.client is not None and row.client not in known:
            wanted.setdefault(row.client, row.created_at)
    return wanted


def _new_deal(
    row: ImportedDeal, context: ImportContext, clients: Mapping[ClientKey, int]
) -> NewDeal:
    return NewDeal(
        row.external_id, row.title, clients[row.client] if row.client else None,
        context.users[row.owner_telegram_id], context.teams[row.team] if row.team else None,
        row.funnel, row.stage, row.status, row.amount, row.currency, row.lost_reason,
        row.next_step_text, row.next_step_due, row.created_at,
        row.history[-1].at if row.history else row.created_at,
    )  # fmt: skip


def _new_moves(rows: Sequence[ImportedDeal], users: Mapping[int, int]) -> Iterator[NewMove]:
    """The rows' moves one at a time: a batch holds a hundred thousand, and each one freed as
    soon as the store has read it spares the garbage collector the whole list."""
    for row in rows:
        last = len(row.history) - 1
        for index, move in enumerate(row.history):
            # The file keeps one lost reason per deal: it belongs to the move that lost it.
            reason = row.lost_reason if index == last and row.lost_reason else None
            by_id = None if move.by_telegram_id is None else users[move.by_telegram_id]
            yield NewMove(
                row.external_id, move.from_stage, move.to_stage, move.at, by_id, move.via, reason
            )


__all__: Sequence[str] = (
    "CSV_FIELDS",
    "DealTransfer",
    "ImportReport",
    "csv_row",
)
