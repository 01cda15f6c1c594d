"""Export and import of deals with their history and notes, and of the teams and people behind
them: to move data in from and out to other CRMs, or from one Voronka to another.

The file is one JSON object: {"format": "voronka-deals", "version": 2, "teams": [...],
"people": [...], "deals": [...]}, a deal per line (fields in `export_deals`); exporting,
importing into an empty database and exporting again gives the same file. An import is
keyed by `external_id`: a deal whose `external_id` is already in the database is skipped,
so running the same file again changes nothing and an interrupted import resumes where it
stopped. For the same reason the export first gives deals made in the bot a permanent
`external_id`. Teams and people the database has already are left as they are: it knows
better who leads whom today. Files of earlier versions (a bare array of deals) still import.
"""

from __future__ import annotations

import json
from collections import ChainMap
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TextIO

from bot.common.clock import Clock
from bot.common.money import KOPECK
from bot.common.sheets import CsvWriter
from bot.deals.funnel import FunnelConfig
from bot.deals.import_file import (
    FILE_FORMAT,
    FILE_VERSION,
    ImportContext,
    ImportedDeal,
    read_file,
)
from bot.deals.import_store import (
    ClientKey,
    ImportStore,
    NewDeal,
    NewMove,
    NewNote,
    PersonRecord,
    StoredDeal,
    StoredMove,
    StoredNote,
    TeamRecord,
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
    "next_step_done",
    "lost_comment",
    "notes_count",
)


@dataclass(frozen=True, slots=True)
class Export:
    """What one export reads in one snapshot: the teams and people, then the deals streamed."""

    teams: list[dict[str, Any]]
    people: list[dict[str, Any]]
    deals: AsyncIterator[dict[str, Any]]


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

    @asynccontextmanager
    async def exporting(self, *, batch_size: int = EXPORT_BATCH) -> AsyncIterator[Export]:
        """The teams, the people and every deal, all read in one snapshot.

        Teams: {name, funnel, group_chat_id}; people: {telegram_id, name, username, role,
        team, language, active}, both in the order they were made. Deals, oldest id first,
        read in batches so 100k deals never sit in memory at once: id, external_id, title,
        client {name, contact, phone, email} or null, owner_telegram_id, team, funnel, stage,
        status, amount ("150000.00" or null), currency, lost_reason, next_step {text, due,
        done} or null (done: its time came and the bot asked how it went), created_at,
        history [{from, to, at, by_telegram_id, via, lost_reason, comment, owner_telegram_id}]
        (owner: whose deal it was then) and notes [{text, at, by_telegram_id}], both oldest
        first. Times are ISO 8601 in UTC.

        Deals made in the bot first get a permanent external_id: an import is keyed by it, so
        without one a file could not be imported at all, and importing it back here would
        duplicate the deals. A random id never collides with the ids of deals exported from
        another Voronka and merged into this one.
        """
        async with self.store.transaction() as session:
            await self.store.stamp_external_ids(session)
        async with self.store.snapshot() as session:
            teams = [t._asdict() for t in await self.store.team_records(session)]
            people = [p._asdict() for p in await self.store.person_records(session)]
            async with aclosing(self._deals(session, batch_size)) as deals:
                yield Export(teams, people, deals)

    async def _deals(self, session: Any, batch_size: int) -> AsyncGenerator[dict[str, Any], None]:
        async with aclosing(self.store.deal_batches(session, batch_size)) as batches:
            async for batch in batches:
                for deal in batch.deals:
                    yield _deal_record(
                        deal, batch.history.get(deal.id, ()), batch.notes.get(deal.id, ())
                    )

    async def export_deals(
        self, *, batch_size: int = EXPORT_BATCH
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Every deal as `exporting` gives them, without the teams and people."""
        async with self.exporting(batch_size=batch_size) as export:
            async for deal in export.deals:
                yield deal

    async def write_json(self, out: TextIO) -> int:
        """Write the file, a team, person or deal per line, as it is read; returns the deals."""
        async with self.exporting() as export:
            out.write(f'{{"format": "{FILE_FORMAT}", "version": {FILE_VERSION},\n')
            _write_list(out, "teams", export.teams)
            out.write(",\n")
            _write_list(out, "people", export.people)
            out.write(",\n")
            count = await _write_deals(out, export.deals)
            out.write("}\n")
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
        rows: Sequence[Any] | Mapping[str, Any],
        *,
        create_users: bool = False,
        progress: Progress | None = None,
        batch_size: int = IMPORT_BATCH,
    ) -> ImportReport:
        """Import deals in the export format; the whole file is checked before anything is written.

        `rows` is the file as read: an object in the export format, or an array of deals as
        files before version 2 are. A bad file raises `InvalidFile` listing every problem
        (`bot.deals.import_file`).

        Each batch of deals is one transaction with the deals' history and notes, so an
        interrupted import leaves whole batches behind and a re-run skips them by external_id.
        """
        context = await self._load_context(create_users)
        file = read_file(rows, context)
        parsed = file.deals
        users_created = await self._create_people(context, file.teams, file.people)
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

    async def _create_people(
        self, context: ImportContext, teams: Sequence[TeamRecord], people: Sequence[PersonRecord]
    ) -> int:
        """Create the teams and people the database lacks, in one transaction: as the file
        describes them, and those it only names (by a deal) bare, people as managers of the
        deal's team. Returns how many people were made."""
        bare_teams = [TeamRecord(name, None, None) for name in sorted(context.new_teams)]
        bare_people = [
            PersonRecord(telegram_id, str(telegram_id), None, Role.MANAGER.value, team, "ru", True)
            for telegram_id, team in context.new_users.items()
        ]
        if not (teams or bare_teams or people or bare_people):
            return 0
        store = self.store
        async with store.transaction() as session:  # someone may have registered meanwhile
            context.teams.update({team.name: team.id for team in await store.teams(session)})
            wanted = [person.telegram_id for person in (*people, *bare_people)]
            context.users.update(await store.users(session, wanted))
            new_teams = [t for t in (*teams, *bare_teams) if t.name not in context.teams]
            context.teams.update(await store.insert_teams(session, new_teams, self.clock()))
            new_people = [p for p in (*people, *bare_people) if p.telegram_id not in context.users]
            made = await store.insert_people(session, new_people, context.teams, self.clock())
        context.users.update(made)
        self.people.forget()
        return len(made)

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
            await store.insert_notes(session, _new_notes(fresh, context.users), deal_ids)
        clients.update(new_clients)  # only once committed
        self.written()
        return len(fresh)


def _write_list(out: TextIO, key: str, items: Sequence[dict[str, Any]]) -> None:
    out.write(f'"{key}": [')
    for index, item in enumerate(items):
        out.write(",\n" if index else "\n")
        out.write(json.dumps(item, ensure_ascii=False))
    out.write("\n]" if items else "]")


async def _write_deals(out: TextIO, deals: AsyncIterator[dict[str, Any]]) -> int:
    count = 0
    out.write('"deals": [')
    async for deal in deals:
        out.write(",\n" if count else "\n")
        out.write(json.dumps(deal, ensure_ascii=False))
        count += 1
    out.write("\n]" if count else "]")
    return count


def _deal_record(
    deal: StoredDeal, history: Sequence[StoredMove], notes: Sequence[StoredNote]
) -> dict[str, Any]:
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
        done = deal.next_step_due is not None and deal.followup_asked_for == deal.next_step_due
        next_step = {"text": deal.next_step_text, "due": _iso(deal.next_step_due), "done": done}
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
                "lost_reason": move.lost_reason,
                "comment": move.comment,
                "owner_telegram_id": move.owner_telegram_id,
            }
            for move in history
        ],
        "notes": [
            {"text": note.text, "at": _iso(note.at), "by_telegram_id": note.by_telegram_id}
            for note in notes
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
        next_step_done=next_step.get("done"),
        lost_comment=_lost_comment(deal),
        notes_count=len(deal["notes"]),
    )
    return flat


