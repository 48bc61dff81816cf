"""The exception workflow and CAPA.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

An exception is opened by one ``exception`` record and worked through
``exception.action`` records (assign, comment, rework, resolve, close with a qa
signature, reopen); corrective and preventive actions are versioned ``capa.version``
records (ICH Q10 §3.2.2; EU GMP Annex 11 §13). The three tables are projections of
those records, rebuilt from the log like every other; a repository that never used
them fingerprints as it did before this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
T = sa.Text


def upgrade() -> None:
    op.create_table(
        "exception_actions",
        sa.Column("seq", Id, primary_key=True, autoincrement=False),
        sa.Column("exception_seq", Id, nullable=False),
        *(sa.Column(n, T, nullable=False) for n in ("action", "actor", "at", "status")),
        sa.Column("text", T),
        sa.Column("detail", T, nullable=False),
    )
    op.create_index("ix_exception_actions_exception", "exception_actions", ["exception_seq"])
    op.create_table(
        "capas",
        sa.Column("capa_id", T, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        *(sa.Column(n, T, nullable=False) for n in ("status", "title")),
        sa.Column("next_due", T),
        *(sa.Column(n, T, nullable=False) for n in ("content", "opened_by", "opened_at")),
        sa.Column("first_seq", Id, nullable=False),
        sa.Column("last_seq", Id, nullable=False),
    )
    op.create_table(
        "capa_links",
        *(sa.Column(n, T, nullable=False) for n in ("capa_id", "kind", "target")),
        sa.PrimaryKeyConstraint("capa_id", "kind", "target"),
    )
    op.create_index("ix_capa_links_target", "capa_links", ["kind", "target"])


def downgrade() -> None:
    op.drop_index("ix_capa_links_target", "capa_links")
    op.drop_table("capa_links")
    op.drop_table("capas")
    op.drop_index("ix_exception_actions_exception", "exception_actions")
    op.drop_table("exception_actions")
