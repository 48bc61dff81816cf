"""Accounts, log-in and electronic signatures: the operations.

Each is one function the CLI (and the HTTP API to come) calls with plain values and the
settings; the user acting is authenticated here (:func:`authorize`) and the records
are written through ``store.identity``. Accounts and role grants take effect at once —
a new site starts with one admin — and each is a log record that the periodic access
review reads (EU GMP Annex 11 (2025 draft) §11). User ids are never deleted or reused
(21 CFR 11.100(a)): ``disable`` keeps the account and every record that names it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serialvault.app.context import authorize, open_as, open_repository
from serialvault.domain.access import (
    Action,
    IdentityPolicy,
    check_roles,
    user_id_problem,
)
from serialvault.domain.records import PASSWORD, TOKEN, USER
from serialvault.errors import (
    ConflictError,
    NotFound,
    NotPermitted,
    UsageError,
)
from serialvault.identity.auth import (
    RESERVED_IDS,
    SYSTEM,
    Principal,
    authenticate,
    check_password,
    login,
    logout,
    policy_of,
)
from serialvault.identity.credentials import digest, hash_password, new_token, password_matches
from serialvault.settings import Settings
from serialvault.store import identity as ids
from serialvault.store.project import append_projected, record
from serialvault.store.repository import Repository

# --- accounts -----------------------------------------------------------------------------


def _check_new_id(conn_acct: ids.Account | None, user_id: str) -> None:
    problem = user_id_problem(user_id)
    if problem is None and user_id in RESERVED_IDS:
        problem = f"user id {user_id!r} is reserved: it names serialvault itself in the log"
    if problem:
        raise UsageError(problem)
    if conn_acct is not None:
        raise ConflictError(
            f"user id {user_id!r} exists ({conn_acct.name}, {conn_acct.status}): user ids are"
            " never reused (21 CFR 11.100(a))"
        )


def _check_name(name: str) -> str:
    name = " ".join(name.split())
    if len(name) < 2 or len(name) > 200:
        raise UsageError("the full name must be 2 to 200 characters (it appears in signatures)")
    return name


def _new_password_problem(
    repo: Repository, user_id: str, name: str, password: str, policy: IdentityPolicy
) -> str | None:
    problem = policy.password_problem(user_id, name, password)
    if problem:
        return problem
    with repo.read() as conn:
        earlier = ids.password_hashes(conn, user_id, policy.history)
    if any(password_matches(h, password) for h in earlier):
        return f"the password was used before (the policy forbids the last {policy.history})"
    return None


def _write_account(
    repo: Repository,
    actor: str,
    reason: str,
    account: dict[str, Any],
    password: str | None,
) -> None:
    """One transaction: the account version, and a first password hash if given."""
    with repo.write() as (conn, log):
        append_projected(conn, log, USER, account, actor, reason)
        if password is not None:  # set by someone else: the user replaces it at log-in
            body = {
                "user": account["user"],
                "hash": hash_password(password),
                "temporary": actor != account["user"],
            }
            append_projected(conn, log, PASSWORD, body, actor, reason)
        if account["status"] != "active":
            ids.end_sessions_of(conn, account["user"])


def create_account(
    repo: Repository,
    actor: str,
    *,
    user_id: str,
    name: str,
    roles: list[str],
    kind: str = "person",
    password: str | None = None,
    reason: str,
) -> ids.Account:
    """Create an account (the caller has authorised it); a person needs a password
    that meets the policy, a service account gets none (tokens only)."""
    name = _check_name(name)
    with repo.read() as conn:
        _check_new_id(ids.account(conn, user_id), user_id)
    problem = check_roles(kind, roles)
    if problem:
        raise UsageError(problem)
    if kind == "person":
        if password is None:
            raise UsageError(f"a password is needed for {user_id} (--password-file or a prompt)")
        problem = policy_of(repo).password_problem(user_id, name, password)
        if problem:
            raise UsageError(f"password for {user_id} refused: {problem}")
    elif password is not None:
        raise UsageError("a service account has no password: it signs in with a token")
    account = {
        "user": user_id,
        "name": name,
        "kind": kind,
        "roles": sorted(set(roles)),
        "status": "active",
        "change": "created",
    }
    _write_account(repo, actor, reason, account, password)
    return show_account(repo, user_id)


@dataclass(frozen=True)
class InitAdmin:
    db: str
    created: bool
    admin: dict[str, Any] | None
    head_seq: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "db": self.db,
            "created": self.created,
            "admin": self.admin,
            "head_seq": self.head_seq,
        }


def _precheck_admin(user_id: str, name: str | None, password: str | None) -> None:
    """Refuse a bad first admin before anything is created (the repository included)."""
    _check_new_id(None, user_id)
    if not name:
        raise UsageError("--admin-name is needed with --admin (it appears in signatures)")
    _check_name(name)
    if password is None:
        raise UsageError(f"a password is needed for {user_id} (--password-file or a prompt)")
    problem = IdentityPolicy().password_problem(user_id, name, password)
    if problem:
        raise UsageError(f"password for {user_id} refused: {problem}")


def init_repository(
    settings: Settings,
    db: str | None,
    *,
    admin: str | None,
    admin_name: str | None,
    password: str | None,
) -> InitAdmin:
    """Create the repository (or migrate its schema) and, with ``admin``, its first
    administrator. A new repository needs one; a repository that already has accounts
    refuses a second "first" admin (``user add`` is for that) and migrates only for an
    authenticated admin; one created before accounts existed gets its first admin here,
    and its older free-text actors stay as they were (reports mark them unauthenticated).
    """
    repo = open_repository(settings, db, must_exist=False)
    revision = repo.revision()
    if admin is not None:
        _precheck_admin(admin, admin_name, password)
    elif revision is None:
        raise UsageError(
            "a new repository needs its first administrator: `serialvault init --admin USER"
            " --admin-name NAME --password-file F`; nothing was created"
        )
    has_accounts = revision is not None and revision >= "0002" and repo.account_count() > 0
    if has_accounts and admin is not None:
        raise ConflictError(
            f"{repo.display_url} already has user accounts: an admin adds users with"
            " `serialvault user add`; nothing was changed"
        )
    if has_accounts and revision != repo.head_revision():
        authorize(settings, repo, Action.MAINTAIN)
    created, _head = repo.init(admin or SYSTEM, "repository initialised")
    made = None
    if admin is not None and admin_name is not None:
        acct = create_account(
            repo,
            admin,
            user_id=admin,
            name=admin_name,
            roles=["admin"],
            password=password,
            reason="first administrator, created with the repository",
        )
        made = acct.to_dict()
    return InitAdmin(repo.display_url, created, made, repo.head().seq)


def show_account(repo: Repository, user_id: str) -> ids.Account:
    with repo.read() as conn:
        acct = ids.account(conn, user_id)
    if acct is None:
        raise NotFound(f"no user {user_id!r}")
    return acct


def add_user(
    settings: Settings,
    db: str | None,
    *,
    user_id: str,
    name: str,
    roles: list[str],
    service: bool = False,
    password: str | None = None,
    reason: str | None = None,
) -> ids.Account:
    """``user add``: an admin creates a person's or a service account."""
    repo, who = open_as(settings, db, Action.MANAGE_USERS)
    return create_account(
        repo,
        who.actor,
        user_id=user_id,
        name=name,
        roles=roles or (["service"] if service else []),
        kind="service" if service else "person",
        password=password,
        reason=reason or f"account created by {who.actor}",
    )


