"""reasons are categories

Revision ID: 89db5511055b
Revises: 8a4145c0c08d
Create Date: 2026-12-01 06:03:08.025423
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = "89db5511055b"
down_revision: Union[str, None] = "8a4145c0c08d"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Reasons became categories: free text moves to the note beside `other` (see
    # shared/contracts/reasons.py); the values are this revision's, not the live enums'.
    op.execute(
        "UPDATE \"match\" SET end_reason = 'other' WHERE status = 'declined' AND end_reason NOT IN ('not_a_fit', 'no_time', 'conflict_of_interest', 'other')"
    )
    op.execute(
        "UPDATE \"match\" SET end_reason = 'other' WHERE status = 'ended' AND end_reason NOT IN ('completed', 'low_satisfaction', 'participant_left', 'incompatible', 'other')"
    )


def downgrade() -> None:
    pass  # the free text is not kept in reporting's read model: nothing to restore
