"""Backup manifests and the checks that need nothing but manifests.

A manifest describes one backup completely (DESIGN.md "Backup"): what it covers (seq and
time range, chain head, state fingerprint at that seq), how it relates to others (type,
parent, the full at the root of its chain) and every object it needs, with size and
SHA-256 name. It is signed (Ed25519) and written last, so a manifest on a target means
its objects were all complete before it appeared.

Backups form chains: a ``full`` starts one; each ``incr`` continues its parent from the
next seq. :func:`analyse` checks a set of manifests for the faults Litestream reports as
findings rather than a bool — gap, overlap, a missing or foreign parent, a chain hash
that does not continue — because a drill report needs the list, not a yes/no.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from serialvault.errors import BackupError
from serialvault.timefmt import parse_timestamp

FORMAT = "serialvault.manifest/1"
KNOWN_FORMATS = (FORMAT,)


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """One stored object: ``name`` is the SHA-256 of its stored bytes."""

    name: str
    size: int
    kind: str  # "snapshot" | "segment"
    plain_size: int = 0
    first_seq: int | None = None  # segments
    last_seq: int | None = None
    records: int | None = None
    part: str | None = None  # snapshots: which piece (file chunk n, or table name/chunk)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ObjectRef:
        """Strict: a name is a SHA-256 (it becomes a path on the copy, so ``../x`` or any
        other text is refused by name), sizes and seqs are whole numbers."""
        if not isinstance(d, dict):
            raise ValueError("an object entry is not a JSON object")
        name = d["name"]
        if not isinstance(name, str) or not _HEX64.fullmatch(name):
            raise ValueError(f"object name {str(name)[:80]!r} is not a SHA-256")
        kind = d["kind"]
        if kind not in ("snapshot", "segment"):
            raise ValueError(f"object {name}: kind {str(kind)[:40]!r} is not snapshot or segment")
        part = d.get("part")
        if kind == "snapshot" and (not isinstance(part, str) or not _PART.fullmatch(part)):
            raise ValueError(f"snapshot object {name}: part {str(part)[:40]!r} is not table:n")
        if part is not None and not isinstance(part, str):
            raise ValueError(f"object {name}: part is not text")
        return cls(
            name=name,
            size=_whole(d["size"], "size"),
            kind=kind,
            plain_size=_whole(d.get("plain_size", 0), "plain_size"),
            first_seq=_opt_whole(d.get("first_seq"), "first_seq"),
            last_seq=_opt_whole(d.get("last_seq"), "last_seq"),
            records=_opt_whole(d.get("records"), "records"),
            part=part,
        )


_HEX64 = re.compile(r"[0-9a-f]{64}")
_PART = re.compile(r"[a-z_]{1,40}:\d{1,9}")
_ID = re.compile(r"\d{8}T\d{6,}Z-(full|incr)-\d{12}")


def _whole(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{what} {str(value)[:40]!r} is not a whole number")
    return value


def _opt_whole(value: Any, what: str) -> int | None:
    return None if value is None else _whole(value, what)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} is not text")
    return value


def _opt_text(value: Any, what: str) -> str | None:
    return None if value is None else _text(value, what)


def instant(value: Any, what: str) -> str:
    """A UTC timestamp a backup document states (created, first and last record): it
    must be one serialvault can read back — a signed document with year 0000 in it is
    malformed, not a crash of every command that lists it."""
    text = _text(value, what)
    try:
        parse_timestamp(text)
    except ValueError:
        raise ValueError(f"{what} {text[:40]!r} is not a timestamp of years 0001–9999") from None
    return text


def _opt_instant(value: Any, what: str) -> str | None:
    return None if value is None else instant(value, what)


def _opt_dict(value: Any, what: str) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"{what} is not an object")
    return value


@dataclass(frozen=True, slots=True)
class Manifest:
    id: str
    type: str  # "full" | "incr"
    parent: str | None
    chain: str  # id of the full this chain starts with
    repository_id: str
    first_seq: int
    last_seq: int
    first_time: str | None
    last_time: str | None
    prev_chain: str  # chain hash of record first_seq - 1 (GENESIS for a full)
    chain_head: str  # chain hash of record last_seq
    fingerprint: str | None
    fingerprint_tables: dict[str, Any] | None
    snapshot: dict[str, Any] | None  # full only: engine, schema_version, seq, format
    objects: tuple[ObjectRef, ...]
    encryption: dict[str, str] | None  # {"alg": "AES-256-GCM", "key_id": ...}
    compression: str
    tool_version: str
    actor: str
    created_at: str
    duration_s: float
    source: dict[str, str] = field(default_factory=dict)
    checks: dict[str, Any] | None = None  # what the backup verified before certifying
    signature: dict[str, str] | None = None

    @property
    def records(self) -> int:
        return self.last_seq - self.first_seq + 1

    @property
    def stored_bytes(self) -> int:
        return sum(o.size for o in self.objects)

    @property
    def segments(self) -> list[ObjectRef]:
        return sorted(
            (o for o in self.objects if o.kind == "segment"), key=lambda o: o.first_seq or 0
        )

    @property
    def snapshot_objects(self) -> list[ObjectRef]:
        return [o for o in self.objects if o.kind == "snapshot"]

    def to_dict(self) -> dict[str, Any]:
        d = {
            "format": FORMAT,
            "id": self.id,
            "type": self.type,
            "parent": self.parent,
            "chain": self.chain,
            "repository_id": self.repository_id,
            "seq": {"first": self.first_seq, "last": self.last_seq},
            "time": {"first": self.first_time, "last": self.last_time},
            "prev_chain": self.prev_chain,
            "chain_head": self.chain_head,
            "fingerprint": self.fingerprint,
            "fingerprint_tables": self.fingerprint_tables,
            "snapshot": self.snapshot,
            "objects": [o.to_dict() for o in self.objects],
            "encryption": self.encryption,
            "compression": self.compression,
            "tool_version": self.tool_version,
            "actor": self.actor,
            "created_at": self.created_at,
            "duration_s": self.duration_s,
            "source": self.source,
        }
        if self.checks is not None:
            d["checks"] = self.checks
        if self.signature is not None:
            d["signature"] = self.signature
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "manifest") -> Manifest:
        """Strict about every field a restore relies on: its id and objects become paths
        on the copy, its seqs drive the plan. Anything else is a named refusal."""
        if not isinstance(d, dict):
            raise BackupError(f"{where}: a manifest is a JSON object")
        fmt = d.get("format")
        if fmt not in KNOWN_FORMATS:
            raise BackupError(
                f"{where}: manifest format {str(fmt)[:60]!r} is not one this version reads"
                f" ({', '.join(KNOWN_FORMATS)}); use a newer serialvault"
            )
        try:
            bid = _text(d["id"], "id")
            if not _ID.fullmatch(bid):
                raise ValueError(f"id {bid[:80]!r} is not a backup id")
            kind = d["type"]
            if kind not in ("full", "incr"):
                raise ValueError(f"type {str(kind)[:20]!r} is not full or incr")
            objects = d["objects"]
            if not isinstance(objects, list):
                raise ValueError("objects is not a list")
            seq, times = d["seq"], d["time"]
            if not isinstance(seq, dict) or not isinstance(times, dict):
                raise ValueError("seq and time must be objects")
            parent = _opt_text(d.get("parent"), "parent")
            if parent is not None and not _ID.fullmatch(parent):
                raise ValueError(f"parent {parent[:80]!r} is not a backup id")
            first, last = _whole(seq["first"], "seq.first"), _whole(seq["last"], "seq.last")
            if first < 1 or last < first:
                raise ValueError(f"seq range {first}..{last} is empty or starts before 1")
            snap = _opt_dict(d.get("snapshot"), "snapshot")
            if snap is not None:
                _whole(snap.get("seq"), "snapshot.seq")
                _text(snap.get("engine"), "snapshot.engine")
            for h in ("prev_chain", "chain_head"):
                if not isinstance(d[h], str) or not _HEX64.fullmatch(d[h]):
                    raise ValueError(f"{h} is not a SHA-256")
            return cls(
                id=bid,
                type=kind,
                parent=parent,
                chain=_text(d["chain"], "chain"),
                repository_id=_text(d["repository_id"], "repository_id"),
                first_seq=first,
                last_seq=last,
                first_time=_opt_instant(times["first"], "time.first"),
                last_time=_opt_instant(times["last"], "time.last"),
                prev_chain=d["prev_chain"],
                chain_head=d["chain_head"],
                fingerprint=_opt_text(d.get("fingerprint"), "fingerprint"),
                fingerprint_tables=_opt_dict(d.get("fingerprint_tables"), "fingerprint_tables"),
                snapshot=_opt_dict(d.get("snapshot"), "snapshot"),
                objects=tuple(ObjectRef.from_dict(o) for o in objects),
                encryption=_opt_dict(d.get("encryption"), "encryption"),
                compression=str(d["compression"]),
                tool_version=str(d["tool_version"]),
                actor=str(d["actor"]),
                created_at=instant(d["created_at"], "created_at"),
                duration_s=float(d["duration_s"]),
                source=dict(_opt_dict(d.get("source"), "source") or {}),
                checks=_opt_dict(d.get("checks"), "checks"),
                signature=_opt_dict(d.get("signature"), "signature"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BackupError(f"{where}: manifest is malformed ({exc})") from None


def manifest_path(backup_id: str) -> str:
    return f"manifests/{backup_id}.json"


def object_path(name: str) -> str:
    return f"objects/{name[:2]}/{name}"


def backup_id(created_at: str, kind: str, last_seq: int) -> str:
    """Sortable id: UTC time of creation, type and the last seq covered."""
    compact = created_at.replace("-", "").replace(":", "").replace(".", "")
    return f"{compact}-{kind}-{last_seq:012d}"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in a copy; ``code`` is stable for scripts and reports."""

    code: str
    message: str
    copy: str
    backup: str | None = None
    object: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def __str__(self) -> str:
        return f"[{self.copy}] {self.code}: {self.message}"


