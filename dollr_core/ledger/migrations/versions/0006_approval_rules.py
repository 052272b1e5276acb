"""approval rules: two approvers, decisions that expire, settings an admin changes in the console

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from dollr_core.ledger.columns import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_setting",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("intent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approvals_needed", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(
            sa.Column("first_approved_by", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True)
        )
        batch_op.add_column(sa.Column("first_approved_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("approval_due_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("batch", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approvals_needed", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(
            sa.Column("first_approved_by", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True)
        )
        batch_op.add_column(sa.Column("first_approved_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("batch", schema=None) as batch_op:
        batch_op.drop_column("first_approved_at")
        batch_op.drop_column("first_approved_by")
        batch_op.drop_column("approvals_needed")
    with op.batch_alter_table("intent", schema=None) as batch_op:
        batch_op.drop_column("approval_due_at")
        batch_op.drop_column("first_approved_at")
        batch_op.drop_column("first_approved_by")
        batch_op.drop_column("approvals_needed")
    op.drop_table("console_setting")
