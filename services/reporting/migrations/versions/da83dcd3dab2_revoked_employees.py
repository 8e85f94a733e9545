"""revoked employees

Revision ID: da83dcd3dab2
Revises: 38865d946606
Create Date: 2026-12-01 14:53:08.295103
"""

from typing import Sequence, Union

from shared.revocations import create_revocation_table, drop_revocation_table


revision: str = "da83dcd3dab2"
down_revision: Union[str, None] = "38865d946606"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    create_revocation_table()


def downgrade() -> None:
    drop_revocation_table()
