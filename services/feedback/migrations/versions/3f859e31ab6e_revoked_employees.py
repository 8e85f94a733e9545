"""revoked employees

Revision ID: 3f859e31ab6e
Revises: 72431b29b8d1
Create Date: 2026-12-01 14:53:02.774479
"""

from typing import Sequence, Union

from shared.revocations import create_revocation_table, drop_revocation_table


revision: str = "3f859e31ab6e"
down_revision: Union[str, None] = "72431b29b8d1"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    create_revocation_table()


def downgrade() -> None:
    drop_revocation_table()
