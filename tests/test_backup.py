"""`voronka backup` / `voronka restore`: a team works, the database is backed up, lost and
restored, and the bot answers exactly as before; files that are not fit change nothing."""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

from bot.cli import main
from bot.common.clock import FrozenClock
from bot.container import Core, build_core
from bot.db.migrate import alembic_config
from bot.db.session import create_engine, dispose
from bot.deals.service import Via
from bot.people.service import Role
from tests.conftest import START, Harness, make_settings

ANNA, LIDA, JOHN = 5001, 5002, 5003
# What the team looks at; after a restore each of them must read exactly the same.
LOOKS = (
    (ANNA, "Анна", "ru", "/deals"),
    (ANNA, "Анна", "ru", "ромашка ооо"),
    (JOHN, "John", "en", "/deals"),
    (JOHN, "John", "en", "acme corp"),
)


class Voronka:
    """The `voronka` command of one install, run in a thread (it has its own event loop)."""

    def __init__(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.tmp = tmp_path
        self.capsys = capsys

    async def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = await asyncio.to_thread(main, list(args))
        out, err = self.capsys.readouterr()
        return code, out, err

    async def export(self) -> bytes:
        out = self.tmp / "export.json"
        code, _, err = await self("deals", "export", "--format", "json", "--out", str(out))
        assert code == 0, err
        return out.read_bytes()


@pytest.fixture
def voronka(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Voronka:
    use_database(monkeypatch, database_url, tmp_path)
    return Voronka(tmp_path, capsys)


@pytest.fixture
def sqlite_voronka(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Voronka:
    use_database(monkeypatch, sqlite_url, tmp_path)
    return Voronka(tmp_path, capsys)


def use_database(monkeypatch: pytest.MonkeyPatch, url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("VORONKA_DATABASE_URL", url)
    monkeypatch.setenv("VORONKA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("VORONKA_BOT_TOKEN", raising=False)
    monkeypatch.delenv("VORONKA_PG_BIN", raising=False)


def open_core(tmp_path: Path, url: str) -> Core:
    return build_core(make_settings(tmp_path, url), clock=FrozenClock(START))


async def work_day(core: Core) -> None:
    """A lead and two managers (one English) create deals, move them and write notes."""
    harness = Harness(core)
    await harness.app.initialize()
    await core.people.ensure_person(LIDA, "Лида", Role.LEAD, "Урал", "ru")
    await core.people.ensure_person(ANNA, "Анна", Role.MANAGER, "Урал", "ru")
    await core.people.ensure_person(JOHN, "John", Role.MANAGER, "Урал", "en")
    anna = harness.client(ANNA, name="Анна")
    john = harness.client(JOHN, language="en", name="John")
    await anna.send("/new Ромашка ООО, 150 000, Иван Петров +7 999 123-45-67")
    await anna.send("Ромашка дальше")
    await anna.send("Ромашка: обсудили сроки, ждут бюджет")
    await john.send("/new Acme Corp, $7,500")
    await john.send("Acme Corp: budget approved")
    await harness.app.shutdown()


async def answers(core: Core) -> list[str]:
    """What the team reads when they look at their deals (texts and buttons)."""
    harness = Harness(core)
    await harness.app.initialize()
    seen = []
    for user_id, name, language, typed in LOOKS:
        client = harness.client(user_id, language=language, name=name)
        for reply in await client.send(typed):
            seen.append(f"{reply.text}\n{reply.button_labels()}")
    await harness.app.shutdown()
    return seen


async def wipe(url: str) -> None:
    """The database lost: the SQLite file gone, the PostgreSQL schema dropped."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = Path(str(parsed.database))
        for path in (database, *database.parent.glob(database.name + "-*")):
            path.unlink(missing_ok=True)
        return
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await dispose(engine)


async def made_backup(voronka: Voronka, url: str) -> tuple[Path, bytes, list[str]]:
    """A work day, then the backup; the file, the export and the answers at that moment."""
    core = open_core(voronka.tmp, url)
    await work_day(core)
    before = await answers(core)
    await core.close()
    exported = await voronka.export()
    backup = voronka.tmp / "voronka.backup"
    code, out, err = await voronka("backup", "--out", str(backup))
    assert (code, err) == (0, "")
    size = backup.stat().st_size
    assert out == f"backed up 2 deals and 3 people to {backup.resolve()} ({size} bytes)\n"
    return backup, exported, before


# --- the round trip -------------------------------------------------------------------------


async def test_a_restored_database_answers_exactly_as_before(
    voronka: Voronka, database_url: str
) -> None:
    backup, exported, before = await made_backup(voronka, database_url)
    assert "Ромашка ООО" in exported.decode() and "budget approved" in exported.decode()

    await wipe(database_url)
    code, out, err = await voronka("restore", str(backup))
    if make_url(database_url).get_backend_name() == "sqlite":
        # The file is gone: as if run from another folder, where it would make a new one.
        assert code == 1 and err.count("\n") == 1
        assert f"there is no database at {(voronka.tmp / 'voronka.db').resolve()}" in err
        assert "pass --force to restore into a new database there" in err
        code, out, err = await voronka("restore", str(backup), "--force")

    assert (code, err) == (0, "")
    assert out.startswith("restored 2 deals and 3 people from ")
    assert " into " in out
    assert await voronka.export() == exported
    core = open_core(voronka.tmp, database_url)
    try:
        assert await answers(core) == before
    finally:
        await core.close()


async def test_a_database_with_data_is_replaced_only_with_force(
    voronka: Voronka, database_url: str
) -> None:
    backup, exported, _ = await made_backup(voronka, database_url)
    core = open_core(voronka.tmp, database_url)
    harness = Harness(core)
    await harness.app.initialize()
    await harness.client(ANNA).send("/new Техносила, 300 000")
    await harness.app.shutdown()
    await core.close()
    today = await voronka.export()

    code, out, err = await voronka("restore", str(backup))

    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and "already holds 3 deals and 3 people" in err
    assert "Pass --force" in err and "nothing was changed" in err.lower()
    assert await voronka.export() == today

    code, out, err = await voronka("restore", str(backup), "--force")
    assert (code, err) == (0, "")
    assert await voronka.export() == exported


async def test_a_sqlite_backup_taken_while_the_bot_writes_is_one_moment(
    sqlite_voronka: Voronka, sqlite_url: str, tmp_path: Path
) -> None:
    """Moves go on while the backup is made: every deal in it stands where its last move
    took it (a deal row and its history written in one transaction are never torn)."""
    core = build_core(make_settings(tmp_path, sqlite_url))
    anna = await core.people.ensure_person(ANNA, "Анна", Role.MANAGER, "Урал", "ru")
    deals = [(await core.deals.create(anna, f"Сделка {n}")).id for n in range(20)]
    stages = ["qualification", "needs", "presentation", "lead"]
    moves = 0
    stop, going = asyncio.Event(), asyncio.Event()

    async def keep_moving() -> None:
        nonlocal moves
        while not stop.is_set():
            deal = deals[moves % len(deals)]
            stage = stages[moves // len(deals) % len(stages)]  # never the stage it is in
            await core.deals.move(anna, deal, stage, via=Via.TEXT)
            moves += 1
            if moves == 40:
                going.set()

    writer = asyncio.create_task(keep_moving())
    await asyncio.wait([writer, asyncio.create_task(going.wait())], return_when="FIRST_COMPLETED")
    at_start = moves
    backup = tmp_path / "during.backup"
    code, _, err = await sqlite_voronka("backup", "--out", str(backup))
    at_end = moves
    stop.set()
    await writer  # raises when a move failed
    await core.close()

    assert (code, err) == (0, "")
    assert at_end > at_start  # the bot went on writing while the backup was made
    with sqlite3.connect(backup) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        torn = copy.execute(
            "SELECT d.title FROM deals d WHERE d.stage != (SELECT t.to_stage FROM "
            "stage_transitions t WHERE t.deal_id = d.id ORDER BY t.id DESC LIMIT 1)"
        ).fetchall()
        (kept,) = copy.execute("SELECT count(*) FROM stage_transitions WHERE via = 'text'")
    assert torn == []
    assert at_start <= kept[0] <= at_end


async def test_a_restore_migrates_a_backup_made_by_an_older_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old.db"
    engine = create_engine(f"sqlite+aiosqlite:///{old}")

    def to_0011(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0011_learned_phrasings")

    async with engine.begin() as connection:
        await connection.run_sync(to_0011)
    await dispose(engine)
    url = f"sqlite+aiosqlite:///{tmp_path / 'voronka.db'}"
    use_database(monkeypatch, url, tmp_path)
    voronka = Voronka(tmp_path, capsys)

    code, _, err = await voronka("restore", str(old), "--force")  # into a new database

    assert (code, err) == (0, "")
    with sqlite3.connect(tmp_path / "voronka.db") as restored:
        (revision,) = restored.execute("SELECT version_num FROM alembic_version").fetchone()
    assert revision != "0011_learned_phrasings"
    assert await voronka.export()  # the code of today reads it


# --- files that are not fit: one line, nothing changed -------------------------------------


async def test_files_that_are_not_backups_are_refused_and_change_nothing(
    voronka: Voronka, database_url: str, tmp_path: Path
) -> None:
    _, exported, _ = await made_backup(voronka, database_url)
    junk = tmp_path / "notes.txt"
    junk.write_text("это не резервная копия\n", encoding="utf-8")
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as foreign:
        foreign.execute("CREATE TABLE things (id INTEGER)")
    cases = {
        tmp_path / "missing.backup": "there is no file",
        junk: "is not a Voronka backup",
        tmp_path: "is a folder, not a backup file",
    }
    if make_url(database_url).get_backend_name() == "sqlite":
        cases[other] = "is an SQLite database but not Voronka's"
        cases[Path(str(make_url(database_url).database))] = "is the database itself"
    for file, says in cases.items():
        code, out, err = await voronka("restore", str(file), "--force")
        assert (code, out) == (1, ""), file
        assert err.count("\n") == 1 and says in err and "nothing was changed" in err.lower(), err
    assert await voronka.export() == exported


async def test_a_cut_short_backup_is_refused_and_changes_nothing(
    voronka: Voronka, database_url: str
) -> None:
    backup, exported, _ = await made_backup(voronka, database_url)
    whole = backup.read_bytes()
    for kept in (len(whole) // 3, len(whole) - 100):  # PostgreSQL: the table of contents
        cut = voronka.tmp / f"cut-{kept}.backup"  # whole or not, the data cut short
        cut.write_bytes(whole[:kept])

        code, out, err = await voronka("restore", str(cut), "--force")

        assert (code, out) == (1, "")
        assert err.count("\n") == 1 and "nothing was changed" in err.lower(), err
        if make_url(database_url).get_backend_name() == "sqlite":
            assert "is cut short" in err
        assert await voronka.export() == exported


@pytest.mark.postgres
async def test_a_backup_of_the_other_kind_of_database_is_refused(
    postgres_database: str,
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    voronka = Voronka(tmp_path, capsys)
    use_database(monkeypatch, sqlite_url, tmp_path)
    assert (await voronka("backup", "--out", str(tmp_path / "sqlite.backup")))[0] == 0
    use_database(monkeypatch, postgres_database, tmp_path)
    assert (await voronka("backup", "--out", str(tmp_path / "pg.backup")))[0] == 0

    code, _, err = await voronka("restore", str(tmp_path / "sqlite.backup"), "--force")
    assert code == 1 and err.count("\n") == 1
    assert "is a backup of an SQLite database, but this Voronka uses PostgreSQL" in err
    assert "voronka deals export" in err and "Nothing was changed" in err

    use_database(monkeypatch, sqlite_url, tmp_path)
    code, _, err = await voronka("restore", str(tmp_path / "pg.backup"), "--force")
    assert code == 1 and "is a backup of a PostgreSQL database, but this Voronka uses SQLite" in err

    use_database(monkeypatch, NOWHERE, tmp_path)  # the server down: said, no traceback
    code, _, err = await voronka("restore", str(tmp_path / "pg.backup"), "--force")
    assert code == 1 and err.count("\n") == 1 and "cannot reach the database" in err


async def test_no_restore_while_a_bot_process_has_the_sqlite_file(
    sqlite_voronka: Voronka, sqlite_url: str
) -> None:
    voronka = sqlite_voronka
    backup, exported, _ = await made_backup(voronka, sqlite_url)
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from bot.db.sole import hold_sqlite_file; "
        "hold_sqlite_file(sys.argv[1]); print('held', flush=True); sys.stdin.read()",
        sqlite_url,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and await holder.stdout.readline() == b"held\n"
        code, _, err = await voronka("restore", str(backup), "--force")
    finally:
        await holder.communicate(b"")
    assert code == 1 and err.count("\n") == 1
    assert "another voronka process (run or chat) is using" in err
    assert "Stop it first, then restore; nothing was changed" in err
    assert await voronka.export() == exported


# --- PostgreSQL's tools ---------------------------------------------------------------------

NOWHERE = "postgresql+asyncpg://voronka:secret@127.0.0.1:1/voronka"  # nothing listens on 1


async def test_without_pg_dump_the_message_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_database(monkeypatch, NOWHERE, tmp_path)
    voronka = Voronka(tmp_path, capsys)
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    out = tmp_path / "backups"
    out.mkdir()

    code, _, err = await voronka("backup", "--out", str(out / "voronka.backup"))
    assert code == 1 and err.count("\n") == 1
    assert "pg_dump is not installed" in err and "apt-get install postgresql-client" in err

    monkeypatch.setenv("VORONKA_PG_BIN", str(empty))
    code, _, err = await voronka("backup", "--out", str(out / "voronka.backup"))
    assert code == 1 and f"VORONKA_PG_BIN={empty} has no pg_dump" in err
    assert list(out.iterdir()) == []


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
async def test_a_failed_pg_dump_leaves_no_file_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_database(monkeypatch, NOWHERE, tmp_path)
    voronka = Voronka(tmp_path, capsys)
    out = tmp_path / "backups"
    out.mkdir()

    code, _, err = await voronka("backup", "--out", str(out / "voronka.backup"))

    assert code == 1 and err.count("\n") == 1
    assert err.startswith("backup failed: pg_dump could not back up the database: ")
    assert "secret" not in err
    assert list(out.iterdir()) == []


async def test_a_backup_into_a_missing_folder_says_so(
    voronka: Voronka, database_url: str, tmp_path: Path
) -> None:
    code, _, err = await voronka("backup", "--out", str(tmp_path / "nowhere" / "v.backup"))
    assert code == 1 and f"the folder {tmp_path / 'nowhere'} does not exist" in err


@pytest.mark.postgres
async def test_a_table_newer_than_the_postgres_backup_does_not_outlive_its_restore(
    postgres_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """pg_restore --clean drops only what the archive has; a table a later migration made
    would stay and break the migration that follows the restore."""
    use_database(monkeypatch, postgres_database, tmp_path)
    voronka = Voronka(tmp_path, capsys)
    backup = tmp_path / "pg.backup"
    assert (await voronka("backup", "--out", str(backup)))[0] == 0
    engine = create_engine(postgres_database)
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE made_later (id integer PRIMARY KEY)"))
    await dispose(engine)  # nobody else connected, or the restore is refused

    code, _, err = await voronka("restore", str(backup), "--force")

    assert (code, err) == (0, "")
    async with engine.connect() as connection:
        left = await connection.execute(text("SELECT to_regclass('made_later')"))
        assert left.scalar_one() is None
    await dispose(engine)


async def test_a_backup_of_a_database_that_is_not_there_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "elsewhere" / "voronka.db"
    use_database(monkeypatch, f"sqlite+aiosqlite:///{missing}", tmp_path)
    voronka = Voronka(tmp_path, capsys)

    code, _, err = await voronka("backup", "--out", str(tmp_path / "v.backup"))

    assert code == 1 and f"there is no database at {missing}" in err
    assert "VORONKA_DATABASE_URL" in err
    assert not missing.exists() and not (tmp_path / "v.backup").exists()


@pytest.mark.postgres
async def test_no_postgres_restore_while_others_are_connected(
    postgres_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A bot still running on the database would go on with what it holds: a worker, a
    standby, or anyone else connected stops the restore until they are gone."""
    use_database(monkeypatch, postgres_database, tmp_path)
    voronka = Voronka(tmp_path, capsys)
    backup = tmp_path / "pg.backup"
    assert (await voronka("backup", "--out", str(backup)))[0] == 0
    engine = create_engine(postgres_database)
    async with engine.connect() as connection:  # a bot's session, left open
        await connection.execute(text("SELECT 1"))
        code, out, err = await voronka("restore", str(backup), "--force")
    await dispose(engine)
    assert (code, out) == (1, "") and err.count("\n") == 1
    assert re.search(r"\d+ other sessions? (is|are) connected to", err), err
    assert "Stop them first" in err
    assert (await voronka("restore", str(backup), "--force"))[0] == 0  # alone now
