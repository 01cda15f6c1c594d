"""a lease on each claim of the sent log: scheduled messages as an outbox

Revision ID: 0009_sent_log_lease
Revises: 0008_handled_updates
Create Date: 2026-12-01 13:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.types import UTCDateTime

revision: str = "0009_sent_log_lease"
down_revision: str | None = "0008_handled_updates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows already there were sent: no lease.
    op.add_column("sent_log", sa.Column("lease_until", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sent_log") as batch:
        batch.drop_column("lease_until")
