"""revoked employees

Revision ID: cd13bdf940b1
Revises: 4c08fe1d7c59
Create Date: 2026-12-01 14:53:05.706526
"""

from typing import Sequence, Union

from shared.revocations import create_revocation_table, drop_revocation_table


revision: str = "cd13bdf940b1"
down_revision: Union[str, None] = "4c08fe1d7c59"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    create_revocation_table()


def downgrade() -> None:
    drop_revocation_table()
