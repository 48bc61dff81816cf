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

from dataclasses import asdict, dataclass, field
from typing import Any

from serialvault.errors import BackupError

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
        return cls(
            name=str(d["name"]),
            size=int(d["size"]),
            kind=str(d["kind"]),
            plain_size=int(d.get("plain_size", 0)),
            first_seq=d.get("first_seq"),
            last_seq=d.get("last_seq"),
            records=d.get("records"),
            part=d.get("part"),
        )


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
        if self.signature is not None:
            d["signature"] = self.signature
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "manifest") -> Manifest:
        fmt = d.get("format")
        if fmt not in KNOWN_FORMATS:
            raise BackupError(
                f"{where}: manifest format {fmt!r} is not one this version reads"
                f" ({', '.join(KNOWN_FORMATS)}); use a newer serialvault"
            )
        try:
            return cls(
                id=str(d["id"]),
                type=str(d["type"]),
                parent=d.get("parent"),
                chain=str(d["chain"]),
                repository_id=str(d["repository_id"]),
                first_seq=int(d["seq"]["first"]),
                last_seq=int(d["seq"]["last"]),
                first_time=d["time"]["first"],
                last_time=d["time"]["last"],
                prev_chain=str(d["prev_chain"]),
                chain_head=str(d["chain_head"]),
                fingerprint=d.get("fingerprint"),
                fingerprint_tables=d.get("fingerprint_tables"),
                snapshot=d.get("snapshot"),
                objects=tuple(ObjectRef.from_dict(o) for o in d["objects"]),
                encryption=d.get("encryption"),
                compression=str(d["compression"]),
                tool_version=str(d["tool_version"]),
                actor=str(d["actor"]),
                created_at=str(d["created_at"]),
                duration_s=float(d["duration_s"]),
                source=dict(d.get("source") or {}),
                signature=d.get("signature"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BackupError(f"{where}: manifest is malformed ({exc!r})") from None


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
    """Structural findings: segment tiling within each backup, and parent chains."""
    out: list[Finding] = []
    by_id = {m.id: m for m in manifests}
    for m in manifests:
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
        if m.type == "full":
            if m.first_seq != 1 or m.parent is not None or m.chain != m.id:
                out.append(
                    Finding(
                        "bad-full",
                        f"backup {m.id}: a full must start at seq 1 with no parent",
                        copy,
                        m.id,
                    )
                )
            if m.snapshot is None or not m.snapshot_objects:
                out.append(
                    Finding("bad-full", f"backup {m.id}: full backup has no snapshot", copy, m.id)
                )
            continue
        parent = by_id.get(m.parent or "")
        if parent is None:
            out.append(
                Finding(
                    "broken-parent",
                    f"backup {m.id}: parent {m.parent} is not in this copy",
                    copy,
                    m.id,
                )
            )
            continue
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
