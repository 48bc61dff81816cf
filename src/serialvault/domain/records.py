"""Bodies of the log records the domain writes, and reading them back.

Each accepted EPCIS event is one log record of kind ``epcis.event`` whose body keeps the
event exactly as received (ALCOA+ "original") together with what is needed to
interpret it again without the source document: the namespace prefixes it uses, its
GS1 event hash, and where it came from (document name, SHA-256 of the document bytes,
position in the document, syntax and EPCIS version). Replaying these bodies is how
``rebuild`` and a point-in-time restore recreate every projection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from serialvault.domain.facts import EventFacts, extract_facts

EVENT = "epcis.event"
PRODUCT = "masterdata.product"
LOCATION = "masterdata.location"
PARTNER = "masterdata.partner"
EXCEPTION = "exception"
EXCEPTION_ACTION = "exception.action"
CAPA = "capa.version"
INSPECTION_PACK = "inspection.pack"
INIT = "repository.init"
REBUILD = "maintenance.rebuild"
TIMELINE = "backup.timeline"
DRILL_PLAN = "drill.plan"
DRILL_RUN = "drill.run"
DRILL_SIGNOFF = "drill.signoff"
USER = "user.account"
PASSWORD = "user.password"
TOKEN = "user.token"
LOGIN = "auth.login"
LOGOUT = "auth.logout"
AUTH_FAILURE = "auth.failure"
SIGNATURE = "user.signature"
IDENTITY_POLICY = "config.identity"
CHANGE_DRAFT = "change.draft"
CHANGE_DECISION = "change.decision"
REVIEW_AUDIT = "review.audit"
REVIEW_ACCESS = "review.access"
REVIEW_SIGNOFF = "review.signoff"
SERIAL_POOL = "serials.pool"
SERIAL_ALLOCATION = "serials.allocation"
SERIAL_RETURN = "serials.return"

#: Who writes a record kind. The roles are those of the accounts to come (21 CFR
#: 11.10(d), (g): authority checks); ``system`` marks records serialvault writes on its
#: own in the course of another operation (a rejection, a drill deviation).
ROLES = frozenset({"operator", "qa", "auditor", "admin", "service", "system"})


@dataclass(frozen=True, slots=True)
class RecordKind:
    """One kind of log record: its name, the version of its body's shape, who may
    write it, and whether replaying it writes projection rows (``rebuild``, restore)."""

    kind: str
    version: int
    writers: frozenset[str]
    projected: bool
    about: str


def _kind(kind: str, writers: str, about: str, *, projected: bool = False) -> RecordKind:
    return RecordKind(kind, 1, frozenset(writers.split()), projected, about)


#: The catalogue of every record kind the log holds — the one place a new kind is
#: declared. ``LogAppender.append`` refuses a kind that is not here, so a record nobody
#: declared cannot enter the chain (ALCOA+ "consistent": every record has a known meaning).
CATALOGUE: dict[str, RecordKind] = {
    k.kind: k
    for k in (
        _kind(INIT, "admin", "genesis: repository id, log format, schema and tool version"),
        _kind(
            EVENT, "operator service", "an EPCIS event as received (EPCIS 2.0 §7)", projected=True
        ),
        _kind(PRODUCT, "admin qa", "a version of a product's master data", projected=True),
        _kind(LOCATION, "operator service admin", "a version of a location (GLN)", projected=True),
        _kind(PARTNER, "admin qa", "a version of a trading partner (GLN, licence)", projected=True),
        _kind(EXCEPTION, "system operator qa admin", "a rejection or deviation", projected=True),
        _kind(
            EXCEPTION_ACTION,
            "system operator qa admin",
            "a step in an exception's workflow: assign, comment, rework, resolve, close, reopen",
            projected=True,
        ),
        _kind(
            INSPECTION_PACK,
            "qa admin",
            "an inspection pack written: its period, files and the SHA-256 of its checksums",
        ),
        _kind(
            CAPA,
            "operator qa",
            "a version of a corrective and preventive action (ICH Q10 §3.2.2)",
            projected=True,
        ),
        _kind(REBUILD, "admin", "projections rebuilt from the log, with both fingerprints"),
        _kind(TIMELINE, "admin", "earlier backup heads abandoned on purpose, and why"),
        _kind(DRILL_PLAN, "admin qa", "a version of a backup/restore drill plan"),
        _kind(DRILL_RUN, "admin qa", "a drill's verdict, RTO and RPO"),
        _kind(DRILL_SIGNOFF, "qa", "a reviewer's sign-off of a drill's evidence"),
        _kind(USER, "admin", "a version of a user account: name, roles, status", projected=True),
        _kind(
            PASSWORD,
            "admin operator qa auditor",
            "a new password's Argon2id hash (never the password)",
            projected=True,
        ),
        _kind(TOKEN, "admin", "an API token issued or revoked (its hash only)", projected=True),
        _kind(LOGIN, "system", "a successful log-in (21 CFR 11.10(e))", projected=True),
        _kind(LOGOUT, "system", "a session ended by its user or by expiry"),
        _kind(AUTH_FAILURE, "system", "a failed log-in or signature (11.300(d))", projected=True),
        _kind(
            SIGNATURE,
            "operator qa auditor admin",
            "an electronic signature: signer, meaning, SHA-256 of what was signed (11.50)",
            projected=True,
        ),
        _kind(IDENTITY_POLICY, "admin", "a version of the password and session policy"),
        _kind(
            CHANGE_DRAFT,
            "operator qa admin",
            "a proposed change to a controlled object: before, after, why (Annex 11 §10)",
            projected=True,
        ),
        _kind(
            CHANGE_DECISION,
            "qa",
            "a change approved (with its signature and effective time) or rejected",
            projected=True,
        ),
        _kind(
            REVIEW_AUDIT,
            "qa",
            "an audit-trail review of a period: seq range, chain hash, counts, SHA-256 of"
            " its report files (21 CFR 11.10(e); Annex 11 §9)",
        ),
        _kind(
            REVIEW_ACCESS,
            "qa",
            "an access review: every account, its roles, grants and revocations, SHA-256 of"
            " its report files (Annex 11 (2025 draft) §11)",
        ),
        _kind(
            REVIEW_SIGNOFF,
            "qa",
            "a reviewer's signed sign-off of an audit-trail or access review (11.50, 11.70)",
        ),
        _kind(
            SERIAL_POOL,
            "admin qa",
            "a version of a GTIN's serial number pool: alphabet, length, expected volume"
            " (EU FMD Art. 4(b))",
            projected=True,
        ),
        _kind(
            SERIAL_ALLOCATION,
            "operator admin service",
            "serials handed out to a line or order, every serial listed",
            projected=True,
        ),
        _kind(
            SERIAL_RETURN,
            "operator admin service",
            "unused serials of an allocation handed back, never to be handed out again",
            projected=True,
        ),
    )
}


#: The record kinds R8 counts: who could act, who signed what, the controlled objects.
GOVERNANCE_KINDS = (
    USER,
    PASSWORD,
    TOKEN,
    SIGNATURE,
    LOGIN,
    LOGOUT,
    AUTH_FAILURE,
    IDENTITY_POLICY,
    CHANGE_DRAFT,
    CHANGE_DECISION,
    PRODUCT,
    LOCATION,
    PARTNER,
    DRILL_PLAN,
    DRILL_SIGNOFF,
    REVIEW_AUDIT,
    REVIEW_ACCESS,
    REVIEW_SIGNOFF,
    INSPECTION_PACK,
    SERIAL_POOL,
)


def record_kind(kind: str) -> RecordKind | None:
    """The catalogue entry of ``kind`` (``None`` for a kind serialvault never writes).

    >>> record_kind("epcis.event").projected
    True
    >>> record_kind("no.such.kind") is None
    True
    """
    return CATALOGUE.get(kind)


@dataclass(frozen=True, slots=True)
class Source:
    """Where an event came from."""

    document: str
    sha256: str
    syntax: str
    version: str

    def as_dict(self, index: int) -> dict[str, Any]:
        return {
            "document": self.document,
            "sha256": self.sha256,
            "index": index,
            "syntax": self.syntax,
            "epcis_version": self.version,
        }


def event_body(
    event: Mapping[str, Any],
    event_hash: str,
    namespaces: Mapping[str, str],
    source: Source,
    index: int,
) -> dict[str, Any]:
    return {
        "event": event,
        "event_hash": event_hash,
        "namespaces": dict(namespaces),
        "source": source.as_dict(index),
    }


def facts_from_body(body: bytes | str, index: int = 0) -> tuple[EventFacts, dict[str, Any]]:
    """Re-derive the facts of an ``epcis.event`` record (for replay and history)."""
    data = orjson.loads(body)
    facts = extract_facts(data["event"], index, data["event_hash"], data.get("namespaces") or {})
    return facts, data
