"""Restore: a repository from what all copies hold, to the newest or a chosen point
(DESIGN.md "Restore"; EU GMP Annex 11 §7.2, 21 CFR 11.10(c): records protected so they
can be retrieved accurately throughout the retention period).

Never silently older: without ``at``/``backup`` the point must be the newest backup any
copy, checkpoint, check record or witness proves, or the restore fails (exit 14) naming
what is missing.
"""

from __future__ import annotations

from collections.abc import Sequence

from serialvault.app.context import Backups, Phase, authorize, no_phase, open_repository
from serialvault.backup import restore as restore_mod
from serialvault.backup.copies import Copy
from serialvault.backup.restore import RestoreResult
from serialvault.domain.access import Action
from serialvault.errors import NotAuthenticated, SerialvaultError, UsageError
from serialvault.identity.auth import credentials_in
from serialvault.settings import Settings
from serialvault.store.engine import resolve_url
from serialvault.store.repository import Repository


def restore(
    settings: Settings,
    into: str,
    *,
    sources: Sequence[str] = (),
    at: str | None = None,
    backup: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    policy: str | None = None,
    key: str | None = None,
    public_key: str | None = None,
    db: str | None = None,
    as_user: str | None = None,
    password: str | None = None,
    on_phase: Phase | None = None,
) -> RestoreResult:
    """Restore into ``into`` (a SQLite path or PostgreSQL URL). ``sources`` (copy names
    or URLs) are tried first, the policy's other copies after them; the live repository
    ``db`` (default from the settings) lends its witness file.

    Who restores is an authenticated ``admin``: of the live repository (their session
    there), or — when it is gone, ``as_user`` with ``password`` — by their account in
    the backup itself, checked before the restored repository becomes usable."""
    actor = _restorer(settings, db, as_user, password, dry_run)
    ctx = Backups.load(settings, policy=policy, copies=sources, key=key, public_key=public_key)
    copies = list(ctx.copies)
    if sources:  # the named copies first, the policy's others as fallbacks
        copies += [
            Copy(c.name, c.url, c.settings)
            for c in ctx.policy.copies.values()
            if c.name not in sources
        ]
    res = restore_mod.restore(
        copies,
        into,
        verify_key=ctx.verify_key(),
        key=ctx.encryption_key(),
        at=at,
        backup=backup,
        dry_run=dry_run,
        force=force,
        actor=actor,
        on_phase=on_phase or no_phase,
        witnesses=ctx.witnesses(db or settings.db, into),
        state_dir=ctx.policy.state_dir,
    )
    note = _unbacked_live_records(db or settings.db, into, res)
    if note:
        res.findings.append(note)
    return res


def _restorer(
    settings: Settings,
    db: str | None,
    as_user: str | None,
    password: str | None,
    dry_run: bool,
) -> restore_mod.Actor:
    """The restoring admin, or how to find them in the restored repository."""
    if as_user is not None:
        if password is None:
            raise UsageError("--as needs the password (--password-file, or a prompt)")

        def in_backup(target: Repository) -> str:
            return credentials_in(target, as_user, password, Action.RESTORE).actor

        return in_backup
    live = db or settings.db
    try:
        repo = open_repository(settings, live)
    except SerialvaultError as exc:
        if dry_run:  # a dry run writes nothing: the keys are its only authority
            return "dry run"
        raise NotAuthenticated(
            f"a restore is made by an authenticated admin, and the live repository cannot"
            f" be opened ({exc.message}): log in there, or — when it is gone — restore with"
            " `--as USER --password-file F`, checked against your account in the backup"
        ) from None
    return authorize(settings, repo, Action.RESTORE).actor


def _unbacked_live_records(live: str | None, into: str, res: RestoreResult) -> str | None:
    """When the live repository is still readable and holds records after the recovery
    point, say so: no backup holds them, and the restore cannot bring them back."""
    try:
        if resolve_url(live) == resolve_url(into):
            return None
        repo = Repository.open(live)
        try:
            same = repo.meta().get("repository_id") == res.plan.full.repository_id
            head = repo.head()
        finally:
            repo.close()
    except SerialvaultError:
        return None  # not reachable, not a repository: nothing to compare with
    if not same or head.seq <= res.head_seq:
        return None
    return (
        f"the live repository {repo.display_url} holds {head.seq - res.head_seq} record(s)"
        f" after the recovery point (seq {res.head_seq + 1}..{head.seq}) that this restore"
        " does not bring back: take `serialvault backup incr` while it is still readable"
    )
