"""Serial number pools (EU FMD).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-14

A GTIN's serial number pool, its allocations and every serial it knows (EU FMD
Delegated Regulation (EU) 2016/161 Art. 4): projections of the ``serials.*`` log
records, rebuilt from the log like every other; a repository that never had a pool
fingerprints as it did before this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "serial_pools",
        sa.Column("gtin", sa.Text, primary_key=True),
        sa.Column("alphabet", sa.Text, nullable=False),
        sa.Column("length", sa.Integer, nullable=False),
        sa.Column("expected", sa.BigInteger, nullable=False),
        sa.Column("low_stock", sa.BigInteger, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("first_seq", Id, nullable=False),
        sa.Column("last_seq", Id, nullable=False),
    )
    op.create_table(
        "serial_allocations",
        sa.Column("seq", Id, primary_key=True, autoincrement=False),
        sa.Column("gtin", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("recorded_at", sa.Text, nullable=False),
    )
    op.create_table(
        "serial_numbers",
        sa.Column("gtin", sa.Text, nullable=False),
        sa.Column("serial", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("allocation_seq", Id),
        sa.Column("commissioned_seq", Id),
        sa.Column("returned_seq", Id),
        sa.PrimaryKeyConstraint("gtin", "serial"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("serial_numbers")
    op.drop_table("serial_allocations")
    op.drop_table("serial_pools")