@dataclass(frozen=True)
class AccountView:
    account: ids.Account
    tokens: list[ids.TokenRow]
    signatures: int

    def to_dict(self) -> dict[str, Any]:
        d = self.account.to_dict()
        d["tokens"] = [
            {
                "token_id": t.token_id,
                "label": t.label,
                "created_seq": t.created_seq,
                "revoked_seq": t.revoked_seq,
            }
            for t in self.tokens
        ]
        d["signatures"] = self.signatures
        return d


def list_users(settings: Settings, db: str | None) -> list[ids.Account]:
    repo, _who = open_as(settings, db, Action.READ)
    with repo.read() as conn:
        return ids.accounts(conn)


def user_details(settings: Settings, db: str | None, user_id: str) -> AccountView:
    repo, _who = open_as(settings, db, Action.READ)
    acct = show_account(repo, user_id)
    with repo.read() as conn:
        toks = ids.tokens_of(conn, user_id)
        sigs = [s for s in ids.signatures(conn) if s.signer == user_id]
    return AccountView(acct, toks, len(sigs))


def _new_version(
    repo: Repository, who: Principal, user_id: str, change: str, reason: str, **fields: Any
) -> ids.Account:
    acct = show_account(repo, user_id)
    account = {
        "user": acct.user_id,
        "name": acct.name,
        "kind": acct.kind,
        "roles": list(acct.roles),
        "status": acct.status,
        "reviewer_keys": list(acct.reviewer_keys),
        "change": change,
    }
    account.update(fields)
    _write_account(repo, who.actor, reason, account, None)
    return show_account(repo, user_id)


def set_enabled(
    settings: Settings, db: str | None, user_id: str, *, enabled: bool, reason: str | None
) -> ids.Account:
    """``user disable`` / ``user enable``: disabling ends the user's sessions at once;
    enabling also lifts a lockout and clears the failed attempts."""
    repo, who = open_as(settings, db, Action.MANAGE_USERS)
    acct = show_account(repo, user_id)
    if not enabled and user_id == who.user_id:
        raise NotPermitted("an admin cannot disable their own account: ask another admin")
    if not enabled and "admin" in acct.roles and _last_admin(repo, user_id):
        raise NotPermitted(f"{user_id} is the last active admin: nobody could manage users")
    status = "active" if enabled else "disabled"
    change = "enabled" if enabled else "disabled"
    default = f"account {change} by {who.actor}"
    return _new_version(repo, who, user_id, change, reason or default, status=status)


