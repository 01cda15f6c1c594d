"""ORM tables. Portable types only; Telegram ids are 64-bit."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.db.types import UTCDateTime

# Named constraints let Alembic's batch mode alter SQLite tables reliably.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def table_of(model: type[Base]) -> Table:
    """A model's table for plain SQL statements (bulk writes, statements built once)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    group_chat_id: Mapped[int | None] = mapped_column(BigInteger)  # where leaderboards go
    funnel: Mapped[str | None] = mapped_column(String(50))  # new deals go here; None: the default


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(200))
    username: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    language: Mapped[str] = mapped_column(String(8), default="ru")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The profile each person keeps with /me, printed on their offers.
    full_name: Mapped[str | None] = mapped_column(String(200))
    position: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))

    team: Mapped[Team | None] = relationship(lazy="raise")


class Invite(Base):
    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)

    team: Mapped[Team | None] = relationship(lazy="raise")


Index("ix_users_role_active", User.role, User.active)


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    contact: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(50))
    email: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Deal(Base):
    __tablename__ = "deals"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    funnel: Mapped[str] = mapped_column(String(50))
    stage: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(10))  # open | won | lost
    amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    currency: Mapped[str] = mapped_column(String(3), default="RUB")
    probability: Mapped[int | None] = mapped_column(Integer)
    lost_reason: Mapped[str | None] = mapped_column(String(50))
    next_step_text: Mapped[str | None] = mapped_column(String(500))
    next_step_due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    followup_asked_for: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stage_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)

    client: Mapped[Client | None] = relationship(lazy="raise")

    # Optimistic locking: an UPDATE carries "WHERE version = <read version>".
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


Index("ix_deals_owner_status", Deal.owner_id, Deal.status)
Index("ix_deals_team_status", Deal.team_id, Deal.status)
Index("ix_deals_next_step_due", Deal.next_step_due)


class StageTransition(Base):
    """One row per move: every "who moved what" figure comes from here."""

    __tablename__ = "stage_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    from_stage: Mapped[str | None] = mapped_column(String(50))
    to_stage: Mapped[str] = mapped_column(String(50))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    via: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str | None] = mapped_column(Text)
    lost_reason: Mapped[str | None] = mapped_column(String(50))  # on moves into a lost stage
    # Whose deal it was when it moved: the move is theirs in every figure, whoever pressed
    # the button (a lead confirming a manager's win), and a later reassignment rewrites
    # nothing. NULL on rows from before this was kept: those are credited to `by_id`.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


Index("ix_stage_transitions_deal_at", StageTransition.deal_id, StageTransition.at)
Index("ix_stage_transitions_at", StageTransition.at)


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


Index("ix_notes_deal_at", Note.deal_id, Note.at)


