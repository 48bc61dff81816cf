"""Initial schema: the hash-chained log and its projections.

Revision ID: 0001
Revises:
Create Date: 2026-11-24

A migration is a frozen snapshot: it spells the tables out rather than importing
``schema.py``, so later schema changes get their own revision instead of silently
changing what this one creates. ``tests/store/test_migrations.py`` checks that
upgrading to head gives exactly the tables ``schema.py`` declares.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
T = sa.Text


def upgrade() -> None:
    """The initial schema as it was first released. Long by nature: one statement per
    table and index, kept whole because a migration is never edited once shipped."""
    op.create_table(
        "meta", sa.Column("key", T, primary_key=True), sa.Column("value", T, nullable=False)
    )
    op.create_table(
        "log",
        sa.Column("seq", Id, primary_key=True, autoincrement=False),
        *(
            sa.Column(n, T, nullable=False)
            for n in ("recorded_at", "kind", "actor", "reason", "body", "body_hash", "chain_hash")
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Log bodies (kilobytes of JSON each) are TOASTed; lz4 compresses them several
        # times faster than the default pglz, on write (capture) and read (replay).
        op.execute("ALTER TABLE log ALTER COLUMN body SET COMPRESSION lz4")
    op.create_index("ix_log_kind", "log", ["kind"])
    op.create_index("ix_log_recorded_at", "log", ["recorded_at"])
    op.create_table(
        "units",
        sa.Column("id", Id, primary_key=True, autoincrement=False),
        sa.Column("key", T, nullable=False, unique=True),
        sa.Column("kind", T, nullable=False),
        *(sa.Column(n, T) for n in ("gtin", "status", "disposition")),
        sa.Column("parent_id", Id),
        *(sa.Column(n, T) for n in ("lot", "expiry", "biz_location")),
        sa.Column("commissioned_seq", Id),
        sa.Column("last_seq", Id, nullable=False),
        sa.Column("last_event_time", T),
        sa.Column("is_container", sa.Integer, nullable=False),
    )
    op.create_index("ix_units_parent", "units", ["parent_id", "key", "kind", "is_container"])
    op.create_table(
        "events",
        sa.Column("seq", Id, primary_key=True, autoincrement=False),
        sa.Column("event_hash", T, nullable=False),
        sa.Column("event_id", T),
        sa.Column("event_type", T, nullable=False),
        *(sa.Column(n, T) for n in ("action", "biz_step", "disposition")),
        *(
            sa.Column(n, T, nullable=False)
            for n in ("event_time", "event_time_offset", "record_time")
        ),
        *(sa.Column(n, T) for n in ("read_point", "biz_location")),
        sa.Column("epc_count", sa.Integer, nullable=False),
        sa.Column("declares_seq", Id),
        sa.Column("declared_by_seq", Id),
    )
    op.create_index("ix_events_hash", "events", ["event_hash"])
    op.create_index("ix_events_event_id", "events", ["event_id"])
    op.create_index("ix_events_time", "events", ["event_time"])
    op.create_index("ix_events_record_time", "events", ["record_time"])
    op.create_index("ix_events_biz_step", "events", ["biz_step", "event_time"])
    op.create_index("ix_events_biz_location", "events", ["biz_location", "event_time"])
    op.create_table(
        "event_epcs",
        sa.Column("unit_id", Id, nullable=False),
        sa.Column("seq", Id, nullable=False),
        sa.Column("role", T, nullable=False),
        sa.PrimaryKeyConstraint("unit_id", "seq", "role"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "products",
        sa.Column("gtin", T, primary_key=True),
        *(
            sa.Column(n, T)
            for n in ("ndc", "name", "form", "strength", "net_content", "manufacturer")
        ),
        sa.Column("attributes", T, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("first_seq", Id, nullable=False),
        sa.Column("last_seq", Id, nullable=False),
    )
    op.create_table(
        "locations",
        sa.Column("key", T, primary_key=True),
        sa.Column("name", T),
        sa.Column("attributes", T, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("first_seq", Id, nullable=False),
        sa.Column("last_seq", Id, nullable=False),
    )
    op.create_table(
        "lots",
        sa.Column("gtin", T, nullable=False),
        sa.Column("lot", T, nullable=False),
        sa.Column("expiry", T),
        sa.Column("first_seq", Id, nullable=False),
        sa.PrimaryKeyConstraint("gtin", "lot"),
    )
    op.create_table(
        "exceptions",
        sa.Column("seq", Id, primary_key=True, autoincrement=False),
        *(
            sa.Column(n, T, nullable=False)
            for n in ("recorded_at", "source", "type", "severity", "status")
        ),
        *(sa.Column(n, T) for n in ("document", "document_sha256")),
        sa.Column("reason", T, nullable=False),
        sa.Column("identifiers", T, nullable=False),
    )
    op.create_index("ix_exceptions_status", "exceptions", ["status"])


def downgrade() -> None:
    for table in (
        "exceptions",
        "lots",
        "locations",
        "products",
        "event_epcs",
        "events",
        "units",
        "log",
        "meta",
    ):
        op.drop_table(table)
