"""Deals export and import on SQLite and PostgreSQL, through the core and through the CLI.

The file carries the teams, the people (role, team, active) and every deal with its history
(lost reasons and comments), next step and notes; exporting, importing into an empty database
and exporting again gives the same file, byte for byte.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from copy import deepcopy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli import main
from bot.common.clock import FrozenClock
from bot.common.errors import InvalidFile, Unavailable
from bot.container import Core
from bot.db.models import Base, Client, Deal, StageTransition, Team
from bot.db.session import transaction
from bot.deals.cli import deal_transfer
from bot.deals.import_store import ImportStore, NewMove
from bot.deals.io import CSV_FIELDS, DealTransfer, ImportReport
from bot.deals.service import Via
from bot.people.service import Person, Role

STAMP = re.compile(r"voronka-[0-9a-f]{32}")


async def _export(core: Core) -> list[dict[str, Any]]:
    return [deal async for deal in deal_transfer(core).export_deals()]


async def import_deals(core: Core, rows: list[Any], **options: Any) -> ImportReport:
    return await deal_transfer(core).import_deals(rows, **options)


async def _count(core: Core, model: type[Base]) -> int:
    async with transaction(core.db) as session:
        return (await session.scalar(select(func.count()).select_from(model))) or 0


async def _wipe(core: Core) -> None:
    """Empty the database as a new one is: on PostgreSQL the ids start again at 1 too (on
    SQLite they do once the tables are empty)."""
    async with transaction(core.db) as session:
        if core.engine.dialect.name == "postgresql":
            tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
            await session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            return
        for table in reversed(Base.metadata.sorted_tables):
            await session.execute(delete(table))


async def _made_in_the_bot(core: Core, clock: FrozenClock) -> tuple[Person, int, int]:
    """Anna's two deals: one moved twice with a client, a next step and a note; one lost."""
    anna = await core.people.ensure_person(3, "Анна", Role.MANAGER, "Урал")
    lead = await core.people.ensure_person(4, "Лида", Role.LEAD, "Урал")
    first = await core.deals.create(
        anna, "Стеллажи на 400 паллет", amount=Decimal("150000"), client="ООО «Ромашка»",
        contact="Иван Петров", phone="+7 900 111-22-33",
        next_step=("Позвонить после КП", clock.now.replace(day=2, month=12)),
    )  # fmt: skip
    second = await core.deals.create(anna, "Мезонин")
    clock.advance(hours=1)
    await core.deals.move(anna, first.id, "qualification", via=Via.BUTTON)
    clock.advance(hours=2)
    await core.deals.move(lead, first.id, "needs", via=Via.TEXT)
    await core.deals.add_note(anna, first.id, "Просили скидку")
    clock.advance(minutes=30)
    await core.deals.move(
        anna, second.id, "lost", via=Via.BUTTON, lost_reason="price", comment="Ушли к «Альфе»"
    )
    return anna, first.id, second.id


async def _a_team_at_work(core: Core, clock: FrozenClock) -> None:
    """Anna's deals, plus what a team is besides them: an admin, a lead's note, a step done,
    a manager deactivated, a team with its own funnel chat and an English-speaking manager."""
    admin = await core.people.ensure_person(1, "Админ", Role.ADMIN, None)
    _, first_id, _ = await _made_in_the_bot(core, clock)
    lead = await core.people.ensure_person(4, "Лида", Role.LEAD, "Урал")
    await core.deals.add_note(lead, first_id, "Перезвонить до пятницы")
    deal = await core.deals.card(lead, first_id)
    assert deal.next_step_due is not None
    await core.deals.followup_asked(first_id, deal.next_step_due)
    gone = await core.people.ensure_person(5, "Борис Уволенный", Role.MANAGER, "Урал")
    await core.people.set_active(admin, gone.id, False)
    await core.people.ensure_person(6, "John", Role.MANAGER, "Export", language="en")
    async with transaction(core.db) as session:  # as /team_funnel and the group binding do
        await session.execute(
            update(Team).where(Team.name == "Export").values(funnel="repeat", group_chat_id=-1001)
        )


