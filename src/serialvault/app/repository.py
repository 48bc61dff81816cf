"""Operations on the repository itself: create it, capture EPCIS into it, look at it,
rebuild its projections, verify its audit trail.

Capture is the system of record's front door (DESIGN.md "Capture pipeline"): each
document all-or-nothing, acknowledged only after commit, a rejection recorded as an
exception. ``audit verify`` is 21 CFR 11.10(e)'s audit trail checked end to end, against
the signed checkpoints kept outside the database (Annex 11 §9).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from serialvault.app.context import Backups, open_as, open_to_read
from serialvault.backup.anchors import Witness, witness_path
from serialvault.backup.guard import AnchoredAudit, audit_log
from serialvault.domain.access import Action
from serialvault.errors import InputError, SerialvaultError, UsageError
from serialvault.settings import Settings
from serialvault.store import queries
from serialvault.store.capture import Capturer, CaptureResult
from serialvault.store.engine import sqlite_path
from serialvault.store.fingerprint import Fingerprint, fingerprint
from serialvault.store.integrity import ProjectionCheck, RebuildResult, check_projections, rebuild

#: File name endings ``capture`` takes from a folder.
DOC_SUFFIXES = (".json", ".jsonld", ".xml")
#: The name that stands for standard input.
STDIN = "-"


def capture_inputs(paths: list[str]) -> list[tuple[str, Path | None]]:
    """The documents named: files, the documents of folders (in name order, recursively),
    and ``-`` for standard input (``None`` path)."""
    found: list[tuple[str, Path | None]] = []
    for p in paths:
        if p == STDIN:
            found.append((STDIN, None))
            continue
        path = Path(p)
        if path.is_dir():
            files = sorted(
                f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in DOC_SUFFIXES
            )
            if not files:
                raise InputError(f"{p}: no .json, .jsonld or .xml documents in this folder")
            found += [(str(f), f) for f in files]
        elif path.is_file():
            found.append((p, path))
        else:
            raise InputError(f"{p}: no such file or folder")
    return found


Outcome = CaptureResult | SerialvaultError


@dataclass
class CaptureBatch:
    """What a capture of several documents did: each acknowledgement and each rejection,
    in input order; ``exit_code`` is the first rejection's (0 when all were captured)."""

    documents: int
    captured: list[CaptureResult] = field(default_factory=list)
    rejected: list[tuple[str, SerialvaultError]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return self.rejected[0][1].exit_code if self.rejected else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "captured": [r.to_dict() for r in self.captured],
            "rejected": [{"document": n, **e.to_dict()} for n, e in self.rejected],
        }


def _outcomes(
    capturer: Capturer, inputs: list[tuple[str, Path | None]], stdin: BinaryIO | None
) -> Iterator[tuple[str, Outcome]]:
    """Outcomes in input order: files through the two-process pipeline, stdin inline."""
    files: list[Path] = []
    for name, path in inputs:
        if path is not None:
            files.append(path)
            continue
        yield from ((str(f), o) for f, o in capturer.capture_files(files))
        files = []
        try:
            if stdin is None:
                raise InputError("- names standard input, but there is none here")
            yield name, capturer.capture_stream(stdin, name)
        except SerialvaultError as exc:
            yield name, exc
    yield from ((str(f), o) for f, o in capturer.capture_files(files))