def _last_admin(repo: Repository, user_id: str) -> bool:
    with repo.read() as conn:
        others = [
            a
            for a in ids.accounts(conn)
            if a.user_id != user_id and "admin" in a.roles and a.status == "active"
        ]
    return not others


def change_roles(
    settings: Settings,
    db: str | None,
    user_id: str,
    *,
    add: list[str],
    remove: list[str],
    reason: str | None,
) -> ids.Account:
    """``user roles``: grant and revoke roles, effective at once."""
    repo, who = open_as(settings, db, Action.MANAGE_USERS)
    acct = show_account(repo, user_id)
    roles = (set(acct.roles) | set(add)) - set(remove)
    if "admin" in acct.roles and "admin" not in roles and _last_admin(repo, user_id):
        raise NotPermitted(f"{user_id} is the last active admin: grant admin to another first")
    problem = check_roles(acct.kind, sorted(roles))
    if problem:
        raise UsageError(f"{user_id}: {problem}")
    if roles == set(acct.roles):
        return acct
    default = f"roles changed by {who.actor}"
    return _new_version(repo, who, user_id, "roles", reason or default, roles=sorted(roles))


def set_password(
    settings: Settings,
    db: str | None,
    user_id: str | None,
    *,
    new: str,
    current: str | None,
    reason: str | None,
) -> ids.Account:
    """``user passwd``: a user changes their own (the current password is re-entered),
    an admin sets another's. The policy's rules and history apply either way."""
    repo = open_repository(settings, db)
    who = authenticate(repo, settings.home, settings.token)
    target = user_id or who.user_id
    if target != who.user_id:
        who.require(Action.MANAGE_USERS)
    elif who.kind == "service":
        raise NotPermitted("a service account has no password")
    else:
        if current is None:
            raise UsageError("changing your own password needs the current one as well")
        check_password(repo, who.user_id, current, policy_of(repo), purpose="password change")
    acct = show_account(repo, target)
    if acct.kind == "service":
        raise UsageError(f"{target} is a service account: it has tokens, not a password")
    problem = _new_password_problem(repo, target, acct.name, new, policy_of(repo))
    if problem:
        raise UsageError(f"password for {target} refused: {problem}")
    why = reason or (
        "password changed" if target == who.user_id else f"password set by {who.actor}"
    )
    body = {"user": target, "hash": hash_password(new), "temporary": target != who.user_id}
    record(repo, PASSWORD, body, who.actor, why)
    return show_account(repo, target)


@dataclass(frozen=True)
class NewToken:
    token_id: str
    user: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"token_id": self.token_id, "user": self.user, "token": self.text}


def create_token(
    settings: Settings, db: str | None, user_id: str, *, label: str, reason: str | None
) -> NewToken:
    """``user token create``: issue a token (shown once; only its hash is kept). An admin
    issues tokens for service accounts; a person's token is issued by that person only —
    whoever holds a token acts as its account, so an admin must not hold a person's."""
    repo = open_repository(settings, db)
    who = authenticate(repo, settings.home, settings.token)
    acct = show_account(repo, user_id)
    if acct.kind == "person" and acct.user_id != who.user_id:
        raise NotPermitted(
            f"{user_id} is a person: only {user_id} may create a token that acts as them"
            " (an admin issues tokens for service accounts); nothing was changed"
        )
    if acct.kind == "service":
        who.require(Action.MANAGE_USERS)
    elif who.method == "token":
        raise NotPermitted("a token cannot create another token: log in with your password")
    if acct.status != "active":
        raise ConflictError(f"{user_id} is {acct.status}: enable the account first")
    token_id, text = new_token()
    secret = text.split("_", 2)[2]
    body = {
        "user": user_id,
        "token": token_id,
        "sha256": digest(secret),
        "label": label,
        "action": "created",
    }
    record(repo, TOKEN, body, who.actor, reason or f"token issued by {who.actor}")
    return NewToken(token_id, user_id, text)


def revoke_token(
    settings: Settings, db: str | None, token_id: str, *, reason: str | None
) -> ids.TokenRow:
    """``user token revoke``: the token stops working at once."""
    repo, who = open_as(settings, db, Action.MANAGE_USERS)
    with repo.read() as conn:
        row = ids.token(conn, token_id)
    if row is None:
        raise NotFound(f"no token {token_id!r}")
    if row.revoked_seq is not None:
        raise ConflictError(f"token {token_id} was revoked at seq {row.revoked_seq}")
    body = {"user": row.user_id, "token": token_id, "action": "revoked"}
    record(repo, TOKEN, body, who.actor, reason or f"token revoked by {who.actor}")
    with repo.read() as conn:
        done = ids.token(conn, token_id)
    assert done is not None
    return done