def _row(external_id: str, **changes: Any) -> dict[str, Any]:
    """A valid import row owned by Telegram id 3 in team Урал, lost after two moves."""
    row: dict[str, Any] = {
        "external_id": external_id,
        "title": "Склад в Тюмени",
        "client": {"name": "ООО «Вектор»", "contact": None, "phone": None, "email": "a@b.ru"},
        "owner_telegram_id": 3,
        "team": "Урал",
        "funnel": "b2b",
        "stage": "lost",
        "status": "lost",
        "amount": "99000.50",
        "currency": "RUB",
        "lost_reason": "competitor",
        "next_step": None,
        "created_at": "2026-10-01T09:00:00+03:00",
        "history": [
            {"from": None, "to": "lead", "at": "2026-10-01T06:00:00Z", "by_telegram_id": 3,
             "via": "create"},
            {"from": "lead", "to": "offer", "at": "2026-10-05T06:00:00+00:00",
             "by_telegram_id": None},
            {"from": "offer", "to": "lost", "at": "2026-10-20T06:00:00+00:00",
             "by_telegram_id": 3, "via": "button"},
        ],
    }  # fmt: skip
    row.update(changes)
    return row


def _open_row(external_id: str, **changes: Any) -> dict[str, Any]:
    row = _row(external_id, stage="offer", status="open", lost_reason=None)
    row["history"] = row["history"][:2]
    row["next_step"] = {"text": "Встреча", "due": "2026-12-10T07:00:00+00:00"}
    row.update(changes)
    return row


# --- export ---------------------------------------------------------------------------------


async def test_export_gives_every_field_of_a_deal_and_its_history(
    any_core: Core, clock: FrozenClock
) -> None:
    _, first_id, second_id = await _made_in_the_bot(any_core, clock)
    first, second = await _export(any_core)
    assert STAMP.fullmatch(first.pop("external_id"))
    assert first == {
        "id": first_id,
        "title": "Стеллажи на 400 паллет",
        "client": {
            "name": "ООО «Ромашка»",
            "contact": "Иван Петров",
            "phone": "+7 900 111-22-33",
            "email": None,
        },
        "owner_telegram_id": 3,
        "team": "Урал",
        "funnel": "b2b",
        "stage": "needs",
        "status": "open",
        "amount": "150000.00",
        "currency": "RUB",
        "lost_reason": None,
        "next_step": {
            "text": "Позвонить после КП", "due": "2026-12-02T07:00:00+00:00", "done": False
        },
        "created_at": "2026-11-30T07:00:00+00:00",
        "history": [
            {"from": None, "to": "lead", "at": "2026-11-30T07:00:00+00:00",
             "by_telegram_id": 3, "via": "create", "lost_reason": None, "comment": None,
             "owner_telegram_id": 3},
            {"from": "lead", "to": "qualification", "at": "2026-11-30T08:00:00+00:00",
             "by_telegram_id": 3, "via": "button", "lost_reason": None, "comment": None,
             "owner_telegram_id": 3},
            # The lead (4) moved the manager's (3) deal: the move stays the manager's.
            {"from": "qualification", "to": "needs", "at": "2026-11-30T10:00:00+00:00",
             "by_telegram_id": 4, "via": "text", "lost_reason": None, "comment": None,
             "owner_telegram_id": 3},
        ],
        "notes": [
            {"text": "Просили скидку", "at": "2026-11-30T10:00:00+00:00", "by_telegram_id": 3},
        ],
    }  # fmt: skip
    assert list(second) == [
        "id", "external_id", "title", "client", "owner_telegram_id", "team", "funnel", "stage",
        "status", "amount", "currency", "lost_reason", "next_step", "created_at", "history",
        "notes",
    ]  # fmt: skip
    assert second["id"] == second_id
    assert second["client"] is second["amount"] is second["next_step"] is None
    assert (second["stage"], second["status"], second["lost_reason"]) == ("lost", "lost", "price")
    assert [(m["from"], m["to"], m["at"]) for m in second["history"]] == [
        (None, "lead", "2026-11-30T07:00:00+00:00"),
        ("lead", "lost", "2026-11-30T10:30:00+00:00"),
    ]
    assert second["history"][-1]["lost_reason"] == "price"
    assert second["history"][-1]["comment"] == "Ушли к «Альфе»"
    assert second["notes"] == []


