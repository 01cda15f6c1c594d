"""plans, team chats, lost reasons on moves, digest indexes

Revision ID: 0005_metrics
Revises: 0004_offers
Create Date: 2026-11-29 21:11:09.621371
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision: str = "0005_metrics"
down_revision: str | None = "0004_offers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("deals", sa.Integer(), nullable=True),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", bot.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["set_by_id"], ["users.id"], name=op.f("fk_plans_set_by_id_users")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_plans_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("user_id", "month", name="uq_plans_user_month"),
    )
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.create_index("ix_deals_team_created", ["team_id", "created_at"], unique=False)

    with op.batch_alter_table("stage_transitions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lost_reason", sa.String(length=50), nullable=True))
        batch_op.create_index("ix_stage_transitions_at_deal", ["at", "deal_id"], unique=False)

    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_chat_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_column("group_chat_id")

    with op.batch_alter_table("stage_transitions", schema=None) as batch_op:
        batch_op.drop_index("ix_stage_transitions_at_deal")
        batch_op.drop_column("lost_reason")

    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_index("ix_deals_team_created")

    op.drop_table("plans")
