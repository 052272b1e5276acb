"""a batch's worker lease: one worker pays a batch, whichever console started it

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dollr_core.ledger.columns

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("batch", schema=None) as batch_op:
        batch_op.add_column(sa.Column("worker_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("worker_until", dollr_core.ledger.columns.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("batch", schema=None) as batch_op:
        batch_op.drop_column("worker_until")
        batch_op.drop_column("worker_owner")