class SentLog(Base):
    """What was sent to whom, so scheduled messages go out exactly once."""

    __tablename__ = "sent_log"
    __table_args__ = (UniqueConstraint("kind", "recipient", "key", name="uq_sent_log_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    recipient: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[str] = mapped_column(String(100))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Claimed and being sent until then; None once Telegram accepted it. A claim whose lease
    # ran out unsent (the process died sending) may be claimed again.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class KnowledgeEvent(Base):
    """What people asked and how answers landed: 👍/👎, not found, no suitable script answer."""

    __tablename__ = "kb_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(20))  # answered | not_found | up | down | script_gap
    query: Mapped[str | None] = mapped_column(Text)
    entry_id: Mapped[str | None] = mapped_column(String(120))
    step_id: Mapped[str | None] = mapped_column(String(120))
    text: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


Index("ix_kb_events_at_kind", KnowledgeEvent.at, KnowledgeEvent.kind)


class KnowledgeQuestion(Base):
    """A question the base could not answer, sent to the asker's lead."""

    __tablename__ = "kb_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    asker_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(12))  # open | answered | confirmed | declined
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LearnedEntry(Base):
    """A lead's confirmed answer: searchable at once, exported to Markdown for the repository."""

    __tablename__ = "kb_learned"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(120), unique=True)
    question_id: Mapped[int | None] = mapped_column(ForeignKey("kb_questions.id"))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    exported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LearnedPhrasing(Base):
    """A question (normalised) that people confirmed an entry answers, or said it does not.

    Each person counts once (`PhrasingVote`); `status` follows from the votes (see
    `bot.knowledge.service.phrasing_status`) unless a lead removed it, which sticks. `version`
    grows at every change of status, so a remove button shown before tells it is stale.
    """

    __tablename__ = "kb_phrasings"
    __table_args__ = (UniqueConstraint("entry_id", "phrasing", name="uq_kb_phrasings_entry"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(120))
    phrasing: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(12))  # pending | active | demoted | removed
    ups: Mapped[int] = mapped_column(Integer, default=0)
    downs: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


Index("ix_kb_phrasings_status", LearnedPhrasing.status)


class PhrasingVote(Base):
    """One person's latest word on a phrasing: a pick or 👍 (up) or 👎; `lead` when they were
    a lead or an admin at the time (their single confirmation is enough)."""

    __tablename__ = "kb_phrasing_votes"

    phrasing_id: Mapped[int] = mapped_column(
        ForeignKey("kb_phrasings.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    up: Mapped[bool] = mapped_column(Boolean)
    lead: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class Offer(Base):
    """A commercial offer on a deal: its lines as JSON, totals, status and documents."""

    __tablename__ = "offers"
    __table_args__ = (UniqueConstraint("year", "seq", name="uq_offers_year_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Null for an offer rendered from the shell (`voronka offer render`): it still takes a number.
    deal_id: Mapped[int | None] = mapped_column(
        ForeignKey("deals.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[str | None] = mapped_column(String(40), unique=True)
    year: Mapped[int | None] = mapped_column(Integer)
    seq: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12))  # pending | rejected | issued
    spec: Mapped[str] = mapped_column(Text)  # the builder's lines and terms, JSON
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    discount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    vat: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    total: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    max_discount: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pdf_path: Mapped[str | None] = mapped_column(String(500))
    docx_path: Mapped[str | None] = mapped_column(String(500))


class OfferApproval(Base):
    """Who allowed (or refused) a discount above the limit, when, and what exactly."""

    __tablename__ = "offer_approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"), index=True)
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approved: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str | None] = mapped_column(Text)
    what: Mapped[str] = mapped_column(Text)  # the discounts above the limit, as the lead saw them


class Plan(Base):
    """A manager's monthly plan: an amount and/or a number of deals won."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("user_id", "month", name="uq_plans_user_month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    deals: Mapped[int | None] = mapped_column(Integer)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


# The digest's aggregates read history by time and by deal; the pipeline by team and owner.
Index("ix_stage_transitions_at_deal", StageTransition.at, StageTransition.deal_id)
Index("ix_deals_team_created", Deal.team_id, Deal.created_at)


class Conversation(Base):
    """Where a person is in a multi-step exchange with the bot (one JSON document), so a
    restart or another process goes on from there."""

    __tablename__ = "conversations"

    telegram_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HandledUpdate(Base):
    """A Telegram update already handled, so a redelivery changes nothing and sends nothing.

    Written in the same transaction as the first change the update made (see
    `bot.db.session.transaction`), so a crash before that commit leaves the update to be
    handled when Telegram delivers it again. Kept two days: Telegram keeps updates one.
    """

    __tablename__ = "handled_updates"

    # On SQLite an INTEGER PRIMARY KEY is the row id itself (64-bit): one B-tree to write
    # on every text move rather than a table and its key's index. No index on the time:
    # forgetting old rows runs every few hours and may read them all.
    update_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False
    )
    handled_at: Mapped[datetime] = mapped_column(UTCDateTime())
