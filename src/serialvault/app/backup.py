"""Backups: keys, full and incremental backups, continuous mode, inventory and planning,
the catalog, verification and retention (DESIGN.md "Backup"; EU GMP Annex 11 §7.1:
data secured by regular back-ups whose integrity and accuracy are checked).

Every function takes the copy selection as plain names or URLs and opens the backup
context the same way (:class:`~serialvault.app.context.Backups`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serialvault.app.changes import effective_now, propose
from serialvault.app.context import Backups, Phase, no_phase, open_as, open_to_read
from serialvault.backup import follow as follow_mod
from serialvault.backup import planning, take, verify
from serialvault.backup.crypto import generate_keys
from serialvault.backup.policy import Policy, load_policy, parse_duration
from serialvault.backup.prune import PruneReport, prune_copy
from serialvault.backup.take import BackupResult
from serialvault.backup.verify import VerifyReport
from serialvault.domain.access import Action
from serialvault.errors import BackupError, ConflictError, SerialvaultError, UsageError
from serialvault.settings import Settings
from serialvault.store.repository import Repository


def duration(text: str, flag: str) -> float:
    """Seconds in a duration option (``30s``, ``15m``, ``4h``, ``7d``); a bad or
    non-positive one is a usage error naming the option."""
    try:
        seconds = parse_duration(text, flag)
    except BackupError as exc:
        raise UsageError(exc.message) from None
    if seconds <= 0:
        raise UsageError(f"{flag} {text!r}: must be more than 0")
    return seconds


def keys_generate(folder: Path, *, force: bool = False) -> dict[str, str]:
    """Create an AES-256 backup key and an Ed25519 signing key pair (mode 0600)."""
    return generate_keys(folder, force=force)


@dataclass(frozen=True)
class BackupOptions:
    """What every backup command takes to find its copies and keys."""

    policy: str | None = None
    copies: Sequence[str] = ()
    key: str | None = None
    signing_key: str | None = None
    public_key: str | None = None

    def load(self, settings: Settings) -> Backups:
        return Backups.load(
            settings,
            policy=self.policy,
            copies=self.copies,
            key=self.key,
            signing_key=self.signing_key,
            public_key=self.public_key,
        )


def policy_version(repo: Repository, pol: Policy) -> str:
    """What a backup says of the policy it ran under: the approved version of the policy
    file (change control, Annex 11 §10), or that the file is not that version."""
    if pol.path is None:
        return "no policy file (defaults and command-line options; not under change control)"
    try:
        sha = hashlib.sha256(pol.path.read_bytes()).hexdigest()
    except OSError as exc:
        return f"policy {pol.path}: cannot be read again ({exc.strerror})"
    live = effective_now(repo, "backup-policy", "backup")
    if live is not None and live.after.get("sha256") == sha:
        return f"{pol.path.name} version {live.version} ({live.change_id}, effective)"
    return (
        f"{pol.path.name} (SHA-256 {sha[:16]}…) is not the approved version of the backup"
        " policy: propose it with `serialvault backup policy record --reason R`"
    )


def record_policy(settings: Settings, db: str | None, policy: str | None, *, reason: str) -> Any:
    """``backup policy record``: propose the policy file's current text as the next
    version of the backup policy (an admin's; a qa user other than them approves)."""
    if not reason:
        raise UsageError("recording the backup policy needs --reason")
    pol = load_policy(policy, settings=settings)
    if pol.path is None:
        raise UsageError("no policy file to record: name one with --policy")
    repo, who = open_as(settings, db, Action.CONFIGURE)
    text = pol.path.read_text(encoding="utf-8")
    after = {
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "file": pol.path.name,
        "text": text,
    }
    live = effective_now(repo, "backup-policy", "backup")
    if live is not None and live.after.get("sha256") == after["sha256"]:
        raise ConflictError(f"{pol.path.name} is already the approved version ({live.change_id})")
    return propose(repo, who, "backup-policy", "backup", after, reason=reason)


def full(
    settings: Settings,
    db: str | None,
    options: BackupOptions,
    *,
    check_projections: bool = False,
    new_timeline: bool = False,
    reason: str | None = None,
    on_phase: Phase | None = None,
) -> BackupResult:
    """A full backup to each copy: a consistent snapshot plus the whole log. Refused
    (exit 8, an exception opened) when the chain does not verify from genesis or
    disagrees with a head an earlier backup or checkpoint recorded; ``new_timeline``
    (with its ``reason``) records that such earlier backups are abandoned on purpose."""
    if new_timeline and not reason:
        raise UsageError("--new-timeline needs --reason: why the earlier history is abandoned")
    ctx = options.load(settings)
    repo, who = open_as(settings, db, Action.BACKUP)
    res = take.full_backup(
        repo,
        ctx.policy,
        ctx.copies,
        actor=who.actor,
        on_phase=on_phase or no_phase,
        check_projections=check_projections,
        new_timeline=reason if new_timeline else None,
    )
    res.policy_version = policy_version(repo, ctx.policy)
    return res


def incremental(
    settings: Settings,
    db: str | None,
    options: BackupOptions,
    *,
    with_fingerprint: bool = False,
    on_phase: Phase | None = None,
) -> list[BackupResult]:
    """The log records after each copy's newest backup, chain-checked from its head."""
    ctx = options.load(settings)
    repo, who = open_as(settings, db, Action.BACKUP)
    results = take.incremental_backup(
        repo,
        ctx.policy,
        ctx.copies,
        actor=who.actor,
        with_fingerprint=with_fingerprint,
        on_phase=on_phase or no_phase,
    )
    used = policy_version(repo, ctx.policy)
    for r in results:
        r.policy_version = used
    return results


def follow(
    settings: Settings,
    db: str | None,
    options: BackupOptions,
    *,
    interval: str | None = None,
    for_: str | None = None,
    status_file: Path | None = None,
    metrics_file: Path | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    on_start: Callable[[follow_mod.Follower], None] | None = None,
    handle_signals: bool = True,
) -> dict[str, Any]:
    """Continuous mode: ship new records to every copy before they are ``interval`` old,
    until ``for_`` has passed or SIGTERM/Ctrl-C (what is waiting is shipped first).
    Returns the follower's final status (per copy: shipped seq, lag, error)."""
    every = duration(interval, "--interval") if interval else None
    stop_after = duration(for_, "--for") if for_ else None
    ctx = options.load(settings)
    repo, who = open_as(settings, db, Action.BACKUP)
    follower = follow_mod.Follower(
        repo,
        ctx.policy,
        ctx.copies,
        actor=who.actor,
        interval=every if every is not None else ctx.policy.follow_interval,
        status_path=status_file or ctx.policy.status_file,
        metrics_path=metrics_file or ctx.policy.metrics_file,
        on_event=on_event,
    )
    if handle_signals:
        follower.install_signal_handlers()
    if on_start is not None:
        on_start(follower)
    return follower.run(stop_after)


def inventory(
    settings: Settings, db: str | None, *, policy: str | None = None, window: str = "7d"
) -> dict[str, Any]:
    """The critical data kinds: log records and bytes, rows, bytes on disk, growth."""
    days = duration(window, "--window") / 86400
    ctx = Backups.load(settings, policy=policy)
    return planning.inventory(open_to_read(settings, db), ctx.policy, days)


def plan(
    settings: Settings,
    db: str | None,
    options: BackupOptions,
    *,
    rpo: str,
    rto: str,
    window: str = "7d",
) -> dict[str, Any]:
    """The schedule the measured figures call for to meet RPO and RTO, with warnings
    (``ok`` false while one stands)."""
    ctx = options.load(settings)
    rpo_s, rto_s = duration(rpo, "--rpo"), duration(rto, "--rto")
    summary = follow_mod.follower_summary(ctx.policy.status_file)
    figures = planning.gather(
        open_to_read(settings, db),
        ctx.policy,
        ctx.copies,
        rpo_s=rpo_s,
        rto_s=rto_s,
        follow_running=bool(summary and summary["running"]),
        window_days=duration(window, "--window") / 86400,
    )
    return planning.recommend(figures)


@dataclass
class Catalog:
    """Every copy's chains with the RPO exposure now, and the follower's state."""

    copies: list[dict[str, Any]] = field(default_factory=list)
    signatures_checked: bool = False
    follower: dict[str, Any] | None = None

    @property
    def exit_code(self) -> int:
        """10 when a copy could not be read or holds nothing at all (a listing that
        passed over one would understate what is at risk), else 0."""
        unusable = any(
            "error" in c or any(p["code"] == "empty-copy" for p in c.get("problems", []))
            for c in self.copies
        )
        return BackupError.exit_code if unusable else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "copies": self.copies,
            "signatures_checked": self.signatures_checked,
            "follower": self.follower,
        }


