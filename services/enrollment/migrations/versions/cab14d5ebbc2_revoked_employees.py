"""revoked employees

Revision ID: cab14d5ebbc2
Revises: e525324c2b02
Create Date: 2026-12-01 14:53:00.101003
"""

from typing import Sequence, Union

from alembic import op
from shared.revocations import create_revocation_table, drop_revocation_table


revision: str = "cab14d5ebbc2"
down_revision: Union[str, None] = "e525324c2b02"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    create_revocation_table()
    # Employees terminated before this revision are refused too.
    op.execute(
        "INSERT INTO revoked_employee (org, employee_id, revoked_at) "
        "SELECT org, id, updated_at FROM employee WHERE status = 'terminated'"
    )


def downgrade() -> None:
    drop_revocation_table()
