"""One exception tree for the whole product.

Every error a user can meet is a class here (or a subclass defined next to the code
that raises it). Each class carries the process exit code the CLI returns for it, so
the mapping documented in the README is the code itself. Messages always name *what*
was wrong — the value, the field, the event — because ALCOA+ "accurate" and a useful
exception record both depend on it.

Exit codes: each class below that derives directly from :class:`SerialvaultError`
owns one code and says what it means (``meaning``); :func:`exit_codes` lists them, and
the README's table is tested to be exactly that list.

>>> [code for code, _ in exit_codes()][:4]
[0, 1, 2, 3]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class SerialvaultError(Exception):
    """Base class: an error with a user-facing message and an exit code."""

    exit_code: int = 1
    kind: str = "error"
    #: What the exit code means, as the README's table says it (one line).
    meaning: str = "unexpected internal error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.kind, "message": self.message, "exit_code": self.exit_code}


class InternalError(SerialvaultError):
    """Anything serialvault did not expect: a defect, reported in one line (exit 1) with
    nothing uncommitted kept; ``SERIALVAULT_DEBUG=1`` shows the traceback."""

    exit_code = 1
    kind = "internal"
    meaning = "unexpected internal error"


class UsageError(SerialvaultError):
    """A command-line value is out of range or contradicts another (the usage code)."""

    exit_code = 2
    kind = "usage"
    meaning = "command-line usage error"


class InputError(SerialvaultError):
    """The input could not be read at all (not JSON/XML, truncated, unreadable file)."""

    exit_code = 3
    kind = "input"
    meaning = "input could not be read (malformed JSON/XML, unreadable file)"


class ValidationError(SerialvaultError):
    """The input was read but is not valid (schema, vocabulary, identifier)."""

    exit_code = 4
    kind = "validation"
    meaning = "input is invalid (schema, vocabulary, identifier, check digit)"


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
    meaning = "a business rule rejected the input"


class NotFound(SerialvaultError):
    """The unit, container, product or event asked for does not exist."""

    exit_code = 6
    kind = "not_found"
    meaning = "not found (unit, product, event)"


class StoreError(SerialvaultError):
    """The database cannot be used: unreachable, wrong URL, not initialised, wrong version."""

    exit_code = 7
    kind = "store"
    meaning = "database or configuration problem (unreachable or wrong URL, not initialised)"


class IntegrityFailure(SerialvaultError):
    """Tamper evidence failed: the hash chain or a fingerprint does not match."""

    exit_code = 8
    kind = "integrity"
    meaning = "integrity failure (broken hash chain, fingerprint changed on rebuild)"


class ConflictError(SerialvaultError):
    """The input conflicts with data already recorded."""

    exit_code = 9
    kind = "conflict"
    meaning = (
        "conflict with recorded data (e.g. a product re-added with other values; a restore "
        "into a non-empty target without `--force`, or over another repository without "
        "`--backup`)"
    )


class BackupError(SerialvaultError):
    """A backup copy cannot be used: unreachable target, no such backup, bad policy."""

    exit_code = 10
    kind = "backup"
    meaning = (
        "backup copy unusable (unreachable target, no such backup, bad policy; `backup "
        "verify` and `backup list`: a copy that cannot be read or holds nothing); also when "
        "one of several copies failed"
    )


class KeyProblem(SerialvaultError):
    """An encryption or signing key is missing, unreadable, unsafe or not the right one."""

    exit_code = 11
    kind = "key"
    meaning = (
        "key problem (missing, unreadable, group/world-readable, or not the key the backup "
        "was made with)"
    )


class PlanWarning(SerialvaultError):
    """``backup plan --check``: the schedule or the copies cannot meet RPO/RTO."""

    exit_code = 12
    kind = "plan"
    meaning = (
        "`backup plan --check`: the configured backups cannot meet the RPO/RTO given (see its "
        "warnings)"
    )


class DrillInconclusive(SerialvaultError):
    """A drill in which no criterion failed but at least one could not be judged."""

    exit_code = 13
    kind = "inconclusive"
    meaning = (
        "`drill run`: no criterion failed, but at least one is inconclusive (a failed "
        "criterion exits 8)"
    )


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
    meaning = (
        "`restore` would go back in time: a newer backup is known (on another copy, in a "
        "checkpoint, a signed check record or the witness) than any copy can serve, a copy "
        "that could hold one cannot be read, or the target holds records after the recovery "
        "point; the message names the backup, where it was seen and how many records; `--at` "
        "or `--backup` accepts the older point explicitly"
    )

    def __init__(self, message: str, *, available_seq: int | None = None) -> None:
        super().__init__(message)
        self.available_seq = available_seq

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["available_seq"] = self.available_seq
        return d


class NotAuthenticated(SerialvaultError):
    """No authenticated user: no session, an ended, expired or altered one, a wrong
    password, a locked or disabled account (21 CFR 11.10(d), 11.300). The message says
    which, and how to log in; it never says whether a user id exists."""

    exit_code = 15
    kind = "not_authenticated"
    meaning = (
        "no authenticated user: not logged in, the session ended, expired or was altered, a "
        "wrong password or token, or the account is locked or disabled"
    )


class NotPermitted(SerialvaultError):
    """The user is authenticated but their roles do not grant the operation, or the
    operation breaks a rule of authority (approving one's own change, a service account
    signing); the message names the roles that would (21 CFR 11.10(g))."""

    exit_code = 16
    kind = "not_permitted"
    meaning = (
        "the user's roles do not grant the operation (the message names the roles that "
        "would), or it breaks a rule of authority such as approving one's own change"
    )


def exit_codes() -> list[tuple[int, str]]:
    """Every exit code with its meaning, in order: 0 (success) and one per error class
    that derives directly from :class:`SerialvaultError` (its subclasses share it)."""
    table = {0: "success"}
    for cls in SerialvaultError.__subclasses__():
        table.setdefault(cls.exit_code, cls.meaning)
    return sorted(table.items())


#: The longest value an issue repeats in full; a longer one is cut and its size given.
MAX_SHOWN = 120


def shorten(value: str, limit: int = MAX_SHOWN) -> str:
    """``value`` cut to ``limit`` characters, saying how long it was.

    >>> shorten("urn:uuid:" + "a" * 300)[-20:]
    'aa… (309 characters)'
    >>> shorten("short")
    'short'
    """
    if len(value) <= limit:
        return value
    return f"{value[:limit]}… ({len(value):,} characters)"


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

    def __post_init__(self) -> None:
        # an oversized value is named, not repeated: a 100 KB eventID refused for its size
        # must not reach the terminal and the permanent exception record whole
        for name in ("event_id", "identifier", "field"):
            value = getattr(self, name)
            if isinstance(value, str) and len(value) > MAX_SHOWN + 40:  # once: not again
                object.__setattr__(self, name, shorten(value))  # on a shortened copy
        if len(self.message) > 4 * MAX_SHOWN + 40:
            object.__setattr__(self, "message", shorten(self.message, 4 * MAX_SHOWN))

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
