"""weekly tallies: the trends read from each week's cells (services.reporting.trends)

Revision ID: 5e1c0a7d9b24
Revises: 40b8423480c5
Create Date: 2026-12-03 11:40:00.000000
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = "5e1c0a7d9b24"
down_revision: Union[str, None] = "40b8423480c5"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("relationship_tally", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("latest_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.create_index(
            "ix_relationship_tally_latest", ["program_id", "latest_at"], unique=False
        )
    # Every relationship and participant counted again by the tally loop after the start:
    # each adds its weeks' cells then (a programme's trends are counted from the rows
    # meanwhile).
    op.execute(
        "INSERT INTO tally_pending (kind, entity_id, program_id) "
        "SELECT 'match', id, program_id FROM match"
    )
    op.execute(
        "INSERT INTO tally_pending (kind, entity_id, program_id) "
        "SELECT 'participant', id, program_id FROM participant"
    )


def downgrade() -> None:
    with op.batch_alter_table("relationship_tally", schema=None) as batch_op:
        batch_op.drop_index("ix_relationship_tally_latest")
        batch_op.drop_column("latest_at")
