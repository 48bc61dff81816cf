"""One exception tree for the whole product.

Every error a user can meet is a class here (or a subclass defined next to the code
that raises it). Each class carries the process exit code the CLI returns for it, so
the mapping documented in the README is the code itself. Messages always name *what*
was wrong — the value, the field, the event — because ALCOA+ "accurate" and a useful
exception record both depend on it.

Exit codes (also in the README):

====  =====================================================================
code  meaning
====  =====================================================================
0     success
1     unexpected internal error
2     command-line usage error
3     input could not be read (malformed JSON/XML, unreadable file)
4     input is invalid (schema, vocabulary, identifier, check digit)
5     a business rule rejected the input (lifecycle, hierarchy, master data)
6     the thing asked for does not exist (unit, product, event)
7     database or configuration problem (unreachable URL, not initialised)
8     integrity failure (broken hash chain, fingerprint mismatch)
9     conflict with existing data (e.g. product re-added with other values)
10    backup copy unusable (unreachable target, missing backup, bad policy)
11    key problem (missing, unreadable or wrong encryption or signing key)
12    a backup plan check found a warning (``backup plan --check``)
13    a drill was inconclusive (no criterion failed, one could not be judged)
14    a restore would go back in time: a newer backup is known than any copy can
      serve, or the target holds records the recovery point does not (name the
      point with ``--at`` / ``--backup`` to accept it)
====  =====================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class SerialvaultError(Exception):
    """Base class: an error with a user-facing message and an exit code."""

    exit_code: int = 1
    kind: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.kind, "message": self.message, "exit_code": self.exit_code}


class UsageError(SerialvaultError):
    """A command-line value is out of range or contradicts another (the usage code)."""

    exit_code = 2
    kind = "usage"


class InputError(SerialvaultError):
    """The input could not be read at all (not JSON/XML, truncated, unreadable file)."""

    exit_code = 3
    kind = "input"


class ValidationError(SerialvaultError):
    """The input was read but is not valid (schema, vocabulary, identifier)."""

    exit_code = 4
    kind = "validation"


class IdentifierError(ValidationError, ValueError):
    """A GS1 identifier (GTIN, SGTIN, SSCC, GLN, NDC, lot, expiry, EPC URI) is invalid.

    Raised by the pure ``serialvault.gs1`` core. The message names the offending value
    and the reason, e.g. ``Invalid GTIN '09521234543214': check digit is 4, expected 3.``
    It is also a ``ValueError`` so that generic parsing code can catch it as such.
    """

    kind = "identifier"


class RuleViolation(SerialvaultError):
    """A business rule (lifecycle, hierarchy, master data) rejected the input."""

    exit_code = 5
    kind = "rule"


class NotFound(SerialvaultError):
    """The unit, container, product or event asked for does not exist."""

    exit_code = 6
    kind = "not_found"


class StoreError(SerialvaultError):
    """The database cannot be used: unreachable, wrong URL, not initialised, wrong version."""

    exit_code = 7
    kind = "store"


class IntegrityFailure(SerialvaultError):
    """Tamper evidence failed: the hash chain or a fingerprint does not match."""

    exit_code = 8
    kind = "integrity"


class ConflictError(SerialvaultError):
    """The input conflicts with data already recorded."""

    exit_code = 9
    kind = "conflict"


class BackupError(SerialvaultError):
    """A backup copy cannot be used: unreachable target, no such backup, bad policy."""

    exit_code = 10
    kind = "backup"


class KeyProblem(SerialvaultError):
    """An encryption or signing key is missing, unreadable, unsafe or not the right one."""

    exit_code = 11
    kind = "key"


class PlanWarning(SerialvaultError):
    """``backup plan --check``: the schedule or the copies cannot meet RPO/RTO."""

    exit_code = 12
    kind = "plan"


class DrillInconclusive(SerialvaultError):
    """A drill in which no criterion failed but at least one could not be judged."""

    exit_code = 13
    kind = "inconclusive"


class OlderRecoveryPoint(SerialvaultError):
    """A restore would silently go back in time.

    Raised when the newest recovery point the reachable copies can serve is older than
    the newest backup the system knows of (another copy, a checkpoint, a signed check
    record, the witness file), or when the restore target holds records after the
    recovery point. The message names what is missing — which backup, where it was
    seen, how many records — and the restorable point; ``--at`` or ``--backup`` accepts
    an older point explicitly (borg and pgBackRest likewise never pick an older state
    than asked without saying so).
    """

    exit_code = 14
    kind = "older_recovery_point"

    def __init__(self, message: str, *, available_seq: int | None = None) -> None:
        super().__init__(message)
        self.available_seq = available_seq

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["available_seq"] = self.available_seq
        return d


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in a document, located as precisely as the input allows.

    ``event_index`` is 0-based in document order (messages print it 1-based as
    "event #n"); ``event_id`` is the event's eventID when it has one and ``event_hash``
    its GS1 event hash ID when it could be computed, so an operator can find the event
    in the source system. ``field`` is a JSON-pointer-like path inside the event
    (``epcList[3]``, ``ilmd.cbvmda:itemExpirationDate``); ``identifier`` the EPC or
    other value that was wrong.
    """

    message: str
    code: str = "invalid"
    event_index: int | None = None
    event_id: str | None = None
    event_hash: str | None = None
    field: str | None = None
    identifier: str | None = None

    def where(self) -> str:
        parts: list[str] = []
        if self.event_index is not None:
            ev = f"event #{self.event_index + 1}"
            ids = [x for x in (self.event_id, self.event_hash) if x]
            if ids:
                ev += f" ({', '.join(ids)})"
            parts.append(ev)
        if self.field:
            parts.append(f"field {self.field}")
        if self.identifier:
            parts.append(f"identifier {self.identifier}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "event_index": self.event_index,
            "event_id": self.event_id,
            "event_hash": self.event_hash,
            "field": self.field,
            "identifier": self.identifier,
        }


class _IssuesMixin:
    issues: tuple[Issue, ...]

    def _format(self, headline: str) -> str:
        lines = [headline]
        shown = self.issues[:20]
        lines.extend(f"  - {i}" for i in shown)
        if len(self.issues) > len(shown):
            lines.append(f"  ... and {len(self.issues) - len(shown)} more")
        return "\n".join(lines)


class DocumentInvalid(ValidationError, _IssuesMixin):
    """An EPCIS document failed validation; ``issues`` lists every problem found."""

    def __init__(self, source: str, issues: list[Issue] | tuple[Issue, ...]) -> None:
        self.source = source
        self.issues = tuple(issues)
        n = len(self.issues)
        super().__init__(
            self._format(f"{source}: rejected, {n} problem{'s' if n != 1 else ''} found")
        )

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["source"] = self.source
        d["issues"] = [i.to_dict() for i in self.issues]
        return d


class DocumentRejected(RuleViolation, _IssuesMixin):
    """A valid EPCIS document broke a business rule; nothing of it was recorded."""

    def __init__(self, source: str, issues: list[Issue] | tuple[Issue, ...]) -> None:
        self.source = source
        self.issues = tuple(issues)
        n = len(self.issues)
        super().__init__(
            self._format(
                f"{source}: rejected by business rules, {n} violation{'s' if n != 1 else ''}"
                " (nothing recorded)"
            )
        )

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["source"] = self.source
        d["issues"] = [i.to_dict() for i in self.issues]
        return d
