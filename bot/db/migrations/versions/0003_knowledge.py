"""knowledge events, questions, learned entries

Revision ID: 0003_knowledge
Revises: 0002_deals
Create Date: 2026-11-29 20:53:40.356931
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision: str = "0003_knowledge"
down_revision: str | None = "0002_deals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kb_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("query", sa.Text(), nullable=True),
        sa.Column("entry_id", sa.String(length=120), nullable=True),
        sa.Column("step_id", sa.String(length=120), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("at", bot.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_kb_events_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_events")),
    )
    with op.batch_alter_table("kb_events", schema=None) as batch_op:
        batch_op.create_index("ix_kb_events_at_kind", ["at", "kind"], unique=False)

    op.create_table(
        "kb_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asker_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", bot.db.types.UTCDateTime(), nullable=False),
        sa.Column("answered_at", bot.db.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["answered_by_id"], ["users.id"], name=op.f("fk_kb_questions_answered_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["asker_id"], ["users.id"], name=op.f("fk_kb_questions_asker_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_questions")),
    )
    op.create_table(
        "kb_learned",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(length=120), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", bot.db.types.UTCDateTime(), nullable=False),
        sa.Column("exported_at", bot.db.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["kb_questions.id"],
            name=op.f("fk_kb_learned_question_id_kb_questions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_learned")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_kb_learned_entry_id")),
    )


def downgrade() -> None:
    op.drop_table("kb_learned")
    op.drop_table("kb_questions")
    with op.batch_alter_table("kb_events", schema=None) as batch_op:
        batch_op.drop_index("ix_kb_events_at_kind")

    op.drop_table("kb_events")
