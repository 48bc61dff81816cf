"""The relational schema: one log and the projections derived from it.

Design (DESIGN.md "Repository"): the ``log`` table is the source of truth — append-only,
gap-free ``seq``, hash-chained. Every other table is a projection that ``rebuild``
recreates bit for bit by replaying the log, and whose content the state fingerprint
summarises.

Portability decisions, so one code path serves SQLite and PostgreSQL and the
fingerprint is identical on both:

* Timestamps are TEXT in one fixed-width UTC form (``2026-01-05T06:00:00.000000Z``), so
  they compare and sort as strings on both engines and render identically everywhere.
* Hashes are lower-case hex TEXT.
* Booleans and small enums are TEXT/INTEGER, never engine-specific types.
* Surrogate ids (``units.id``) are assigned by the single writer in first-seen order,
  never by an engine sequence, so a replay on another engine reproduces them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)

#: Schema revision this code reads and writes (also the Alembic head).
SCHEMA_VERSION = "0005"

metadata = MetaData()

# INTEGER on SQLite makes a primary key the rowid alias (fast); BIGINT elsewhere.
Id = BigInteger().with_variant(Integer(), "sqlite")

meta = Table(
    "meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)  # Repository identity and format (not a projection of the log).

log = Table(
    "log",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),
    Column("recorded_at", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("body_hash", Text, nullable=False),
    Column("chain_hash", Text, nullable=False),
)  # Append-only, hash-chained source of truth (DESIGN.md principle 1).
Index("ix_log_kind", log.c.kind)
Index("ix_log_recorded_at", log.c.recorded_at)

units = Table(
    "units",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=False),
    Column("key", Text, nullable=False, unique=True),
    # 'sgtin' | 'sscc' | 'other' (identifiers seen in events but not lifecycle-managed)
    Column("kind", Text, nullable=False),
    Column("gtin", Text),
    # 'active' | 'shipped' | 'decommissioned' | 'consumed'; NULL for kind 'other'
    Column("status", Text),
    Column("disposition", Text),
    Column("parent_id", Id),
    Column("lot", Text),
    Column("expiry", Text),
    # where the unit is (the bizLocation of its latest event); read points stay with
    # the events
    Column("biz_location", Text),
    Column("commissioned_seq", Id),
    Column("last_seq", Id, nullable=False),
    Column("last_event_time", Text),
    # 1 once anything has been packed into it (never reset).
    Column("is_container", Integer, nullable=False),
)  # Current state of every identifier (projection).
# Only the indexes point queries need: every extra index costs on each of the millions of
# row writes capture makes; aggregate counts (per GTIN, lot, status) scan the table.
# (parent_id, key, kind, is_container) covers the contents query: a pallet's contents are read
# from the index alone, level by level, stopping at leaves.
Index("ix_units_parent", units.c.parent_id, units.c.key, units.c.kind, units.c.is_container)

events = Table(
    "events",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),
    Column("event_hash", Text, nullable=False),
    Column("event_id", Text),
    Column("event_type", Text, nullable=False),
    Column("action", Text),
    Column("biz_step", Text),
    Column("disposition", Text),
    Column("event_time", Text, nullable=False),
    Column("event_time_offset", Text, nullable=False),
    Column("record_time", Text, nullable=False),
    Column("read_point", Text),
    Column("biz_location", Text),
    Column("epc_count", Integer, nullable=False),
    # For an error declaration: the seq of the event it declares erroneous.
    Column("declares_seq", Id),
    # For an event later declared erroneous: the seq of that declaration.
    Column("declared_by_seq", Id),
)  # Captured EPCIS events (projection; bodies live in the log).
Index("ix_events_hash", events.c.event_hash)
Index("ix_events_event_id", events.c.event_id)
Index("ix_events_time", events.c.event_time)
Index("ix_events_record_time", events.c.record_time)
Index("ix_events_biz_step", events.c.biz_step, events.c.event_time)
Index("ix_events_biz_location", events.c.biz_location, events.c.event_time)

# role: 'epc' (epcList), 'parent', 'child', 'input', 'output', 'via' (affected through a
# container: shipping or decommissioning a pallet reaches its contents).
event_epcs = Table(
    "event_epcs",
    metadata,
    Column("unit_id", Id, nullable=False),
    Column("seq", Id, nullable=False),
    Column("role", Text, nullable=False),
    PrimaryKeyConstraint("unit_id", "seq", "role"),
    sqlite_with_rowid=False,
)  # Which identifiers each event touched, and how (projection).
# No index on seq alone: "which units did event N touch" is only asked when an event is
# declared erroneous (rare, a scan is fine); an index would tax every capture.

products = Table(
    "products",
    metadata,
    Column("gtin", Text, primary_key=True),
    Column("ndc", Text),
    Column("name", Text),
    Column("form", Text),
    Column("strength", Text),
    Column("net_content", Text),
    Column("manufacturer", Text),
    # canonical JSON: packaging level, other attributes as received
    Column("attributes", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("first_seq", Id, nullable=False),
    Column("last_seq", Id, nullable=False),
)  # Product master data (projection of masterdata.product records).

locations = Table(
    "locations",
    metadata,
    Column("key", Text, primary_key=True),
    Column("name", Text),
    Column("attributes", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("first_seq", Id, nullable=False),
    Column("last_seq", Id, nullable=False),
)  # Location master data (projection of masterdata.location records).

partners = Table(
    "partners",
    metadata,
    Column("key", Text, primary_key=True),
    Column("name", Text),
    Column("licence", Text),
    Column("attributes", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("first_seq", Id, nullable=False),
    Column("last_seq", Id, nullable=False),
)  # Trading partners (projection of masterdata.partner records; schema 0003).

lots = Table(
    "lots",
    metadata,
    Column("gtin", Text, nullable=False),
    Column("lot", Text, nullable=False),
    Column("expiry", Text),
    Column("first_seq", Id, nullable=False),
    PrimaryKeyConstraint("gtin", "lot"),
)  # Lots with their expiry, from commissioning ILMD (projection).

exceptions = Table(
    "exceptions",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),
    Column("recorded_at", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("document", Text),
    Column("document_sha256", Text),
    Column("reason", Text, nullable=False),
    # canonical JSON list of the identifiers involved
    Column("identifiers", Text, nullable=False),
)  # Rejected input and other deviations (projection of exception records).
Index("ix_exceptions_status", exceptions.c.status)

# Accounts, credentials, tokens and signatures (21 CFR 11.10(d), 11.100, 11.300):
# projections of the ``user.*`` and ``signature`` records, so a restore brings back who
# could act and who signed exactly as it brings back the events (R8).
users = Table(
    "users",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False),  # 'person' | 'service'
    Column("status", Text, nullable=False),  # 'active' | 'disabled' | 'locked'
    Column("roles", Text, nullable=False),  # canonical JSON list, sorted
    Column("failures", Integer, nullable=False),  # consecutive failed log-ins
    Column("locked_at", Text),  # when the last lockout began (NULL: not locked)
    # canonical JSON list of the ids of the Ed25519 reviewer keys registered to the user
    Column("reviewer_keys", Text, nullable=False),
    Column("created_seq", Id, nullable=False),
    Column("last_seq", Id, nullable=False),
)  # User accounts, never deleted (11.100(a)); projection of user.account records.

credentials = Table(
    "credentials",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("seq", Id, nullable=False),
    Column("hash", Text, nullable=False),  # Argon2id, salted (PHC string)
    Column("temporary", Integer, nullable=False),  # 1: set by an admin, to be replaced
    PrimaryKeyConstraint("user_id", "seq"),
)  # Every password a user has had, newest last (history rule); user.password records.

tokens = Table(
    "tokens",
    metadata,
    Column("token_id", Text, primary_key=True),
    Column("user_id", Text, nullable=False),
    Column("sha256", Text, nullable=False),  # of the secret; the secret is never stored
    Column("label", Text, nullable=False),
    Column("created_seq", Id, nullable=False),
    Column("revoked_seq", Id),
)  # API and service tokens (projection of user.token records).

signatures = Table(
    "signatures",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),
    Column("signed_at", Text, nullable=False),
    Column("signer", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("meaning", Text, nullable=False),
    Column("subject", Text, nullable=False),  # what was signed, e.g. 'drill-evidence:RUN'
    Column("sha256", Text, nullable=False),  # of the content signed (11.70: linking)
)  # Electronic signatures (21 CFR 11.50, 11.70); projection of signature records.
Index("ix_signatures_subject", signatures.c.subject)

changes = Table(
    "changes",
    metadata,
    Column("change_id", Text, primary_key=True),
    Column("seq", Id, nullable=False),  # of the draft record
    Column("object_type", Text, nullable=False),
    Column("object_key", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("author", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("before_json", Text, nullable=False),  # canonical JSON (null before version 1)
    Column("after_json", Text, nullable=False),
    Column("status", Text, nullable=False),  # 'draft' | 'approved' | 'rejected'
    Column("decided_by", Text),
    Column("decided_at", Text),
    Column("decision_reason", Text),
    Column("signature_seq", Id),
    Column("effective_from", Text),
)  # Change control (Annex 11 §10); projection of change.draft / change.decision records.
Index("ix_changes_object", changes.c.object_type, changes.c.object_key)

exception_actions = Table(
    "exception_actions",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),  # of the action record
    Column("exception_seq", Id, nullable=False),
    Column("action", Text, nullable=False),  # assign, comment, rework, resolve, close, …
    Column("actor", Text, nullable=False),
    Column("at", Text, nullable=False),
    Column("status", Text, nullable=False),  # the exception's status after the action
    Column("text", Text),  # comment, resolution, justification, or reason to reopen
    Column("detail", Text, nullable=False),  # canonical JSON of the rest of the body
)  # The exception workflow (projection of exception.action records; schema 0004).
Index("ix_exception_actions_exception", exception_actions.c.exception_seq)

capas = Table(
    "capas",
    metadata,
    Column("capa_id", Text, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("status", Text, nullable=False),  # 'open' | 'effectiveness-check' | 'closed'
    Column("title", Text, nullable=False),
    Column("next_due", Text),  # earliest due date of an action not done, or of the check
    Column("content", Text, nullable=False),  # canonical JSON of the CAPA as now
    Column("opened_by", Text, nullable=False),
    Column("opened_at", Text, nullable=False),
    Column("first_seq", Id, nullable=False),
    Column("last_seq", Id, nullable=False),
)  # Corrective and preventive actions (ICH Q10 §3.2.2; projection of capa.version).

capa_links = Table(
    "capa_links",
    metadata,
    Column("capa_id", Text, nullable=False),
    Column("kind", Text, nullable=False),  # 'exception_id' | 'drill_id'
    Column("target", Text, nullable=False),  # EX-n, or a drill run id
    PrimaryKeyConstraint("capa_id", "kind", "target"),
)  # What each CAPA answers, as its latest version says.
Index("ix_capa_links_target", capa_links.c.kind, capa_links.c.target)
# Serial number pools (EU FMD Delegated Regulation (EU) 2016/161 Art. 4): projections of
# the ``serials.*`` records. Every serial a pool handed out, and every serial of a pooled
# GTIN commissioned without being handed out, is one row: a serial is made only if
# no row of its GTIN holds it, so none is ever handed out twice.
serial_pools = Table(
    "serial_pools",
    metadata,
    Column("gtin", Text, primary_key=True),
    Column("alphabet", Text, nullable=False),
    Column("length", Integer, nullable=False),
    Column("expected", BigInteger, nullable=False),  # the volume the bound was shown for
    Column("low_stock", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    Column("first_seq", Id, nullable=False),
    Column("last_seq", Id, nullable=False),
)  # One pool per GTIN, its newest version (projection of serials.pool records).

serial_allocations = Table(
    "serial_allocations",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),
    Column("gtin", Text, nullable=False),
    Column("target", Text, nullable=False),  # the line or order the serials went to
    Column("quantity", BigInteger, nullable=False),
    Column("recorded_at", Text, nullable=False),
)  # Allocations (projection of serials.allocation records; the serials are rows below).

serial_numbers = Table(
    "serial_numbers",
    metadata,
    Column("gtin", Text, nullable=False),
    # as the unit's canonical GS1 Digital Link key writes it (a pool's own serials are
    # literal there), so a commissioned key and its row meet without decoding
    Column("serial", Text, nullable=False),
    # 'allocated' | 'commissioned' | 'returned' | 'unallocated' (domain.serials)
    Column("status", Text, nullable=False),
    Column("allocation_seq", Id),  # NULL: never handed out by the pool
    Column("commissioned_seq", Id),
    Column("returned_seq", Id),
    PrimaryKeyConstraint("gtin", "serial"),
    sqlite_with_rowid=False,
)  # Every serial a pool knows (projection of serials.* records and commissioning events).
# No index on allocation_seq: every allocation would pay for it on each of its rows; an
# allocation's serials are read from its GTIN's range of the primary key.

sessions = Table(
    "sessions",
    metadata,
    Column("id_sha256", Text, primary_key=True),
    Column("user_id", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("last_used", Text, nullable=False),
    Column("signed", Integer, nullable=False),  # 1 once a signature was made in it
)  # Open log-in sessions: working state, not a projection. A SQLite snapshot carries the
# rows (secret hashes only); every restore clears them, so none opens a restored copy.

#: Projection tables in the fixed order used by the state fingerprint and rebuild.
PROJECTIONS: tuple[Table, ...] = (
    products,
    locations,
    lots,
    units,
    events,
    event_epcs,
    exceptions,
    users,
    credentials,
    tokens,
    signatures,
    changes,
    partners,
    exception_actions,
    capas,
    capa_links,
    serial_pools,
    serial_allocations,
    serial_numbers,
)

#: Projections added after the first schema: they enter the fingerprint only once they
#: hold rows, so the fingerprint of a repository that never had them (and of every
#: backup taken before they existed) is what it was.
LATER_PROJECTIONS = frozenset(
    {
        "users",
        "credentials",
        "tokens",
        "signatures",
        "changes",
        "partners",
        "exception_actions",
        "capas",
        "capa_links",
        "serial_pools",
        "serial_allocations",
        "serial_numbers",
    }
)
