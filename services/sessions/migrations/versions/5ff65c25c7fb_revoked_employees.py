"""revoked employees

Revision ID: 5ff65c25c7fb
Revises: 05f181f74688
Create Date: 2026-12-01 14:53:11.430701
"""

from typing import Sequence, Union

from shared.revocations import create_revocation_table, drop_revocation_table


revision: str = "5ff65c25c7fb"
down_revision: Union[str, None] = "05f181f74688"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    create_revocation_table()


def downgrade() -> None:
    drop_revocation_table()