async def test_the_file_names_the_teams_and_people_with_their_role_and_state(
    any_core: Core, clock: FrozenClock
) -> None:
    await _a_team_at_work(any_core, clock)
    text = io.StringIO()
    assert await deal_transfer(any_core).write_json(text) == 2
    file = json.loads(text.getvalue())
    assert list(file) == ["format", "version", "teams", "people", "deals"]
    assert (file["format"], file["version"]) == ("voronka-deals", 2)
    assert file["teams"] == [
        {"name": "Урал", "funnel": None, "group_chat_id": None},
        {"name": "Export", "funnel": "repeat", "group_chat_id": -1001},
    ]
    assert [(p["telegram_id"], p["name"], p["role"], p["team"], p["language"], p["active"])
            for p in file["people"]] == [
        (1, "Админ", "admin", None, "ru", True),
        (3, "Анна", "manager", "Урал", "ru", True),
        (4, "Лида", "lead", "Урал", "ru", True),
        (5, "Борис Уволенный", "manager", "Урал", "ru", False),
        (6, "John", "manager", "Export", "en", True),
    ]  # fmt: skip
    first, _ = file["deals"]
    assert first["next_step"]["done"] is True  # the bot has asked how it went
    assert [(n["text"], n["by_telegram_id"]) for n in first["notes"]] == [
        ("Просили скидку", 3),
        ("Перезвонить до пятницы", 4),
    ]


async def test_a_deal_keeps_its_stamped_external_id_from_one_export_to_the_next(
    any_core: Core, clock: FrozenClock
) -> None:
    await _made_in_the_bot(any_core, clock)
    first = [deal["external_id"] for deal in await _export(any_core)]
    assert [deal["external_id"] for deal in await _export(any_core)] == first
    assert len(set(first)) == 2


async def test_json_and_csv_writers_give_the_same_deals(any_core: Core, clock: FrozenClock) -> None:
    await _made_in_the_bot(any_core, clock)
    deals = await _export(any_core)
    text = io.StringIO()
    assert await deal_transfer(any_core).write_json(text) == 2
    assert json.loads(text.getvalue())["deals"] == deals
    assert "ООО «Ромашка»" in text.getvalue()  # UTF-8, not \\u escapes
    table = io.StringIO()
    assert await deal_transfer(any_core).write_csv(table) == 2
    reader = csv.DictReader(io.StringIO(table.getvalue()))
    assert tuple(reader.fieldnames or ()) == CSV_FIELDS
    first, second = list(reader)
    # A leading + is escaped like the start of a formula (tests/test_safe_exports.py).
    assert first == {
        "id": str(deals[0]["id"]), "external_id": deals[0]["external_id"],
        "title": "Стеллажи на 400 паллет", "client_name": "ООО «Ромашка»",
        "client_contact": "Иван Петров", "client_phone": "'+7 900 111-22-33", "client_email": "",
        "owner_telegram_id": "3", "team": "Урал", "funnel": "b2b", "stage": "needs",
        "status": "open", "amount": "150000.00", "currency": "RUB", "lost_reason": "",
        "next_step_text": "Позвонить после КП", "next_step_due": "2026-12-02T07:00:00+00:00",
        "created_at": "2026-11-30T07:00:00+00:00", "history_count": "3",
        "next_step_done": "False", "lost_comment": "", "notes_count": "1",
    }  # fmt: skip
    assert [second[k] for k in ("client_name", "lost_reason", "history_count", "lost_comment")] == [
        "",
        "price",
        "2",
        "Ушли к «Альфе»",
    ]


async def test_an_empty_database_exports_a_file_without_deals(any_core: Core) -> None:
    text = io.StringIO()
    assert await deal_transfer(any_core).write_json(text) == 0
    assert json.loads(text.getvalue()) == {
        "format": "voronka-deals", "version": 2, "teams": [], "people": [], "deals": []
    }  # fmt: skip


# --- import ---------------------------------------------------------------------------------