def capture(
    settings: Settings,
    db: str | None,
    paths: list[str],
    *,
    reason: str | None = None,
    keep_going: bool = False,
    stdin: BinaryIO | None = None,
    on_outcome: Callable[[str, Outcome], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    origin: str | None = None,
) -> CaptureBatch:
    """Capture EPCIS documents (JSON-LD or XML, 2.0 or 1.2), each all-or-nothing, in
    order; stop at the first rejection unless ``keep_going``. The settings give the
    size limits and extra schemas, for this process and the one that prepares.
    ``on_start`` is told how many documents the paths name. ``origin`` (``line:NAME``
    or ``partner:GLN``; a service account's default is ``line:`` and its id) is where
    the documents came from, as the exception register records it."""
    origin = check_origin(origin)
    inputs = capture_inputs(paths)
    if on_start is not None:
        on_start(len(inputs))
    repo, who = open_as(settings, db, Action.CAPTURE)
    capturer = Capturer(
        repo,
        actor=who.actor,
        reason=reason or "EPCIS capture",
        extra_schemas=settings.extra_schemas(),
        limits=settings.limits,
        origin=origin or (f"line:{who.user_id}" if who.kind == "service" else None),
    )
    batch = CaptureBatch(len(inputs))
    for name, outcome in _outcomes(capturer, inputs, stdin):
        if on_outcome is not None:
            on_outcome(name, outcome)
        if isinstance(outcome, SerialvaultError):
            batch.rejected.append((name, outcome))
            if not keep_going:
                break
        else:
            batch.captured.append(outcome)
    if batch.captured:
        repo.refresh_statistics()
    return batch


@dataclass(frozen=True)
class Status:
    db: str
    units: dict[str, dict[str, int]]
    counts: dict[str, int]
    head_seq: int
    head_chain: str
    head_recorded_at: str | None
    fingerprint: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "db": self.db,
            "units": self.units,
            "counts": self.counts,
            "head_seq": self.head_seq,
            "head_chain": self.head_chain,
            "head_recorded_at": self.head_recorded_at,
            "fingerprint": self.fingerprint,
        }


def status(settings: Settings, db: str | None) -> Status:
    """Identifiers by kind and status, row counts, chain head and fingerprint."""
    repo = open_to_read(settings, db)
    with repo.read() as conn:
        counts = queries.counts(conn)
        units = queries.unit_summary(conn)
        fp = fingerprint(conn)
    head = repo.head()
    return Status(
        repo.display_url, units, counts, head.seq, head.chain_hash, head.recorded_at, fp.value
    )


def check_origin(origin: str | None) -> str | None:
    """``--from``: ``line:NAME`` or ``partner:GLN`` (``None`` when not given).

    >>> check_origin("line:L3")
    'line:L3'
    """
    if origin is None:
        return None
    kind, _, ident = origin.strip().partition(":")
    if kind not in ("line", "partner") or not ident.strip() or len(ident) > 200:
        raise UsageError(f"--from {origin!r}: line:NAME (a packaging line) or partner:GLN")
    return f"{kind}:{ident.strip()}"


def state_fingerprint(
    settings: Settings, db: str | None, on_table: Callable[[str], None] | None = None
) -> Fingerprint:
    """The order-independent digest of every projection (DESIGN.md "Fingerprint")."""
    with open_to_read(settings, db).read() as conn:
        return fingerprint(conn, on_table=on_table)


def rebuild_projections(
    settings: Settings,
    db: str | None,
    *,
    reason: str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> RebuildResult:
    """Recreate every projection from the log in one transaction and record it; the
    fingerprint before and after must be the same (DESIGN.md principle 1)."""
    repo, who = open_as(settings, db, Action.MAINTAIN)
    return rebuild(
        repo,
        actor=who.actor,
        reason=reason or "projections rebuilt from the log",
        on_progress=on_progress,
    )


def check_projections_against_log(settings: Settings, db: str | None) -> ProjectionCheck:
    """R9: replay the log into a scratch database and name every projection row that
    differs; writes nothing."""
    with open_to_read(settings, db).read() as conn:
        return check_projections(conn)


def head_seq(settings: Settings, db: str | None) -> int:
    """The log's head seq (for a progress bar's total)."""
    return open_to_read(settings, db).head().seq


def audit_verify(
    settings: Settings,
    db: str | None,
    *,
    policy: str | None = None,
    public_key: str | None = None,
    use_copies: bool = True,
    on_progress: Callable[[int], None] | None = None,
) -> AnchoredAudit:
    """Walk the chain from genesis and compare it with every signed checkpoint it can
    reach: the witness beside the repository and, with ``use_copies``, the manifests and
    checkpoints on the policy's copies (a truncation or rewrite names its seq)."""
    repo = open_to_read(settings, db)
    ctx = Backups.load(settings, policy=policy, public_key=public_key)
    pol = ctx.policy
    states = [c.open() for c in ctx.copies] if use_copies and pol.copies else []
    rid = repo.meta().get("repository_id", "")
    witness = Witness(witness_path(sqlite_path(repo.url), rid, pol.witness, pol.state_dir))
    return audit_log(
        repo,
        verify=ctx.verify_key_if_any(),
        witness=witness,
        states=states,
        key=ctx.encryption_key_if_any(),
        on_progress=on_progress,
    )
