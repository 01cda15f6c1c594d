"""The composition root: the bot, the CLI and the tests build the core here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.core.clock import Clock, system_clock
from bot.core.deals import DealsService
from bot.core.funnel import FunnelConfig, load_funnels
from bot.core.people import PeopleService
from bot.core.sent_log import SentLogService
from bot.db.migrate import upgrade
from bot.db.session import create_engine, create_session_factory


@dataclass
class Core:
    """Everything the drivers need, built once per process."""

    settings: Settings
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]
    clock: Clock
    funnels: FunnelConfig
    people: PeopleService
    deals: DealsService
    sent_log: SentLogService

    async def migrate(self) -> None:
        await upgrade(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()


def build_core(settings: Settings, *, clock: Clock = system_clock) -> Core:
    """Build everything; an invalid funnel file raises FunnelError naming what is wrong."""
    funnels = load_funnels(settings.funnel_file)
    engine = create_engine(settings.db_url)
    db = create_session_factory(engine)
    people = PeopleService(
        db,
        clock=clock,
        admins=settings.admins,
        invite_ttl=timedelta(days=settings.invite_ttl_days),
    )
    deals = DealsService(
        db,
        funnels,
        clock=clock,
        tz=settings.tz,
        undo_window=timedelta(minutes=settings.undo_minutes),
    )
    return Core(
        settings=settings,
        engine=engine,
        db=db,
        clock=clock,
        funnels=funnels,
        people=people,
        deals=deals,
        sent_log=SentLogService(db, clock),
    )
