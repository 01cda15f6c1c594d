"""whose deal it was at each move: figures credit the owner of the time, not the presser

Revision ID: 0012_transition_owner
Revises: 0011_learned_phrasings
Create Date: 2026-12-01 15:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_transition_owner"
down_revision: str | None = "0011_learned_phrasings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Older rows stay NULL: who owned the deal then was never kept, and guessing today's
    # owner would rewrite the past that a reassignment must not touch.
    with op.batch_alter_table("stage_transitions") as batch:
        batch.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_stage_transitions_owner_id_users"), "users", ["owner_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("stage_transitions") as batch:
        batch.drop_constraint(op.f("fk_stage_transitions_owner_id_users"), type_="foreignkey")
        batch.drop_column("owner_id")
