"""one batch row at a time holds an own reference

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HOLDING = "state IN ('QUEUED', 'SENT', 'PAID')"


def upgrade() -> None:
    # Batches started together before this index existed may both hold a reference; the index
    # cannot be built over them, and which payment was the wrong one is for a person to decide.
    twice = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT lower(own_reference), count(*) FROM batch_row WHERE own_reference IS NOT NULL"
                " AND state IN ('QUEUED', 'SENT', 'PAID') GROUP BY lower(own_reference) HAVING count(*) > 1"
            )
        )
        .all()
    )
    if twice:
        listed = ", ".join(reference for reference, _ in twice[:20])
        raise RuntimeError(
            f"Bulk rows in several batches hold the same own reference ({listed}); each must be"
            " paid once. Check those payments, mark the extra rows FAILED or CANCELED, then migrate again."
        )
    op.create_index(
        "uq_batch_row_held_reference",
        "batch_row",
        [sa.text("lower(own_reference)")],
        unique=True,
        postgresql_where=sa.text(_HOLDING),
        sqlite_where=sa.text(_HOLDING),
    )


def downgrade() -> None:
    op.drop_index("uq_batch_row_held_reference", table_name="batch_row")
