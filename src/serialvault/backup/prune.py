"""Retention: remove whole backup chains the policy no longer keeps, and nothing else.

A chain (a full and the incrementals built on it) is kept when it is one of the newest
``keep_fulls`` chains, or when any of its backups is younger than ``keep_days``. A chain
is removed as a whole — an incremental is useless without its parent — manifests first,
newest first, so that at every moment each remaining manifest's parent and objects are
still present; then the objects that only removed manifests named. An object named by a
kept manifest is never deleted, and objects named by no manifest at all (left by an
interrupted backup, or belonging to a backup being written right now) are counted but left
alone: deleting them could race a running backup.

Before anything is deleted, a signed prune record (``prunes/…``) names the backups
removed on purpose, so that ``backup verify`` and ``restore`` can tell retention from a
rolled-back or damaged copy (which they report); their checkpoints go with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from serialvault.backup.anchors import PRUNES, checkpoint_path, prune_record, stamp, write_signed
from serialvault.backup.copies import Copy, read_manifests
from serialvault.backup.crypto import SigningKey, VerifyKey
from serialvault.backup.manifest import Manifest, manifest_path, object_path
from serialvault.timefmt import now_utc, parse_timestamp


@dataclass
class PruneReport:
    copy: str
    url: str
    dry_run: bool
    kept: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    objects_deleted: int = 0
    bytes_freed: int = 0
    unreferenced_objects: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "copy": self.copy,
            "url": self.url,
            "dry_run": self.dry_run,
            "kept_backups": self.kept,
            "removed_backups": self.removed,
            "objects_deleted": self.objects_deleted,
            "bytes_freed": self.bytes_freed,
            "unreferenced_objects_left": self.unreferenced_objects,
        }


def chains_to_keep(
    manifests: list[Manifest], keep_fulls: int, keep_days: float, now: str
) -> set[str]:
    """Chain ids (the id of their full) that retention keeps."""
    chains: dict[str, list[Manifest]] = {}
    for m in manifests:
        chains.setdefault(m.chain, []).append(m)
    newest = sorted(chains, key=lambda c: max(m.created_at for m in chains[c]), reverse=True)
    keep = set(newest[: max(keep_fulls, 0)])
    t_now = parse_timestamp(now)
    for c, ms in chains.items():
        youngest = max(parse_timestamp(m.created_at) for m in ms)
        if (t_now - youngest).total_seconds() <= keep_days * 86400:
            keep.add(c)
    # never remove the only chain that reaches the newest record
    if manifests:
        keep.add(max(manifests, key=lambda m: (m.last_seq, m.created_at)).chain)
    return keep


def prune_copy(
    copy: Copy,
    verify_key: VerifyKey | None,
    *,
    keep_fulls: int,
    keep_days: float,
    dry_run: bool = False,
    signer: SigningKey | None = None,
    repository_id: str | None = None,
) -> PruneReport:
    """Apply retention to one copy. ``repository_id``: the repository whose admin asks;
    a copy holding backups of another repository is refused, nothing deleted."""
    state = copy.open()
    manifests, _bad = read_manifests(state, verify_key)
    foreign = sorted({m.repository_id for m in manifests} - {repository_id})
    if repository_id is not None and foreign:
        from serialvault.errors import NotPermitted

        raise NotPermitted(
            f"copy {copy.name} holds backups of repository {foreign[0]}, not of"
            f" {repository_id} whose admin you are: nothing was pruned"
        )
    report = PruneReport(copy.name, state.target.url, dry_run)
    keep = chains_to_keep(manifests, keep_fulls, keep_days, now_utc())
    kept = [m for m in manifests if m.chain in keep]
    gone = [m for m in manifests if m.chain not in keep]
    report.kept = [m.id for m in kept]
    report.removed = [m.id for m in gone]
    needed = {o.name for m in kept for o in m.objects}
    doomed: dict[str, int] = {}
    for m in gone:
        for o in m.objects:
            if o.name not in needed:
                doomed[o.name] = o.size
    listed = {o.name for o in state.target.list("objects/")}
    named = needed | set(doomed)
    report.unreferenced_objects = sum(1 for n in listed if n.rsplit("/", 1)[-1] not in named)
    report.objects_deleted = len(doomed)
    report.bytes_freed = sum(doomed.values())
    if dry_run or not gone:
        return report
    if signer is None:
        from serialvault.errors import KeyProblem

        raise KeyProblem(
            "prune needs the signing key: its signed record is what tells retention from a"
            " rolled-back copy"
        )
    at = now_utc()
    write_signed(
        state, f"{PRUNES}{stamp(at)}.json", prune_record(state.target.url, gone, at), signer
    )
    for m in sorted(gone, key=lambda m: m.first_seq, reverse=True):
        state.target.delete(manifest_path(m.id))
        state.target.delete(checkpoint_path(m.id))
    for name in doomed:
        state.target.delete(object_path(name))
    return report
