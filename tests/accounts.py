"""Test users: every change in serialvault is made by an authenticated user, so tests
create theirs — through the same account and log-in functions the commands use — and
log them in to the repository under test (a session file in ``$SERIALVAULT_HOME``,
which ``conftest`` points at a folder of the test run)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from serialvault.app.identity import create_account
from serialvault.identity.auth import Principal, login
from serialvault.store.repository import Repository

#: The password of every test user (meets the default policy; not the user name).
PASSWORD = "correct-horse-battery-staple"
#: The password an admin gives a new test user; their first log-in replaces it.
TEMPORARY = "set-by-the-admin-2026"
#: The roles of the default test user: enough to capture, back up, restore and drill.
ALL_ROLES = ("admin", "qa", "operator")


def home() -> Path:
    return Path(os.environ["SERIALVAULT_HOME"])


def add_user(
    target: Repository | str,
    user: str,
    roles: Sequence[str] = ALL_ROLES,
    *,
    name: str | None = None,
    password: str = PASSWORD,
    kind: str = "person",
) -> None:
    """Create ``user`` in the repository (the first one bootstraps it, as init does)."""
    repo = target if isinstance(target, Repository) else Repository.open(target)
    first = user == "tester"  # the test user creates itself, as init's first admin does
    create_account(
        repo,
        "tester",
        user_id=user,
        name=name or f"Test {user.title()}",
        roles=list(roles),
        kind=kind,
        password=None if kind == "service" else (password if first else TEMPORARY),
        reason="test user",
    )
    if kind == "person" and not first:  # the user's first log-in replaces the admin's
        scratch = home().parent / f"first-{user}-{repo.meta()['repository_id']}"
        login(repo, scratch, user, TEMPORARY, new_password=password)


def sign_in(
    target: Repository | str,
    user: str = "tester",
    roles: Sequence[str] = ALL_ROLES,
    *,
    at: Path | None = None,
) -> Principal:
    """Log ``user`` in to the repository (creating the account if it has none by that
    id); ``at`` is the session home (default ``$SERIALVAULT_HOME``)."""
    repo = target if isinstance(target, Repository) else Repository.open(target)
    with repo.read() as conn:
        from serialvault.store.identity import account

        exists = account(conn, user) is not None
    if not exists:
        add_user(repo, user, roles)
    return login(repo, at or home(), user, PASSWORD)


def make_repo(url: str, user: str = "tester", roles: Sequence[str] = ALL_ROLES) -> Repository:
    """A new repository whose first user (``roles``, admin by default) is logged in."""
    repo = Repository.open(url, must_exist=False)
    repo.init(user)
    sign_in(repo, user, roles)
    return repo


def password_file(folder: Path, password: str = PASSWORD) -> Path:
    """A file holding the test password (for ``--password-file``), mode 0600."""
    path = folder / "password.txt"
    path.write_text(password + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def as_admin(folder: Path) -> list[str]:
    """``restore`` options that authenticate the test user against the accounts in the
    backup (the live repository is not at hand)."""
    return ["--as", "tester", "--password-file", str(password_file(folder))]


def approve_all(target: Repository | str, *, effective_from: str | None = None) -> list[str]:
    """Approve every draft change as a second person (``reviewer``, role qa, created and
    logged in at a home of their own): the separation of duties the product enforces —
    the test user who drafted the changes cannot approve them."""
    from serialvault.app.changes import approve_all as approve
    from serialvault.app.changes import list_changes
    from serialvault.settings import Settings

    repo = target if isinstance(target, Repository) else Repository.open(target)
    at = home().parent / f"reviewer-{repo.meta()['repository_id']}"
    sign_in(repo, "reviewer", ["qa"], at=at)
    settings = Settings(db=repo.url, home=at)
    drafts = [c["id"] for c in list_changes(settings, repo.url, status="draft")]
    if drafts:  # one act of signing over all of them
        approve(
            settings,
            repo.url,
            drafts,
            password=PASSWORD,
            user_entered="reviewer",
            effective_from=effective_from,
        )
    return drafts