def set_identity_policy(
    settings: Settings, db: str | None, changes: dict[str, int], *, reason: str | None
) -> Any:
    """``user policy set``: propose a new version of the password and session policy —
    a draft change, in force once a ``qa`` user other than the proposer approves it."""
    from serialvault.app.changes import propose

    repo, who = open_as(settings, db, Action.CONFIGURE)
    current = policy_of(repo).to_dict()
    unknown = sorted(set(changes) - set(current))
    if unknown:
        raise UsageError(f"unknown policy setting {unknown[0]!r}: {', '.join(current)}")
    # bounds a policy may not leave: a lockout that never comes, a session that never
    # idles out, a password of a few characters would each defeat its rule (11.300)
    bounds = {
        "min_length": (8, 128),
        "history": (0, 24),
        "lockout_after": (1, 10),
        "lockout_minutes": (0, 1440),
        "idle_minutes": (1, 480),
        "session_hours": (1, 24),
    }
    for k, v in changes.items():
        low, high = bounds[k]
        if not low <= v <= high:
            raise UsageError(f"{k} = {v}: allowed from {low} to {high}")
    new = {**current, **changes}
    return propose(
        repo,
        who,
        "identity-policy",
        "identity",
        new,
        reason=reason or "password and session policy",
        before=current,
    )


# --- sessions ----------------------------------------------------------------------------


def log_in(
    settings: Settings,
    db: str | None,
    user_id: str,
    password: str,
    new_password: str | None = None,
) -> Principal:
    """``login``: check the password, open a session in this home. A password an admin
    set must be replaced by the user's own (``new_password``) at this log-in."""
    repo = open_repository(settings, db)

    def check_new(name: str) -> None:
        if new_password is None:
            return
        problem = _new_password_problem(repo, user_id, name, new_password, policy_of(repo))
        if problem:
            raise UsageError(f"new password for {user_id} refused: {problem}")

    return login(repo, settings.home, user_id, password, new_password, check_new)


def log_out(settings: Settings, db: str | None) -> str | None:
    """``logout``: end this home's session (the user it was, or ``None``)."""
    return logout(open_repository(settings, db), settings.home)


def who_am_i(settings: Settings, db: str | None) -> Principal:
    """``whoami``: the authenticated user (any role)."""
    return authenticate(open_repository(settings, db), settings.home, settings.token)


def identity_policy(settings: Settings, db: str | None) -> IdentityPolicy:
    """``user policy show``: the password and session policy in force."""
    repo, _who = open_as(settings, db, Action.READ)
    return policy_of(repo)


def add_reviewer_key(
    settings: Settings, db: str | None, public_key: Path, *, password: str | None
) -> ids.Account:
    """``user key add``: register the user's own Ed25519 reviewer key to their account,
    so that an evidence countersignature made with it is bound to that person; the
    password is re-entered (only the owner may bind a key to their name)."""
    repo = open_repository(settings, db)
    who = authenticate(repo, settings.home, settings.token)
    if who.kind == "service":
        raise NotPermitted(f"{who.user_id} is a service account: it has no signature rights")
    if password is None:
        raise UsageError("registering a reviewer key needs your password re-entered")
    check_password(repo, who.user_id, password, policy_of(repo), purpose="reviewer key")
    from serialvault.backup.crypto import load_verify_key  # cryptography: when needed

    key_id = load_verify_key(public_key).key_id
    with repo.read() as conn:
        holders = [a.user_id for a in ids.accounts(conn) if key_id in a.reviewer_keys]
    if holders:
        raise ConflictError(f"reviewer key {key_id} is registered to {holders[0]} already")
    acct = show_account(repo, who.user_id)
    keys = sorted({*acct.reviewer_keys, key_id})
    reason = f"reviewer key {key_id} registered"
    return _new_version(repo, who, who.user_id, "reviewer key", reason, reviewer_keys=keys)


def who_label(repo: Repository) -> Callable[[str], str]:
    """How a report names a log actor: ``Full Name (id)`` for an account, and the old
    free-text name marked ``(unauthenticated)`` for records written before accounts
    existed — an inspector must see which records an authenticated person made."""
    with repo.read() as conn:
        names = {a.user_id: a.name for a in ids.accounts(conn)}

    def label(actor: str) -> str:
        if actor in names:
            return f"{names[actor]} ({actor})"
        if actor == SYSTEM:
            return "serialvault (system)"
        return f"{actor} (unauthenticated)"

    return label
