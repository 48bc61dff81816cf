"""Change control: one mechanism for every controlled object (pure).

EU GMP Annex 11 §10 (change and configuration management) and 21 CFR 11.10(k)
(control over system documentation): a controlled object — a product's master data,
a location's or trading partner's, the password and session policy, a drill plan, the
backup policy, the review policy, the serial policy — changes only through
a change record that moves ``draft → approved | rejected``; an approved change is
``effective`` from a given UTC time. Approval is a ``qa`` user's electronic signature
(meaning ``approved``) by someone other than the author (separation of duties), bound
to the SHA-256 of the change's content, so that verification recomputes it: a
signature cannot be moved to another change, and a change edited after approval no
longer verifies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from serialvault.canonical import canonical_json

#: Controlled object types, and what their key names.
OBJECT_TYPES: dict[str, str] = {
    "product": "the GTIN-14",
    "location": "the location's Digital Link key (/414/ GLN, with /254/ extension)",
    "partner": "the trading partner's Digital Link key (/417/ GLN)",
    "identity-policy": "'identity' (the password and session policy)",
    "drill-plan": "the plan id",
    "backup-policy": "'backup' (the policy file)",
    "review-policy": "'review' (working hours, review intervals, dormant-account threshold)",
    "serial-policy": "'serials' (what capture does with a serial no pool handed out)",
}

DRAFT = "draft"
APPROVED = "approved"
REJECTED = "rejected"
EFFECTIVE = "effective"


def change_id(seq: int) -> str:
    """A change's id: from the seq of its draft record, so it is unique and stable.

    >>> change_id(42)
    'CR-42'
    """
    return f"CR-{seq}"


def content_sha256(
    object_type: str, key: str, version: int, before: Any, after: Any, author: str
) -> str:
    """SHA-256 of what an approval signs: the object, its new version, the content
    before and after, and who wrote it (RFC 8785 canonical JSON)."""
    doc = {
        "object": {"type": object_type, "key": key},
        "version": version,
        "before": before,
        "after": after,
        "author": author,
    }
    return hashlib.sha256(canonical_json(doc)).hexdigest()


@dataclass(frozen=True, slots=True)
class Change:
    """One change record as the projection holds it."""

    change_id: str
    seq: int
    object_type: str
    object_key: str
    version: int
    author: str
    reason: str
    before: Any
    after: Any
    status: str  # draft | approved | rejected
    created_at: str
    decided_by: str | None = None
    decided_at: str | None = None
    decision_reason: str | None = None
    signature_seq: int | None = None
    effective_from: str | None = None

    @property
    def sha256(self) -> str:
        return content_sha256(
            self.object_type, self.object_key, self.version, self.before, self.after, self.author
        )

    def state(self, now: str) -> str:
        """``draft``, ``rejected``, ``approved`` (effective later) or ``effective``."""
        if self.status == APPROVED and self.effective_from is not None:
            return EFFECTIVE if self.effective_from <= now else APPROVED
        return self.status

    def diff(self) -> list[tuple[str, Any, Any]]:
        """``(field, before, after)`` for every field that differs, nested objects named
        by their path (``product.name``); a first version differs from nothing.

        >>> Change("CR-1", 1, "product", "g", 2, "a", "r", {"p": {"n": "A", "f": 1}},
        ...        {"p": {"n": "B", "f": 1}}, "draft", "t").diff()
        [('p.n', 'A', 'B')]
        """
        b, a = _flat(self.before), _flat(self.after)
        return [(k, b.get(k), a.get(k)) for k in sorted(set(a) | set(b)) if b.get(k) != a.get(k)]

    def to_dict(self, now: str) -> dict[str, Any]:
        return {
            "id": self.change_id,
            "seq": self.seq,
            "object": f"{self.object_type}:{self.object_key}",
            "object_type": self.object_type,
            "object_key": self.object_key,
            "version": self.version,
            "status": self.state(now),
            "author": self.author,
            "reason": self.reason,
            "created_at": self.created_at,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
            "decision_reason": self.decision_reason,
            "signature_seq": self.signature_seq,
            "effective_from": self.effective_from,
            "sha256": self.sha256,
            "before": self.before,
            "after": self.after,
            "diff": [{"field": f, "before": x, "after": y} for f, x, y in self.diff()],
        }


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(value, Mapping):
        return {} if value is None and not prefix else {prefix or "(value)": value}
    out: dict[str, Any] = {}
    for k, v in value.items():
        name = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping) and v:
            out.update(_flat(v, name))
        else:
            out[name] = v
    return out


def effective_version(changes: list[Change], at: str) -> Change | None:
    """The approved change of one object effective at ``at`` (the newest version whose
    ``effective_from`` is not after ``at``), or ``None``."""
    live = [
        c
        for c in changes
        if c.status == APPROVED and c.effective_from is not None and c.effective_from <= at
    ]
    return max(live, key=lambda c: (c.effective_from or "", c.version), default=None)


def product_problem(gtin: str, changes: list[Change], at: str) -> str | None:
    """Why a unit of ``gtin`` may not be commissioned at ``at`` under the product's change
    records (``None`` when its effective version allows it): a product still in draft,
    approved only from a later time, rejected, or retired (issue: capture validates
    against the version effective at the event time).

    A product recorded before change control existed (its first change is of version 2
    or later) keeps that recorded version in force until an approved change takes over:
    a draft, a rejection or a version approved for later cannot block its units."""
    legacy = min(c.version for c in changes) > 1
    v = effective_version(changes, at) or (None if legacy else _first_at_once(changes, at))
    if v is None and legacy:
        return None
    if v is not None:
        after = v.after if isinstance(v.after, Mapping) else {}
        if after.get("status") == RETIRED:
            return (
                f"product {gtin} is retired from {v.effective_from} (version {v.version},"
                f" {v.change_id})"
            )
        return None
    last = max(changes, key=lambda c: c.seq)
    if last.status == DRAFT:
        return (
            f"product {gtin} version {last.version} is a draft ({last.change_id}), not"
            f" effective at {at}: a qa user approves it with `serialvault change approve"
            f" {last.change_id}`"
        )
    if last.status == APPROVED:
        return (
            f"product {gtin} version {last.version} is effective only from"
            f" {last.effective_from} ({last.change_id}), after the event time {at}"
        )
    return f"product {gtin} has no approved version ({last.change_id} was rejected)"


def in_force(changes: list[Change], at: str) -> tuple[Any, int] | None:
    """The content of an object in force at ``at`` and its version, by the rules of
    :func:`product_problem`: the approved version effective then; a first version
    approved to take effect at once, for earlier times; the version recorded before
    change control (the ``before`` of the first change), until a change takes over.
    ``None`` when no version is in force (a draft, a planned first version)."""
    if not changes:
        return None
    legacy = min(c.version for c in changes) > 1
    v = effective_version(changes, at) or (None if legacy else _first_at_once(changes, at))
    if v is not None:
        return v.after, v.version
    if legacy:
        first = min(changes, key=lambda c: c.seq)
        return first.before, first.version - 1
    return None


def _first_at_once(changes: list[Change], at: str) -> Change | None:
    """The first approved version when it was approved to take effect at once (its
    effective time is not after its approval): it also governs events dated before it,
    since no earlier version exists to check them against — a site loading its history,
    or a partner's documents of last month, are checked against it. A first version
    approved to take effect at a later time (a planned launch) does not: units
    commissioned before that time are refused."""
    approved = [c for c in changes if c.status == APPROVED and c.effective_from is not None]
    if not approved:
        return None
    first = min(approved, key=lambda c: (c.effective_from or "", c.version))
    at_once = first.decided_at is not None and (first.effective_from or "") <= first.decided_at
    return first if at_once and at < (first.effective_from or "") else None


#: A product's status in its master data once it may no longer be commissioned.
RETIRED = "retired"
