"""What several operations open the same way: the repository, and the backup context
(the policy in force, the copies chosen, the witness files to consult).

Written once here so that a command or an API route never repeats the sequence "read
the policy, apply the key overrides, pick the copies, open the repository" (the borg
way: a decorator-like helper opens what a command needs, the command body is only the
operation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from serialvault.domain.access import Action
from serialvault.errors import SerialvaultError
from serialvault.identity.auth import Principal, authenticate
from serialvault.settings import Settings
from serialvault.store.engine import resolve_url, sqlite_path
from serialvault.store.repository import Repository

if TYPE_CHECKING:  # the backup libraries load when a backup context is built, not
    # for every command (a log-in pays the start-up of what it imports)
    from serialvault.backup.anchors import Witness
    from serialvault.backup.copies import Copy
    from serialvault.backup.crypto import EncryptionKey, SigningKey, VerifyKey
    from serialvault.backup.policy import Policy

#: A progress callback: (phase name, done, total or None).
Phase = Callable[[str, int, int | None], None]


def no_phase(_name: str, _done: int, _total: int | None) -> None:
    """The progress callback of an operation nobody watches."""
    return


def open_repository(settings: Settings, db: str | None, *, must_exist: bool = True) -> Repository:
    """The repository named by ``db``, else by the settings (``SERIALVAULT_DB``), else
    ``./serialvault.db``; it must be initialised unless ``must_exist`` is false."""
    return Repository.open(db or settings.db, must_exist=must_exist)


def authorize(settings: Settings, repo: Repository, action: Action) -> Principal:
    """The authenticated user of this command (session in the settings' home, or the
    settings' token), refused unless one of their roles grants ``action``
    (21 CFR 11.10(d), (g))."""
    user = authenticate(repo, settings.home, settings.token)
    user.require(action)
    return user


def open_as(settings: Settings, db: str | None, action: Action) -> tuple[Repository, Principal]:
    """Open the repository and authorize the user for ``action`` on it."""
    repo = open_repository(settings, db)
    return repo, authorize(settings, repo, action)


def open_to_read(settings: Settings, db: str | None) -> Repository:
    """Open the repository for a user who may read it (any role but ``service``)."""
    return open_as(settings, db, Action.READ)[0]


@dataclass(frozen=True)
class Backups:
    """The backup context of one operation: the policy with its overrides applied and the
    copies it works on (``--copy NAME`` / ``--to URL``; default: every policy copy)."""

    settings: Settings
    policy: Policy
    selection: tuple[str, ...] = ()

    @cached_property
    def copies(self) -> list[Copy]:
        """The copies named (``selection``), or every copy of the policy; none at all is
        an error that says how to name one."""
        from serialvault.backup.copies import select_copies

        return select_copies(self.policy, list(self.selection))

    @classmethod
    def load(
        cls,
        settings: Settings,
        *,
        policy: str | None = None,
        copies: Sequence[str] = (),
        key: str | None = None,
        signing_key: str | None = None,
        public_key: str | None = None,
    ) -> Backups:
        """Read the policy (``policy`` or the settings' or ``./serialvault.toml``), apply
        the key overrides and choose the copies (names or URLs; a name with ``://`` is a
        URL)."""
        from serialvault.backup.policy import load_policy

        pol = load_policy(
            policy, key=key, signing_key=signing_key, public_key=public_key, settings=settings
        )
        return cls(settings, pol, tuple(copies))

    def verify_key(self) -> VerifyKey:
        """The public key signatures are checked with (a missing key is an error)."""
        return self.policy.load_verify_key()

    def verify_key_if_any(self) -> VerifyKey | None:
        """The public key, or ``None`` where none is configured (a read-only listing)."""
        try:
            return self.policy.load_verify_key()
        except SerialvaultError:
            return None

    def encryption_key(self) -> EncryptionKey | None:
        return self.policy.load_encryption_key()

    def encryption_key_if_any(self) -> EncryptionKey | None:
        try:
            return self.policy.load_encryption_key()
        except SerialvaultError:
            return None

    def signing_key(self) -> SigningKey:
        return self.policy.load_signing_key()

    def signing_key_if_any(self) -> SigningKey | None:
        try:
            return self.policy.load_signing_key()
        except SerialvaultError:
            return None

    def witnesses(self, *dbs: str | None) -> list[Witness]:
        """The witness files to consult: the policy's, those beside the SQLite
        repositories named (the live one, a restore's target); the state folder's are
        added by whoever reads the copies (they depend on the repositories found)."""
        files = []
        for db in dbs:
            try:
                files.append(sqlite_path(resolve_url(db)))
            except SerialvaultError:
                continue
        from serialvault.backup.anchors import witness_files

        return witness_files(self.policy.witness, files)
