"""ledger events name the batch or batch row they change

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 13:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("batch_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("batch_row_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_ledger_event_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_event_batch_row_id"), ["batch_row_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ledger_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_event_batch_row_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_event_batch_id"))
        batch_op.drop_column("batch_row_id")
        batch_op.drop_column("batch_id")
