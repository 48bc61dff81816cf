"""The hash chain over log records — the tamper evidence behind the audit trail.

21 CFR 11.10(e) asks for secure, computer-generated, time-stamped audit trails; EU GMP
Annex 11 §9 for an audit trail of GMP-relevant changes. Our audit trail is the log, and
every record is chained to its predecessor, so an edit, a deletion, an insertion or a
reordering anywhere breaks every later link and ``audit verify`` names the first one.

Definition (stable; an inspector can recompute it with a few lines of any language)::

    body_hash  = SHA-256(body)                       # body = canonical JSON bytes
    chain_hash = SHA-256( prev_chain_hash            # 32 bytes (genesis: 32 zero bytes)
                        ‖ seq                        # 8-byte big-endian unsigned
                        ‖ lp(recorded_at) ‖ lp(kind) ‖ lp(actor) ‖ lp(reason)
                        ‖ body_hash )                # 32 bytes
    lp(s)      = 4-byte big-endian length of UTF-8(s) ‖ UTF-8(s)

DESIGN.md names ``prev ‖ seq ‖ recorded_at ‖ kind ‖ body_hash``; we add ``actor`` and
``reason`` so that *who* did something and *why* (ALCOA+ "attributable") are as tamper
evident as *what*. Length prefixes make the concatenation unambiguous.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

GENESIS = "0" * 64


def body_hash(body: bytes) -> str:
    """SHA-256 of a record body, lower-case hex."""
    return hashlib.sha256(body).hexdigest()


def _lp(value: str) -> bytes:
    b = value.encode("utf-8")
    return len(b).to_bytes(4, "big") + b


def chain_hash(
    prev: str, seq: int, recorded_at: str, kind: str, actor: str, reason: str, bhash: str
) -> str:
    """The chain hash of record ``seq`` given its predecessor's chain hash ``prev``."""
    h = hashlib.sha256()
    h.update(bytes.fromhex(prev))
    h.update(seq.to_bytes(8, "big"))
    h.update(_lp(recorded_at))
    h.update(_lp(kind))
    h.update(_lp(actor))
    h.update(_lp(reason))
    h.update(bytes.fromhex(bhash))
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One record of the log, exactly as stored."""

    seq: int
    recorded_at: str
    kind: str
    actor: str
    reason: str
    body: bytes
    body_hash: str
    chain_hash: str


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first link that does not hold, with what was expected and what was found."""

    seq: int
    problem: str
    expected: str
    found: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.problem} (expected {self.expected}, found {self.found})"


class ChainVerifier:
    """Walks records in ``seq`` order and stops at the first broken link.

    Checks, per record: ``seq`` is the previous one plus one (no gap, no reorder), the
    body hashes to ``body_hash``, and ``chain_hash`` follows from the predecessor.
    """

    def __init__(self, prev_seq: int = 0, prev_chain: str = GENESIS) -> None:
        self.prev_seq = prev_seq
        self.prev_chain = prev_chain
        self.checked = 0

    def feed(self, rec: LogRecord) -> ChainBreak | None:
        expected_seq = self.prev_seq + 1
        if rec.seq != expected_seq:
            return ChainBreak(rec.seq, "sequence gap or reorder", str(expected_seq), str(rec.seq))
        bh = body_hash(rec.body)
        if bh != rec.body_hash:
            return ChainBreak(rec.seq, "body does not match its body_hash", bh, rec.body_hash)
        ch = chain_hash(
            self.prev_chain, rec.seq, rec.recorded_at, rec.kind, rec.actor, rec.reason, bh
        )
        if ch != rec.chain_hash:
            return ChainBreak(rec.seq, "chain_hash does not follow", ch, rec.chain_hash)
        self.prev_seq = rec.seq
        self.prev_chain = rec.chain_hash
        self.checked += 1
        return None


@dataclass(frozen=True, slots=True)
class Anchor:
    """A chain head recorded outside the database: record ``seq`` had ``chain_hash``
    (a signed checkpoint in the witness file or on a copy, or a backup manifest)."""

    seq: int
    chain_hash: str
    source: str


@dataclass(frozen=True, slots=True)
class AnchorReport:
    """How the log compares with the anchors it was checked against."""

    anchors: int
    agreed: int
    newest: Anchor | None  # the newest anchor there is
    newest_agreeing: Anchor | None
    mismatch: Anchor | None  # the first anchor the log disagrees with
    found: str | None  # the log's chain hash at ``mismatch.seq``
    truncated: Anchor | None  # the newest anchor beyond the log's end

    @property
    def ok(self) -> bool:
        return self.mismatch is None and self.truncated is None

    def problem(self, head_seq: int) -> str | None:
        """What is wrong, naming the seq (``None`` when every anchor agrees)."""
        if self.mismatch is not None:
            since = self.newest_agreeing.seq if self.newest_agreeing else 0
            return (
                f"history rewritten: seq {self.mismatch.seq} has chain hash {self.found},"
                f" {self.mismatch.source} recorded {self.mismatch.chain_hash}; the first"
                f" changed record is after seq {since}"
                + (f" ({self.newest_agreeing.source} agrees)" if self.newest_agreeing else "")
            )
        if self.truncated is not None:
            return (
                f"log truncated: it ends at seq {head_seq}, but {self.truncated.source}"
                f" recorded seq {self.truncated.seq}"
                f" ({self.truncated.seq - head_seq} record(s) missing)"
            )
        return None

    def to_dict(self, head_seq: int) -> dict[str, object]:
        def a(x: Anchor | None) -> dict[str, object] | None:
            return (
                None
                if x is None
                else {"seq": x.seq, "chain_hash": x.chain_hash, "source": x.source}
            )

        return {
            "ok": self.ok,
            "anchors": self.anchors,
            "agreed": self.agreed,
            "newest": a(self.newest),
            "newest_agreeing": a(self.newest_agreeing),
            "mismatch": a(self.mismatch),
            "found": self.found,
            "truncated": a(self.truncated),
            "problem": self.problem(head_seq),
        }


class AnchorCheck:
    """Compares the chain hashes of a log walk with anchors (a dict lookup per record).

    Fed every record in seq order; the first anchor whose seq is reached with another
    chain hash is a rewritten history, an anchor beyond the log's end a truncation.
    """

    def __init__(self, anchors: list[Anchor]) -> None:
        self.by_seq: dict[int, list[Anchor]] = {}
        for a in anchors:
            self.by_seq.setdefault(a.seq, []).append(a)
        self.count = len(anchors)
        self.newest = max(anchors, key=lambda a: a.seq, default=None)
        self.agreed = 0
        self.newest_agreeing: Anchor | None = None
        self.mismatch: Anchor | None = None
        self.found: str | None = None

    def feed(self, seq: int, chain: str) -> None:
        here = self.by_seq.get(seq)
        if not here or self.mismatch is not None:
            return
        for a in here:
            if a.chain_hash == chain:
                self.agreed += 1
                self.newest_agreeing = a
            else:
                self.mismatch, self.found = a, chain
                return

    def finish(self, head_seq: int) -> AnchorReport:
        beyond = [a for a in self.by_seq if a > head_seq]
        truncated = None
        if beyond and self.mismatch is None:
            truncated = self.by_seq[max(beyond)][0]
        return AnchorReport(
            self.count,
            self.agreed,
            self.newest,
            self.newest_agreeing,
            self.mismatch,
            self.found,
            truncated,
        )
