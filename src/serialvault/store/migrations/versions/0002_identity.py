"""Accounts, credentials, tokens, signatures, change records and sessions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07

21 CFR 11.10(d) and 11.100: every change is made by an authenticated, unique user.
The four projections are rebuilt from the log like every other; ``sessions`` is working
state of the running system (who is logged in), never backed up. A repository created
before this revision keeps its free-text actors; its first admin is created by
``serialvault init --admin``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
T = sa.Text


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("user_id", T, primary_key=True),
        *(sa.Column(n, T, nullable=False) for n in ("name", "kind", "status", "roles")),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("locked_at", T),
        sa.Column("reviewer_keys", T, nullable=False),
        sa.Column("created_seq", Id, nullable=False),
        sa.Column("last_seq", Id, nullable=False),
    )
    op.create_table(
        "credentials",
        sa.Column("user_id", T, nullable=False),
        sa.Column("seq", Id, nullable=False),
        sa.Column("hash", T, nullable=False),
        sa.Column("temporary", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "seq"),
    )
    op.create_table(
        "tokens",
        sa.Column("token_id", T, primary_key=True),
        *(sa.Column(n, T, nullable=False) for n in ("user_id", "sha256", "label")),
        sa.Column("created_seq", Id, nullable=False),
        sa.Column("revoked_seq", Id),
    )
    op.create_table(
        "signatures",
        sa.Column("seq", Id, primary_key=True, autoincrement=False),
        *(
            sa.Column(n, T, nullable=False)
            for n in ("signed_at", "signer", "name", "meaning", "subject", "sha256")
        ),
    )
    op.create_index("ix_signatures_subject", "signatures", ["subject"])
    op.create_table(
        "changes",
        sa.Column("change_id", T, primary_key=True),
        sa.Column("seq", Id, nullable=False),
        *(sa.Column(n, T, nullable=False) for n in ("object_type", "object_key")),
        sa.Column("version", sa.Integer, nullable=False),
        *(
            sa.Column(n, T, nullable=False)
            for n in ("author", "reason", "created_at", "before_json", "after_json", "status")
        ),
        *(sa.Column(n, T) for n in ("decided_by", "decided_at", "decision_reason")),
        sa.Column("signature_seq", Id),
        sa.Column("effective_from", T),
    )
    op.create_index("ix_changes_object", "changes", ["object_type", "object_key"])
    op.create_table(
        "sessions",
        sa.Column("id_sha256", T, primary_key=True),
        *(sa.Column(n, T, nullable=False) for n in ("user_id", "created_at", "last_used")),
        sa.Column("signed", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for name in ("sessions", "changes", "signatures", "tokens", "credentials", "users"):
        op.drop_table(name)
