"""The composition root: the bot, the CLI and the tests build the core here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.core.clock import Clock, system_clock
from bot.core.people import PeopleService
from bot.db.migrate import upgrade
from bot.db.session import create_engine, create_session_factory


@dataclass
class Core:
    """Everything the drivers need, built once per process."""

    settings: Settings
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]
    clock: Clock
    people: PeopleService

    async def migrate(self) -> None:
        await upgrade(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()


def build_core(settings: Settings, *, clock: Clock = system_clock) -> Core:
    engine = create_engine(settings.db_url)
    db = create_session_factory(engine)
    people = PeopleService(
        db,
        clock=clock,
        admins=settings.admins,
        invite_ttl=timedelta(days=settings.invite_ttl_days),
    )
    return Core(settings=settings, engine=engine, db=db, clock=clock, people=people)
