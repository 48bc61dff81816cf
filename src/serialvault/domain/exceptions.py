"""The exception register's rules: types, severities, the workflow and what closing needs (pure).

An exception is a deviation someone must look at: a document the capture refused, a
rule an event broke, a case that holds the wrong count, a serial nobody allocated, a
reconciliation or a drill that failed (EU GMP Annex 11 §13 "incident management";
21 CFR 211.192 investigation of discrepancies). Each is opened by one ``exception``
log record and worked through ``exception.action`` records:

``open → investigating → resolved → closed`` (``reopen`` goes back to ``open``).

Closing is a quality decision: it needs the resolution recorded, a ``qa`` user other
than the one who resolved it (separation of duties), and an electronic signature over
the SHA-256 of the exception's content as closed (21 CFR 11.50, 11.70) — and, for a
``major`` or ``critical`` one, a linked CAPA or a justification the signature covers
(ICH Q10 §3.2.2: a CAPA system for significant deviations).

Types are what was wrong, not who noticed it; ``origin`` says where it came from
(document, line, partner, drill, backup, reconciliation, person).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from serialvault.canonical import canonical_json

OPEN = "open"
INVESTIGATING = "investigating"
RESOLVED = "resolved"
CLOSED = "closed"
STATUSES: tuple[str, ...] = (OPEN, INVESTIGATING, RESOLVED, CLOSED)

SEVERITIES: tuple[str, ...] = ("minor", "major", "critical")
#: Severities that cannot be closed without a CAPA or a signed justification.
NEEDS_CAPA: frozenset[str] = frozenset({"major", "critical"})


@dataclass(frozen=True, slots=True)
class ExceptionType:
    """A type of exception: what it means, its usual severity and the role that owns it."""

    name: str
    about: str
    severity: str
    owner: str


#: Every exception type the register knows, in the order the issue lists them.
TYPES: dict[str, ExceptionType] = {
    t.name: t
    for t in (
        ExceptionType(
            "rejected-document",
            "a document refused by the EPCIS schema, the CBV vocabulary or an identifier check",
            "major",
            "operator",
        ),
        ExceptionType(
            "rule-violation",
            "a document refused by a lifecycle or hierarchy rule (duplicate commission,"
            " uncommissioned or decommissioned child, second parent, cycle)",
            "major",
            "operator",
        ),
        ExceptionType(
            "count-mismatch",
            "a case or pallet whose count differs from its packaging configuration",
            "minor",
            "operator",
        ),
        ExceptionType(
            "master-data-mismatch",
            "a document's master data that differs from the recorded version",
            "minor",
            "qa",
        ),
        ExceptionType(
            "unallocated-serial",
            "a unit commissioned with a serial its pool never allocated (EU 2016/161 Art. 4)",
            "major",
            "qa",
        ),
        ExceptionType(
            "reconciliation-failure",
            "a reconciliation rule that failed against the repository",
            "critical",
            "qa",
        ),
        ExceptionType(
            "drill-deviation", "a backup/restore drill criterion that failed", "major", "admin"
        ),
        ExceptionType(
            "interface-rejection",
            "input from a line or partner that could not be read as an EPCIS document",
            "major",
            "operator",
        ),
        ExceptionType(
            "line-deviation",
            "a deviation seen on the line or in the warehouse (damaged pack, unreadable code)",
            "minor",
            "operator",
        ),
        ExceptionType(
            "log-integrity", "a log that does not verify against its chain", "critical", "admin"
        ),
        ExceptionType(
            "projection-mismatch",
            "projections that differ from what the log replays to",
            "critical",
            "admin",
        ),
    )
}

#: Type names written by earlier versions, read as the type they meant.
LEGACY_TYPES: dict[str, str] = {
    "input": "interface-rejection",
    "validation": "rejected-document",
    "rule": "rule-violation",
}


def type_of(name: str) -> ExceptionType:
    """The type named ``name`` (an earlier version's name maps to its successor); an
    unknown name is kept with a neutral meaning, never refused — it is history.

    >>> type_of("rule").name
    'rule-violation'
    >>> type_of("something-new").owner
    'qa'
    """
    name = LEGACY_TYPES.get(name, name)
    return TYPES.get(name) or ExceptionType(name, "a deviation", "major", "qa")


def exception_id(seq: int) -> str:
    """An exception's id: ``EX-`` and the seq of the record that opened it.

    >>> exception_id(17)
    'EX-17'
    """
    return f"EX-{seq}"


def parse_exception_id(text: str) -> int | None:
    """The seq an exception id names (``EX-17``, ``ex-17`` or ``17``); ``None`` if none.

    >>> parse_exception_id("ex-17"), parse_exception_id("17"), parse_exception_id("CR-1")
    (17, 17, None)
    """
    value = text.strip().upper().removeprefix("EX-")
    return int(value) if value.isdigit() and 0 < len(value) < 19 else None


#: Workflow actions and the statuses each may start from; ``None`` keeps the status.
ACTIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "assign": (frozenset({OPEN, INVESTIGATING}), INVESTIGATING),
    "investigate": (frozenset({OPEN}), INVESTIGATING),
    "comment": (frozenset({OPEN, INVESTIGATING, RESOLVED}), None),
    "rework": (frozenset({OPEN, INVESTIGATING}), INVESTIGATING),
    "seen-again": (frozenset({OPEN, INVESTIGATING, RESOLVED}), None),
    "resolve": (frozenset({OPEN, INVESTIGATING}), RESOLVED),
    "close": (frozenset({RESOLVED}), CLOSED),
    "reopen": (frozenset({RESOLVED, CLOSED}), OPEN),
}


def transition_problem(action: str, status: str) -> str | None:
    """Why ``action`` cannot be taken on an exception that is ``status`` (``None`` if it can).

    >>> transition_problem("close", "open")
    'it is open: only a resolved exception can be closed (resolve it first, with a resolution)'
    >>> transition_problem("comment", "closed")
    'it is closed, and a closed exception is locked: reopen it first, saying why'
    >>> transition_problem("resolve", "investigating") is None
    True
    """
    allowed, _ = ACTIONS[action]
    if status in allowed:
        return None
    if action == "close":
        return f"it is {status}: only a resolved exception can be closed" + (
            " (resolve it first, with a resolution)" if status != CLOSED else ""
        )
    if status == CLOSED:
        return "it is closed, and a closed exception is locked: reopen it first, saying why"
    if action == "reopen":
        return f"it is {status}: only a resolved or closed exception can be reopened"
    return f"it is {status}; {action} applies to {' or '.join(sorted(allowed))} exceptions"


def status_after(action: str, status: str) -> str:
    """The status an action leaves.

    >>> status_after("comment", "investigating"), status_after("resolve", "open")
    ('investigating', 'resolved')
    """
    return ACTIONS[action][1] or status


def closure_problem(
    severity: str, *, resolution: str | None, capas: Sequence[str], justification: str | None
) -> str | None:
    """Why an exception cannot be closed as it stands (``None`` if it can).

    >>> closure_problem("minor", resolution=None, capas=(), justification=None)
    'it has no resolution: resolve it first (exception resolve ID --resolution TEXT)'
    >>> closure_problem("major", resolution="re-packed", capas=(), justification=None)[:40]
    'it is major: closing needs a linked CAPA'
    >>> closure_problem("critical", resolution="x", capas=("CAPA-9",), justification=None) is None
    True
    """
    if not resolution or not resolution.strip():
        return "it has no resolution: resolve it first (exception resolve ID --resolution TEXT)"
    if severity in NEEDS_CAPA and not capas and not (justification and justification.strip()):
        return (
            f"it is {severity}: closing needs a linked CAPA (capa new … --exception ID) or a"
            " justification for why none is needed (--justification TEXT), which your"
            " signature covers"
        )
    return None


def closure_content(
    exception: Mapping[str, Any],
    *,
    resolution: str,
    capas: Sequence[str],
    justification: str | None,
    history: Sequence[int],
) -> dict[str, Any]:
    """What a closing signature is over: the exception as it is closed — what was wrong,
    its resolution, its CAPA links, the justification, and the seqs of every action on
    it — so the signature cannot move to another exception or survive an edit."""
    return {
        "exception": exception_id(int(exception["seq"])),
        "type": exception["type"],
        "severity": exception["severity"],
        "reason": exception["reason"],
        "identifiers": list(exception["identifiers"]),
        "resolution": resolution,
        "capas": sorted(capas),
        "justification": justification,
        "history": list(history),
    }


def content_sha256(content: Mapping[str, Any]) -> str:
    """SHA-256 of the RFC 8785 canonical form of ``content`` (what a signature signs)."""
    return hashlib.sha256(canonical_json(content)).hexdigest()