def analyse(manifests: list[Manifest], copy: str) -> list[Finding]:
    """Structural findings: segment tiling within each backup, and parent chains
    (Litestream's way: a list of findings, never a bare bool)."""
    out: list[Finding] = []
    by_id = {m.id: m for m in manifests}
    for m in manifests:
        out += _tiling(m, copy)
        if m.type == "full":
            out += _full_shape(m, copy)
        else:
            out += _parent_link(m, by_id.get(m.parent or ""), copy)
    return out


def _tiling(m: Manifest, copy: str) -> list[Finding]:
    """The segments of one backup tile its seq range: no gap, no overlap."""
    out: list[Finding] = []
    nxt = m.first_seq
    for seg in m.segments:
        first, last = seg.first_seq or 0, seg.last_seq or 0
        if first > nxt:
            out.append(
                Finding(
                    "seq-gap",
                    f"backup {m.id}: records {nxt}..{first - 1} are in no segment",
                    copy,
                    m.id,
                    seg.name,
                )
            )
        elif first < nxt:
            out.append(
                Finding(
                    "seq-overlap",
                    f"backup {m.id}: segment {seg.name} starts at {first},"
                    f" records up to {nxt - 1} are already covered",
                    copy,
                    m.id,
                    seg.name,
                )
            )
        nxt = max(nxt, last + 1)
    if nxt != m.last_seq + 1:
        out.append(
            Finding(
                "seq-gap",
                f"backup {m.id}: segments end at {nxt - 1}, the manifest at {m.last_seq}",
                copy,
                m.id,
            )
        )
    return out