def catalog(
    settings: Settings,
    db: str | None,
    options: BackupOptions,
    *,
    status_file: Path | None = None,
) -> Catalog:
    """Every copy's backups, sizes and ages; the exposure is measured against the live
    repository when it can be opened (a catalog is useful without it too)."""
    ctx = options.load(settings)
    vk = ctx.verify_key_if_any()
    head = time_of = None
    try:
        repo = open_to_read(settings, db)
        head, time_of = repo.head(), repo.time_of
    except SerialvaultError:
        head = None
    result = Catalog(signatures_checked=vk is not None)
    for c in ctx.copies:
        try:
            result.copies.append(verify.catalog(c, vk, head, time_of))
        except SerialvaultError as exc:
            result.copies.append({"copy": c.name, "url": c.url, "error": str(exc)})
    result.follower = follow_mod.follower_summary(status_file or ctx.policy.status_file)
    return result


@dataclass(frozen=True)
class Verification:
    """Every copy's report; exit 8 on damage, rollback or fork, 10 when a copy could not
    be used at all (unreachable, empty), else 0."""

    reports: list[VerifyReport]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.reports)

    @property
    def exit_code(self) -> int:
        return verify.exit_code(self.reports)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "copies": [r.to_dict() for r in self.reports]}


def verify_copies(
    settings: Settings,
    db: str | None,
    options: BackupOptions,
    *,
    full: bool = False,
    subset: str | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> Verification:
    """Check each copy (``full``: every object read, hashed, decrypted, chain-checked;
    ``subset`` ``n/t``: one share of that), compare the copies with each other, their
    signed check records and the witness, and leave a signed check record."""
    share = verify.parse_subset(subset)
    ctx = options.load(settings)
    vk = ctx.verify_key()
    enc = ctx.encryption_key() if (full or share) else None
    reports = verify.verify_copies(
        ctx.copies,
        vk,
        key=enc,
        signer=ctx.signing_key_if_any(),
        full=full,
        subset=share,
        witnesses=ctx.witnesses(db or settings.db),
        state_dir=ctx.policy.state_dir,
        on_progress=on_progress,
    )
    return Verification(reports)


def prune(
    settings: Settings,
    options: BackupOptions,
    *,
    db: str | None = None,
    keep_fulls: int | None = None,
    keep_days: float | None = None,
    dry_run: bool = False,
) -> list[PruneReport]:
    """Apply retention: whole chains neither among the newest ``keep_fulls`` nor younger
    than ``keep_days`` go; an object a kept backup names never does. A signed prune
    record says what went, so that ``verify`` does not take it for a rollback."""
    rid = None
    if not dry_run:  # deleting backups is an admin's act, on the repository they serve
        repo, _who = open_as(settings, db, Action.BACKUP)
        rid = repo.meta().get("repository_id")
    ctx = options.load(settings)
    vk = ctx.verify_key()
    signer = None if dry_run else ctx.signing_key()
    pol = ctx.policy
    return [
        prune_copy(
            c,
            vk,
            keep_fulls=pol.keep_fulls if keep_fulls is None else keep_fulls,
            keep_days=pol.keep_days if keep_days is None else keep_days,
            dry_run=dry_run,
            signer=signer,
            repository_id=rid,
        )
        for c in ctx.copies
    ]
