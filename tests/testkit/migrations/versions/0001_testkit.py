"""testkit tables (a test fixture service: its schema is its metadata)

Revision ID: 0001_testkit
Revises:
"""

from alembic import op

from tests.testkit import Base

revision = "0001_testkit"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    Base.metadata.create_all(op.get_bind())


def downgrade() -> None:
    Base.metadata.drop_all(op.get_bind())