async def test_import_creates_deals_with_their_history(any_core: Core) -> None:
    await any_core.people.ensure_person(3, "Анна", Role.MANAGER, "Урал")
    rows = [_row("crm-1"), _open_row("crm-2", client=None, amount=12000)]
    done: list[tuple[int, int]] = []
    report = await import_deals(
        any_core, rows, progress=lambda d, t: done.append((d, t)), batch_size=1
    )
    assert report == ImportReport(created=2, unchanged=0, users_created=0)
    assert done == [(1, 2), (2, 2)]
    lost, open_ = await _export(any_core)
    assert lost["amount"] == "99000.50" and lost["created_at"] == "2026-10-01T06:00:00+00:00"
    assert lost["client"] == rows[0]["client"] and lost["lost_reason"] == "competitor"
    assert [(m["from"], m["to"], m["by_telegram_id"], m["via"]) for m in lost["history"]] == [
        (None, "lead", 3, "create"),
        ("lead", "offer", None, "import"),
        ("offer", "lost", 3, "button"),
    ]
    # A file before version 2 keeps the lost reason on the deal: the move that lost it has it.
    assert [m["lost_reason"] for m in lost["history"]] == [None, None, "competitor"]
    assert open_["amount"] == "12000.00"
    assert open_["next_step"] == {**rows[1]["next_step"], "done": False}
    async with transaction(any_core.db) as session:
        deal = await session.scalar(select(Deal).where(Deal.external_id == "crm-1"))
    assert deal is not None and deal.version == 1
    assert deal.stage_changed_at.isoformat() == deal.updated_at.isoformat()
    assert deal.stage_changed_at.isoformat() == "2026-10-20T06:00:00+00:00"


async def test_importing_the_same_file_twice_changes_nothing(any_core: Core) -> None:
    await any_core.people.ensure_person(3, "Анна", Role.MANAGER, "Урал")
    rows = [_row("crm-1"), _open_row("crm-2"), _open_row("crm-3", client=None)]
    assert (await import_deals(any_core, rows)).created == 3
    before = await _export(any_core)
    counts = [await _count(any_core, model) for model in (Deal, StageTransition, Client)]
    again = await import_deals(any_core, rows)
    assert again == ImportReport(created=0, unchanged=3, users_created=0)
    assert await _export(any_core) == before
    assert [await _count(any_core, m) for m in (Deal, StageTransition, Client)] == counts
    assert counts == [3, 7, 1]  # one client row for the two deals of ООО «Вектор»


class _FailingSecondBatch(ImportStore):
    """A database that goes away while the second batch's history is written."""

    calls = 0

    async def insert_history(
        self, session: AsyncSession, moves: Iterable[NewMove], deal_ids: Mapping[str, int]
    ) -> None:
        self.calls += 1
        if self.calls == 2:
            raise ConnectionError("the database went away")
        await super().insert_history(session, moves, deal_ids)


async def test_an_interrupted_import_leaves_whole_batches_and_resumes(any_core: Core) -> None:
    await any_core.people.ensure_person(3, "Анна", Role.MANAGER, "Урал")
    rows = [_open_row(f"crm-{n}") for n in range(3)]
    failing = DealTransfer(
        _FailingSecondBatch(any_core.db), any_core.funnels, any_core.people, clock=any_core.clock
    )
    with pytest.raises(Unavailable):  # an outage, told as such to whoever runs the import
        await failing.import_deals(rows, batch_size=2)
    assert (await _count(any_core, Deal), await _count(any_core, StageTransition)) == (2, 4)
    assert await import_deals(any_core, rows, batch_size=2) == ImportReport(1, 2, 0)
    assert await _count(any_core, StageTransition) == 6


