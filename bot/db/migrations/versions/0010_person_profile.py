"""each person's profile for their offers: full name, position, phone, email (/me)

Revision ID: 0010_person_profile
Revises: 0009_sent_log_lease
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_person_profile"
down_revision: str | None = "0009_sent_log_lease"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (("full_name", 200), ("position", 100), ("phone", 32), ("email", 254))


def upgrade() -> None:
    # Nobody has set a profile yet: empty, and offers print the Telegram name until then.
    for name, length in COLUMNS:
        op.add_column("users", sa.Column(name, sa.String(length), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
