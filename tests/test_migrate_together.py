"""Several workers started at once on one new PostgreSQL database all migrate it.

A rolling deployment (docker compose up with two workers, or a new release on two hosts)
starts the processes together, and each runs the migrations at start. Without a guard, the
second one creates tables the first has just created and dies.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from bot.db.migrate import alembic_config
from bot.db.session import create_engine, dispose

pytestmark = pytest.mark.postgres


async def test_workers_starting_together_all_migrate_a_new_database(
    empty_postgres_database: str, tmp_path: Path
) -> None:
    url = empty_postgres_database
    env = {**os.environ, "VORONKA_DATABASE_URL": url, "VORONKA_LOG_LEVEL": "WARNING"}
    command = (sys.executable, "-m", "bot", "db", "upgrade")
    piped = {"stdout": asyncio.subprocess.PIPE, "stderr": asyncio.subprocess.STDOUT}
    starts = [  # processes, as workers are: alembic's migration context is one per process
        await asyncio.create_subprocess_exec(
            *command, env={**env, "VORONKA_DATA_DIR": str(tmp_path / f"worker-{i}")}, **piped
        )
        for i in range(3)
    ]
    outputs = [(await p.communicate())[0].decode() for p in starts]
    assert [p.returncode for p in starts] == [0, 0, 0], outputs
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            versions = await connection.execute(text("SELECT version_num FROM alembic_version"))
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await dispose(engine)
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert sorted(row[0] for row in versions) == sorted(heads)
    assert {"deals", "users", "handled_updates"} <= set(tables)