async def test_every_bad_row_is_reported_and_nothing_is_written(any_core: Core) -> None:
    await any_core.people.ensure_person(3, "Анна", Role.MANAGER, "Урал")
    naive = _row("crm-6")
    naive["history"] = deepcopy(naive["history"])
    naive["history"][1]["at"] = "2026-10-05T06:00:00"
    rows: list[Any] = [
        _row("crm-0"),  # good, but not written because others are bad
        _row("crm-1", title="  "),
        _row("crm-2", stage="nowhere"),
        _row("crm-3", status="open"),
        _row("crm-4", amount="-5", currency="рубли"),
        _row("crm-5", created_at="2026-10-01 09:00"),
        naive,
        _row("crm-0"),
        _row(None),  # type: ignore[arg-type]
        _open_row("crm-9", stage="negotiation"),
        _row("crm-10", lost_reason="moon"),
        _open_row("crm-11", lost_reason="price", owner_telegram_id=999, team="Марс"),
        "not a deal",
        {key: value for key, value in _row("crm-13").items() if key not in ("team", "history")},
    ]
    with pytest.raises(InvalidFile) as error:
        await import_deals(any_core, rows)
    found = [(p.row, p.field) for p in error.value.problems]
    assert found == [
        (2, "title"),
        (3, "stage"),
        (4, "status"),
        (5, "amount"),
        (5, "currency"),
        (6, "created_at"),
        (7, "history[1].at"),
        (8, "external_id"),
        (9, "external_id"),
        (10, "history[1].to"),
        (11, "lost_reason"),
        (12, "team"),
        (12, "owner_telegram_id"),
        (12, "lost_reason"),
        (13, "row"),
        (14, "team"),
        (14, "history"),
    ]
    why = {(p.row, p.field): p.why for p in error.value.problems}
    assert "same external_id as row 1" in why[8, "external_id"]  # rows count from 1
    assert "importing the file again changes nothing" in why[9, "external_id"]
    assert "offset" in why[7, "history[1].at"] and "offset" in why[6, "created_at"]
    assert "--create-users" in why[12, "owner_telegram_id"]
    assert str(error.value.problems[0]) == "row 2, title: required"
    assert await _count(any_core, Deal) == 0 and await _count(any_core, StageTransition) == 0


async def test_a_move_in_the_future_is_an_error(any_core: Core, clock: FrozenClock) -> None:
    await any_core.people.ensure_person(3, "Анна", Role.MANAGER, "Урал")
    row = _open_row("crm-1")
    row["history"][1] = {**row["history"][1], "at": "2026-11-30T07:00:01+00:00"}
    assert clock.now.isoformat() == "2026-11-30T07:00:00+00:00"
    with pytest.raises(InvalidFile) as error:
        await import_deals(any_core, [row])
    (problem,) = error.value.problems
    assert (problem.row, problem.field) == (1, "history[1].at")
    assert problem.why.startswith("in the future")
    clock.advance(seconds=1)
    assert (await import_deals(any_core, [row])).created == 1


async def test_create_users_makes_unknown_owners_managers_of_the_team(any_core: Core) -> None:
    row = _open_row("crm-1", owner_telegram_id=777, team="Юг")
    row["history"][1] = {**row["history"][1], "by_telegram_id": 778}
    with pytest.raises(InvalidFile) as error:
        await import_deals(any_core, [row])
    assert {p.field for p in error.value.problems} == {
        "team", "owner_telegram_id", "history[0].by_telegram_id", "history[1].by_telegram_id"
    }  # fmt: skip
    report = await import_deals(any_core, [row], create_users=True)
    assert report == ImportReport(created=1, unchanged=0, users_created=3)  # 777, 778 and 3
    people = {p.telegram_id: p for p in await any_core.people.people_of()}
    assert {(p.role, p.team_name) for p in people.values()} == {(Role.MANAGER, "Юг")}
    assert set(people) == {3, 777, 778}
    (deal,) = await _export(any_core)
    assert (deal["owner_telegram_id"], deal["team"]) == (777, "Юг")
    again = await import_deals(any_core, [row], create_users=True)
    assert again == ImportReport(created=0, unchanged=1, users_created=0)


async def _file_of(core: Core) -> str:
    out = io.StringIO()
    await deal_transfer(core).write_json(out)
    return out.getvalue()


