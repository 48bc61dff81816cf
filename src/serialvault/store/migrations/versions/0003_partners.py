"""Trading partners as versioned master data.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

Master data (products, locations, trading partners) is versioned and changes only under
change control (EU GMP Annex 11 §10). ``partners`` is the projection of
``masterdata.partner`` records, rebuilt from the log like every other; a repository
that never had a partner fingerprints as it did before this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("licence", sa.Text),
        sa.Column("attributes", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("first_seq", Id, nullable=False),
        sa.Column("last_seq", Id, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("partners")
