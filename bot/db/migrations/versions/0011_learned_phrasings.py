"""learned phrasings: questions people confirmed an entry answers, and their votes

Revision ID: 0011_learned_phrasings
Revises: 0010_person_profile
Create Date: 2026-12-03 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.types import UTCDateTime

revision: str = "0011_learned_phrasings"
down_revision: str | None = "0010_person_profile"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kb_phrasings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(length=120), nullable=False),
        sa.Column("phrasing", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("ups", sa.Integer(), nullable=False),
        sa.Column("downs", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.Column("removed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["removed_by_id"], ["users.id"], name=op.f("fk_kb_phrasings_removed_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_phrasings")),
        sa.UniqueConstraint("entry_id", "phrasing", name="uq_kb_phrasings_entry"),
    )
    with op.batch_alter_table("kb_phrasings", schema=None) as batch_op:
        batch_op.create_index("ix_kb_phrasings_status", ["status"], unique=False)
    op.create_table(
        "kb_phrasing_votes",
        sa.Column("phrasing_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("up", sa.Boolean(), nullable=False),
        sa.Column("lead", sa.Boolean(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["phrasing_id"],
            ["kb_phrasings.id"],
            name=op.f("fk_kb_phrasing_votes_phrasing_id_kb_phrasings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_kb_phrasing_votes_user_id_users")
        ),
        sa.PrimaryKeyConstraint("phrasing_id", "user_id", name=op.f("pk_kb_phrasing_votes")),
    )


def downgrade() -> None:
    op.drop_table("kb_phrasing_votes")
    with op.batch_alter_table("kb_phrasings", schema=None) as batch_op:
        batch_op.drop_index("ix_kb_phrasings_status")
    op.drop_table("kb_phrasings")
