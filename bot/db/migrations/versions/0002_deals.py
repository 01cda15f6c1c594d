"""deals, clients, stage history, notes, sent log

Revision ID: 0002_deals
Revises: 0001_people
Create Date: 2026-11-29 20:40:56.432320
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision: str = "0002_deals"
down_revision: str | None = "0001_people"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("created_at", bot.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
    )
    op.create_table(
        "sent_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("recipient", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("sent_at", bot.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sent_log")),
        sa.UniqueConstraint("kind", "recipient", "key", name="uq_sent_log_once"),
    )
    op.create_table(
        "deals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("funnel", sa.String(length=50), nullable=False),
        sa.Column("stage", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=True),
        sa.Column("lost_reason", sa.String(length=50), nullable=True),
        sa.Column("next_step_text", sa.String(length=500), nullable=True),
        sa.Column("next_step_due", bot.db.types.UTCDateTime(), nullable=True),
        sa.Column("followup_asked_for", bot.db.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", bot.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", bot.db.types.UTCDateTime(), nullable=False),
        sa.Column("stage_changed_at", bot.db.types.UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_deals_client_id_clients")
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_deals_owner_id_users")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_deals_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deals")),
        sa.UniqueConstraint("external_id", name=op.f("uq_deals_external_id")),
    )
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.create_index("ix_deals_next_step_due", ["next_step_due"], unique=False)
        batch_op.create_index("ix_deals_owner_status", ["owner_id", "status"], unique=False)
        batch_op.create_index("ix_deals_team_status", ["team_id", "status"], unique=False)

    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", bot.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_notes_author_id_users")),
        sa.ForeignKeyConstraint(
            ["deal_id"], ["deals.id"], name=op.f("fk_notes_deal_id_deals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.create_index("ix_notes_deal_at", ["deal_id", "at"], unique=False)

    op.create_table(
        "stage_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("from_stage", sa.String(length=50), nullable=True),
        sa.Column("to_stage", sa.String(length=50), nullable=False),
        sa.Column("at", bot.db.types.UTCDateTime(), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_id"], ["users.id"], name=op.f("fk_stage_transitions_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["deal_id"],
            ["deals.id"],
            name=op.f("fk_stage_transitions_deal_id_deals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stage_transitions")),
    )
    with op.batch_alter_table("stage_transitions", schema=None) as batch_op:
        batch_op.create_index("ix_stage_transitions_at", ["at"], unique=False)
        batch_op.create_index("ix_stage_transitions_deal_at", ["deal_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stage_transitions", schema=None) as batch_op:
        batch_op.drop_index("ix_stage_transitions_deal_at")
        batch_op.drop_index("ix_stage_transitions_at")

    op.drop_table("stage_transitions")
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.drop_index("ix_notes_deal_at")

    op.drop_table("notes")
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_index("ix_deals_team_status")
        batch_op.drop_index("ix_deals_owner_status")
        batch_op.drop_index("ix_deals_next_step_due")

    op.drop_table("deals")
    op.drop_table("sent_log")
    op.drop_table("clients")
