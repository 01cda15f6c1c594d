"""The composition root: the bot, the CLI and the tests build the core here."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from bot.common.clock import Clock, system_clock
from bot.common.errors import InvalidFile
from bot.config import Settings
from bot.conversations.service import ConversationsService, DeliveriesService
from bot.db.migrate import upgrade
from bot.db.probe import open_database
from bot.db.session import Engine, SessionFactory, create_engine, create_session_factory, dispose
from bot.deals.funnel import FunnelConfig, load_funnels
from bot.deals.service import DealsService
from bot.deals.team_funnels import TeamFunnelsService
from bot.fleet.turns import ChatTurns
from bot.knowledge.semantic import semantic_from
from bot.knowledge.service import KnowledgeService
from bot.offers.catalog import Catalog, load_catalog
from bot.offers.documents import OfferRenderer
from bot.offers.requisites import REQUISITES_FILE, Requisites, load_requisites
from bot.offers.service import DiscountPolicy, OffersService
from bot.people.service import PeopleService
from bot.reports.sent_log import SentLogService
from bot.reports.service import ReportsService

log = logging.getLogger("voronka")


@dataclass
class Core:
    """Everything the drivers need, built once per process."""

    settings: Settings
    engine: Engine
    db: SessionFactory
    clock: Clock
    funnels: FunnelConfig
    people: PeopleService
    deals: DealsService
    sent_log: SentLogService
    knowledge: KnowledgeService
    offers: OffersService
    reports: ReportsService
    team_funnels: TeamFunnelsService
    conversations: ConversationsService
    deliveries: DeliveriesService
    turns: ChatTurns

    async def open_database(self) -> None:
        """Connect once; a database that cannot be opened raises CannotStart saying why."""
        await open_database(self.engine)

    async def migrate(self) -> None:
        await upgrade(self.engine)

    async def load_content(self) -> None:
        """Read the knowledge base and build the search index at start (a system action)."""
        loaded = await self.knowledge.load(background=True)
        for problem in loaded.problems:
            log.warning("content problem, file skipped: %s", problem)
        log.info("knowledge base: %d entries", loaded.count)

    async def close(self) -> None:
        await self.turns.close()
        await dispose(self.engine)


def _requisites(settings: Settings) -> Requisites:
    try:
        return load_requisites(settings.offer_templates_dir / REQUISITES_FILE)
    except InvalidFile as error:
        raise error.of_setting("offer templates", "VORONKA_OFFER_TEMPLATES_DIR") from None


def build_core(settings: Settings, *, clock: Clock = system_clock) -> Core:
    """Build everything; an invalid funnel file raises InvalidFile naming what is wrong."""
    try:
        funnels = load_funnels(settings.funnel_file)
    except InvalidFile as error:
        raise error.of_setting("funnel file", "VORONKA_FUNNEL_FILE") from None
    engine = create_engine(settings.db_url)
    db = create_session_factory(engine)
    # SQLite serves one bot process (bot.db.sole); PostgreSQL may serve several, so there
    # nothing another process may change is kept in memory between updates.
    sole_writer = engine.dialect.name == "sqlite"
    people = PeopleService(
        db,
        clock=clock,
        admins=settings.admins,
        invite_ttl=timedelta(days=settings.invite_ttl_days),
        sole_writer=sole_writer,
    )
    deals = DealsService(
        db,
        funnels,
        clock=clock,
        tz=settings.tz,
        undo_window=timedelta(minutes=settings.undo_minutes),
        sole_writer=sole_writer,
    )
    try:
        catalog = load_catalog(settings.catalog_file)
    except InvalidFile as error:  # offers still work with free lines; content check fails
        log.error("catalog not loaded: %s", error)
        catalog = Catalog(())
    offers = OffersService(
        db,
        deals,
        people=people,
        catalog=catalog,
        renderer=OfferRenderer(settings.offer_templates_dir),
        requisites=_requisites(settings),
        policy=DiscountPolicy(
            settings.max_discount_manager, settings.max_discount_lead, settings.max_discount_admin
        ),
        clock=clock,
        tz=settings.tz,
        files_dir=settings.data_dir / "offers",
        move_deal=settings.offer_moves_deal,
        vat_percent=settings.vat_percent,
        free_lines=settings.offer_free_lines,
        valid_days=settings.offer_valid_days,
    )
    reports = ReportsService(
        db,
        funnels,
        people,
        clock=clock,
        tz=settings.tz,
        digest_time=settings.digest_time,
        rates=settings.exchange_rates,
    )
    return Core(
        settings=settings,
        engine=engine,
        db=db,
        clock=clock,
        funnels=funnels,
        people=people,
        deals=deals,
        sent_log=reports.sent_log,
        knowledge=KnowledgeService(
            db,
            (settings.knowledge_dir, settings.scripts_dir),
            clock=clock,
            semantic=semantic_from(
                settings.embeddings_url, settings.embeddings_model, settings.data_dir
            ),
        ),
        team_funnels=TeamFunnelsService(db, funnels),
        offers=offers,
        reports=reports,
        conversations=ConversationsService(db, clock, sole_writer=sole_writer),
        deliveries=DeliveriesService(db, clock, sole_writer=sole_writer),
        turns=ChatTurns(settings.db_url, webhook=settings.webhook_url is not None),
    )