def _lost_comment(deal: Mapping[str, Any]) -> str | None:
    """What was said when the deal was lost: the comment of its last move, into a lost stage."""
    if deal["status"] != "lost" or not deal["history"]:
        return None
    comment: str | None = deal["history"][-1]["comment"]
    return comment


# --- import: results -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportReport:
    created: int
    unchanged: int
    users_created: int  # people made, as the file describes them or as managers


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
        row.next_step_text, row.next_step_due,
        row.next_step_due if row.next_step_done else None, row.created_at,
        row.history[-1].at if row.history else row.created_at,
    )  # fmt: skip


def _new_moves(rows: Sequence[ImportedDeal], users: Mapping[int, int]) -> Iterator[NewMove]:
    """The rows' moves one at a time: a batch holds a hundred thousand, and each one freed as
    soon as the store has read it spares the garbage collector the whole list."""
    for row in rows:
        for move in row.history:
            by_id = None if move.by_telegram_id is None else users[move.by_telegram_id]
            owner = move.owner_telegram_id
            yield NewMove(
                row.external_id, move.from_stage, move.to_stage, move.at, by_id, move.via,
                move.lost_reason, move.comment, None if owner is None else users[owner],
            )  # fmt: skip


def _new_notes(rows: Sequence[ImportedDeal], users: Mapping[int, int]) -> Iterator[NewNote]:
    for row in rows:
        for note in row.notes:
            by_id = None if note.by_telegram_id is None else users[note.by_telegram_id]
            yield NewNote(row.external_id, note.text, note.at, by_id)


__all__: Sequence[str] = (
    "CSV_FIELDS",
    "DealTransfer",
    "Export",
    "ImportReport",
    "csv_row",
)
