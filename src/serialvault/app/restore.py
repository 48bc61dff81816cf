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
from serialvault.errors import NotAuthenticated, NotPermitted, SerialvaultError, UsageError
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
    who = _Restorer(settings, db, into, as_user, password, dry_run)
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
        actor=who.name,
        check_repository=who.check,
        on_phase=on_phase or no_phase,
        witnesses=ctx.witnesses(db or settings.db, into),
        state_dir=ctx.policy.state_dir,
    )
    note = _unbacked_live_records(db or settings.db, into, res)
    if note:
        res.findings.append(note)
    return res


class _Restorer:
    """Who restores, proved against the repository the restore replaces or brings back.

    * The target holds a usable repository: the restore replaces it, so the user must
      be an admin logged in to *that* repository (``--as`` is refused: it is for a
      repository that is gone, not one that can be asked).
    * The target is empty, unusable (an interrupted restore) or unreadable: an admin
      logged in to the live repository of the same repository id (``--db``), or — when
      no such repository can be reached — ``--as USER`` with the password, checked
      against the accounts in the backup before the restored repository is usable.
    """

    def __init__(
        self,
        settings: Settings,
        db: str | None,
        into: str,
        as_user: str | None,
        password: str | None,
        dry_run: bool,
    ) -> None:
        self.settings, self.db, self.into = settings, db or settings.db, into
        self.as_user, self.password, self.dry_run = as_user, password, dry_run
        self.actor: str | None = None
        if as_user is not None and password is None:
            raise UsageError("--as needs the password (--password-file, or a prompt)")

    def _live(self, path_or_url: str | None) -> Repository | None:
        try:
            return open_repository(self.settings, path_or_url)
        except SerialvaultError:
            return None

    def check(self, repo_id: str) -> None:
        """Called once the backup's repository is known, before anything is written."""
        if self.dry_run:
            self.actor = "dry run"  # writes nothing: the keys are its only authority
            return
        target = self._live(self.into)
        if target is not None:
            if self.as_user is not None:
                raise NotPermitted(
                    f"{target.display_url} holds a usable repository: log in to it as an admin"
                    " to replace it (--as is for a repository that is gone); nothing was"
                    " changed"
                )
            self.actor = authorize(self.settings, target, Action.RESTORE).actor
            return
        live = self._live(self.db)
        same = live is not None and live.meta().get("repository_id") == repo_id
        if same and live is not None:
            if self.as_user is not None:
                raise NotPermitted(
                    f"the live repository {live.display_url} can be reached: log in to it as"
                    " an admin (--as is for a repository that is gone); nothing was changed"
                )
            self.actor = authorize(self.settings, live, Action.RESTORE).actor
            return
        if self.as_user is None:
            raise NotAuthenticated(
                f"a restore of repository {repo_id} is made by an admin of it: log in to the"
                " live repository (--db), or — when it is gone — restore with `--as USER"
                " --password-file F`, checked against your account in the backup"
            )

    def name(self, restored: Repository) -> str:
        """The restoring admin's id (from the restored accounts for ``--as``)."""
        if self.actor is not None:
            return self.actor
        if self.as_user is None or self.password is None:
            raise NotAuthenticated("no admin was named for this restore")
        return credentials_in(restored, self.as_user, self.password, Action.RESTORE).actor


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