async def test_export_import_into_an_empty_database_export_gives_the_same_file(
    any_core: Core, clock: FrozenClock
) -> None:
    await _a_team_at_work(any_core, clock)
    exported = await _file_of(any_core)
    await _wipe(any_core)
    file = json.loads(exported, parse_float=Decimal)
    report = await import_deals(any_core, file, create_users=True)
    assert report == ImportReport(created=2, unchanged=0, users_created=5)
    assert await _file_of(any_core) == exported
    # The lead is a lead again, the deactivated manager stays away, John reads English.
    admin = await any_core.people.identify(1, "Админ")
    assert admin is not None and admin.is_admin
    for telegram_id, role, team, active, language in [
        (3, Role.MANAGER, "Урал", True, "ru"),
        (4, Role.LEAD, "Урал", True, "ru"),
        (5, Role.MANAGER, "Урал", False, "ru"),
        (6, Role.MANAGER, "Export", True, "en"),
    ]:
        person = await any_core.people.identify(telegram_id, "")
        assert person is not None
        assert (person.role, person.team_name, person.active, person.language) == (
            role, team, active, language
        )  # fmt: skip
    assert 5 not in {p.telegram_id for p in await any_core.people.people_of()}
    # The second deal's lost comment and the first one's notes are in the bot again.
    lead = await any_core.people.identify(4, "Лида")
    assert lead is not None
    first_id = file["deals"][0]["id"]
    card = await any_core.deals.card(lead, first_id)
    assert {note.text for note in card.notes} == {"Просили скидку", "Перезвонить до пятницы"}
    assert await import_deals(any_core, file, create_users=True) == ImportReport(0, 2, 0)
    assert await _file_of(any_core) == exported


async def test_a_file_written_before_version_2_still_imports(
    any_core: Core, clock: FrozenClock
) -> None:
    """A bare array of deals without notes, done steps, move reasons or comments."""
    await _made_in_the_bot(any_core, clock)
    old = []
    for deal in await _export(any_core):
        deal.pop("notes")
        if deal["next_step"]:
            deal["next_step"].pop("done")
        for move in deal["history"]:
            move.pop("lost_reason")
            move.pop("comment")
        old.append(deal)
    await _wipe(any_core)
    report = await import_deals(any_core, json.loads(json.dumps(old)), create_users=True)
    assert report == ImportReport(created=2, unchanged=0, users_created=2)
    first, second = await _export(any_core)
    assert (first["notes"], first["next_step"]["done"]) == ([], False)
    assert [m["lost_reason"] for m in second["history"]] == [None, "price"]
    people = {p.telegram_id: p.role for p in await any_core.people.people_of()}
    assert people == {3: Role.MANAGER, 4: Role.MANAGER}  # the old file said nothing more


async def test_people_already_there_are_left_as_they_are(
    any_core: Core, clock: FrozenClock
) -> None:
    await _a_team_at_work(any_core, clock)
    file = json.loads(await _file_of(any_core))
    await _wipe(any_core)
    await any_core.people.ensure_person(4, "Лидия Петровна", Role.MANAGER, "Юг")
    report = await import_deals(any_core, file, create_users=True)
    assert report == ImportReport(created=2, unchanged=0, users_created=4)
    lead = await any_core.people.identify(4, "Лидия Петровна")
    assert lead is not None and (lead.role, lead.team_name) == (Role.MANAGER, "Юг")


async def test_without_create_users_people_and_teams_not_in_the_database_are_named(
    any_core: Core, clock: FrozenClock
) -> None:
    await _a_team_at_work(any_core, clock)
    file = json.loads(await _file_of(any_core))
    await _wipe(any_core)
    await any_core.people.ensure_person(3, "Анна", Role.MANAGER, "Урал")
    with pytest.raises(InvalidFile) as error:
        await import_deals(any_core, file)
    problems = [str(p) for p in error.value.problems]
    assert "teams[1].name: no team 'Export'; create it first or import with --create-users" in (
        problems
    )
    assert (
        "people[0].telegram_id: no user with Telegram id 1; create it first or import with "
        "--create-users"
    ) in problems
    assert not any("people[1]" in p for p in problems)  # Anna is there
    assert await _count(any_core, Deal) == 0