def _full_shape(m: Manifest, copy: str) -> list[Finding]:
    """A full starts a chain at seq 1, has no parent, and carries a snapshot."""
    out: list[Finding] = []
    if m.first_seq != 1 or m.parent is not None or m.chain != m.id:
        out.append(
            Finding(
                "bad-full", f"backup {m.id}: a full must start at seq 1 with no parent", copy, m.id
            )
        )
    if m.snapshot is None or not m.snapshot_objects:
        out.append(Finding("bad-full", f"backup {m.id}: full backup has no snapshot", copy, m.id))
    return out


def _parent_link(m: Manifest, parent: Manifest | None, copy: str) -> list[Finding]:
    """An incremental continues its parent: same repository and chain, the next seq, the
    parent's chain head."""
    if parent is None:
        return [
            Finding(
                "broken-parent", f"backup {m.id}: parent {m.parent} is not in this copy", copy, m.id
            )
        ]
    out: list[Finding] = []
    if parent.repository_id != m.repository_id or parent.chain != m.chain:
        out.append(
            Finding(
                "broken-parent",
                f"backup {m.id}: parent {parent.id} belongs to another repository or chain",
                copy,
                m.id,
            )
        )
    if m.first_seq > parent.last_seq + 1:
        out.append(
            Finding(
                "seq-gap",
                f"backup {m.id} starts at seq {m.first_seq}; its parent {parent.id} ends"
                f" at {parent.last_seq}: records {parent.last_seq + 1}..{m.first_seq - 1}"
                " are missing",
                copy,
                m.id,
            )
        )
    elif m.first_seq <= parent.last_seq:
        out.append(
            Finding(
                "seq-overlap",
                f"backup {m.id} starts at seq {m.first_seq}, inside its parent {parent.id}"
                f" (ends at {parent.last_seq})",
                copy,
                m.id,
            )
        )
    elif m.prev_chain != parent.chain_head:
        out.append(
            Finding(
                "chain-discontinuity",
                f"backup {m.id} continues chain hash {m.prev_chain[:16]}…, its parent"
                f" {parent.id} ends with {parent.chain_head[:16]}…",
                copy,
                m.id,
            )
        )
    return out


def lineage(manifests: dict[str, Manifest], backup: Manifest) -> list[Manifest]:
    """``backup`` and its ancestors, oldest (the full) first."""
    out = [backup]
    seen = {backup.id}
    while out[-1].parent is not None:
        parent = manifests.get(out[-1].parent or "")
        if parent is None or parent.id in seen:
            raise BackupError(
                f"backup {backup.id}: ancestor {out[-1].parent} is missing from this copy"
            )
        seen.add(parent.id)
        out.append(parent)
    out.reverse()
    return out
