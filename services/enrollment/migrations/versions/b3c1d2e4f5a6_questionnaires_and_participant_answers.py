"""questionnaires and participant answers

A programme's questionnaire; a participant's answers keyed by question id, and what matching
takes from them. Answers given before questionnaires (a list of 1-5) feed similarity as they
are.

Revision ID: b3c1d2e4f5a6
Revises: 9c47219f52d1
Create Date: 2026-12-01 13:45:00
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "b3c1d2e4f5a6"
down_revision: Union[str, None] = "9c47219f52d1"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("program", schema=None) as batch_op:
        batch_op.add_column(sa.Column("questions", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("participant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("similarity", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(
            sa.Column("answer_themes", sa.JSON(), nullable=False, server_default="[]")
        )
    op.execute("UPDATE participant SET similarity = answers")


def downgrade() -> None:
    with op.batch_alter_table("participant", schema=None) as batch_op:
        batch_op.drop_column("answer_themes")
        batch_op.drop_column("similarity")
    with op.batch_alter_table("program", schema=None) as batch_op:
        batch_op.drop_column("questions")