async def test_bad_teams_and_people_are_each_named(any_core: Core) -> None:
    file: dict[str, Any] = {
        "format": "voronka-deals",
        "version": 2,
        "teams": [
            {"name": "Урал", "funnel": "moon"},
            {"name": "Урал"},
            {"name": " ", "group_chat_id": "chat"},
        ],
        "people": [
            {"telegram_id": 3, "name": "Анна", "role": "boss", "team": "Урал"},
            {"telegram_id": -1, "name": "", "role": "lead", "active": "no", "language": "de"},
            {"telegram_id": 3, "name": "Анна", "role": "manager"},
            "Борис",
        ],
        "deals": [_row("crm-1", currency="XYZ")],
    }
    with pytest.raises(InvalidFile) as error:
        await import_deals(any_core, file, create_users=True)
    found = [(p.row, p.field) for p in error.value.problems]
    assert found == [
        (None, "teams[0].funnel"),
        (None, "teams[1].name"),
        (None, "teams[2].name"),
        (None, "teams[2].group_chat_id"),
        (None, "people[0].role"),
        (None, "people[1].telegram_id"),
        (None, "people[1].name"),
        (None, "people[1].language"),
        (None, "people[1].active"),
        (None, "people[2].telegram_id"),
        (None, "people[3]"),
        (1, "currency"),
    ]
    why = {p.field: p.why for p in error.value.problems}
    assert why["people[0].role"] == "expected admin, lead or manager"
    assert why["people[2].telegram_id"] == "the same person twice"
    assert why["teams[1].name"] == "the same team twice"
    assert str(error.value.problems[-1]) == (
        "row 1, currency: 'XYZ' is not an ISO 4217 currency: write a code such as RUB, USD or EUR"
    )
    assert await _count(any_core, Deal) == 0


@pytest.mark.parametrize("currency", ["XYZ", "usd", "XXX", "XAU", "RUR", 840])
async def test_a_currency_that_is_not_iso_4217_is_refused_with_its_row(
    any_core: Core, currency: Any
) -> None:
    await any_core.people.ensure_person(3, "Анна", Role.MANAGER, "Урал")
    rows = [_row("crm-0", currency="USD"), _row("crm-1", currency=currency)]
    with pytest.raises(InvalidFile) as error:
        await import_deals(any_core, rows)
    (problem,) = error.value.problems
    assert (problem.row, problem.field) == (2, "currency")  # the second row, counted from 1
    assert "ISO 4217" in problem.why
    assert (await import_deals(any_core, rows[:1])).created == 1


async def test_a_file_of_a_newer_version_is_refused_as_such(any_core: Core) -> None:
    file = {"format": "voronka-deals", "version": 3, "deals": []}
    with pytest.raises(InvalidFile) as error:
        await import_deals(any_core, file)
    (problem,) = error.value.problems
    assert problem.field == "version" and "newer Voronka" in problem.why


async def test_bad_notes_comments_and_steps_are_named(any_core: Core) -> None:
    await any_core.people.ensure_person(3, "Анна", Role.MANAGER, "Урал")
    good = _row("crm-0")
    good["history"] = deepcopy(good["history"])
    good["history"][-1].update(lost_reason="price", comment="Дорого")
    good["notes"] = [{"text": "Звонил", "at": "2026-10-02T09:00:00Z", "by_telegram_id": 3}]
    bad = _row("crm-1", notes=[{"text": " ", "at": "2026-10-02"}, 5])
    bad["history"] = deepcopy(bad["history"])
    bad["history"][1].update(lost_reason="price", comment=["?"])
    step = _open_row("crm-2", next_step={"text": "Звонок", "due": None, "done": True})
    flag = _open_row("crm-3", next_step={"text": "Звонок", "due": "2026-12-10T07:00:00Z",
                                         "done": "yes"})  # fmt: skip
    with pytest.raises(InvalidFile) as error:
        await import_deals(any_core, [good, bad, step, flag])
    assert [(p.row, p.field) for p in error.value.problems] == [
        (2, "history[1].lost_reason"),
        (2, "history[1].comment"),
        (2, "notes[0].text"),
        (2, "notes[0].at"),
        (2, "notes[1]"),
        (3, "next_step.done"),
        (4, "next_step.done"),
    ]
    assert (await import_deals(any_core, [good])).created == 1
    (deal,) = await _export(any_core)
    assert deal["history"][-1]["lost_reason"] == "price"  # the move's own, not the deal's
    assert deal["history"][-1]["comment"] == "Дорого"
    assert deal["notes"] == [
        {"text": "Звонил", "at": "2026-10-02T09:00:00+00:00", "by_telegram_id": 3}
    ]


# --- the command line -----------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> None:
    """The CLI builds its own core from the environment: point it at the test database."""
    monkeypatch.setenv("VORONKA_DATABASE_URL", database_url)
    monkeypatch.setenv("VORONKA_DATA_DIR", str(tmp_path / "cli-data"))


async def _cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


@pytest.mark.usefixtures("cli_env")
async def test_the_cli_exports_json_and_csv_to_a_file(
    any_core: Core, clock: FrozenClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await _made_in_the_bot(any_core, clock)
    out = tmp_path / "deals.json"
    assert await _cli("deals", "export", "--format", "json", "--out", str(out)) == 0
    deals = json.loads(out.read_text(encoding="utf-8"))["deals"]
    assert deals == await _export(any_core)
    assert "exported 2 deals" in capsys.readouterr().err
    table = tmp_path / "deals.csv"
    assert await _cli("deals", "export", "--format", "csv", "--out", str(table)) == 0
    with table.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["external_id"] for row in rows] == [deal["external_id"] for deal in deals]
    assert rows[0]["title"] == "Стеллажи на 400 паллет"
    assert not await asyncio.to_thread(lambda: list(tmp_path.glob("*.part")))


@pytest.mark.usefixtures("cli_env")
async def test_the_cli_round_trips_a_team_through_an_empty_database(
    any_core: Core, clock: FrozenClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await _a_team_at_work(any_core, clock)
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    assert await _cli("deals", "export", "--out", str(before)) == 0
    await _wipe(any_core)
    assert await _cli("deals", "import", str(before), "--create-users") == 0
    assert "created 2 deals, 0 already there (unchanged), 5 users created" in (
        capsys.readouterr().out
    )
    assert await _cli("deals", "export", "--out", str(after)) == 0
    assert after.read_bytes() == before.read_bytes()


@pytest.mark.usefixtures("cli_env")
async def test_the_cli_imports_a_file_and_reports(
    any_core: Core, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The CLI runs on the real clock: these times are safely in the past.
    row = _open_row("crm-1", created_at="2024-03-01T09:00:00+03:00", next_step=None)
    row["history"] = [{"from": None, "to": "offer", "at": "2024-03-01T06:00:00Z"}]
    file = tmp_path / "deals.json"
    file.write_text(json.dumps([row], ensure_ascii=False), encoding="utf-8")
    assert await _cli("deals", "import", str(file)) == 1
    assert "row 1, owner_telegram_id:" in capsys.readouterr().err
    assert await _cli("deals", "import", str(file), "--create-users") == 0
    assert "created 1 deals" in capsys.readouterr().out
    assert await _cli("deals", "import", str(file)) == 0
    assert "1 already there" in capsys.readouterr().out
    assert await _count(any_core, Deal) == 1


@pytest.mark.usefixtures("cli_env")
async def test_the_cli_names_every_problem_of_a_bad_file(
    any_core: Core, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await any_core.people.ensure_person(3, "Анна", Role.MANAGER, "Урал")
    file = tmp_path / "bad.json"
    file.write_text(json.dumps([_row("a", title=None), _row("b", stage="x")]), encoding="utf-8")
    assert await _cli("deals", "import", str(file)) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "row 1, title: required"
    assert err[1].startswith("row 2, stage: no stage 'x' in funnel 'b2b'")
    assert err[-1] == "2 problem(s) in 2 row(s); nothing was imported"
    file.write_text('[{"title": ', encoding="utf-8")
    assert await _cli("deals", "import", str(file)) == 1
    assert "not valid JSON" in capsys.readouterr().err
    file.write_text('"deals"', encoding="utf-8")
    assert await _cli("deals", "import", str(file)) == 1
    assert "expected a JSON object" in capsys.readouterr().err
    file.write_text('{"deals": []}', encoding="utf-8")
    assert await _cli("deals", "import", str(file)) == 1
    assert "format: expected 'voronka-deals'" in capsys.readouterr().err
    new_file = {
        "format": "voronka-deals", "version": 2,
        "people": [{"telegram_id": 3, "name": "Анна", "role": "director", "team": "Урал"}],
        "deals": [_row("a", currency="XYZ")],
    }  # fmt: skip
    file.write_text(json.dumps(new_file), encoding="utf-8")
    assert await _cli("deals", "import", str(file), "--create-users") == 1
    assert capsys.readouterr().err.splitlines() == [
        "people[0].role: expected admin, lead or manager",
        "row 1, currency: 'XYZ' is not an ISO 4217 currency: write a code such as RUB, USD or EUR",
        "2 problem(s) in 1 row(s) and 1 outside the deals; nothing was imported",
    ]
    assert await _count(any_core, Deal) == 0
