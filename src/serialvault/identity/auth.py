"""Log-in, sessions, tokens, and the authenticated principal every change is made by.

A :class:`Principal` is made only here, from a password checked against the account's
Argon2id hash (``login``), a session file whose secret the repository knows
(``authenticate``), or a token whose hash it knows. Each command that changes data gets
one and asks it for the :class:`~serialvault.domain.access.Action` it performs; the
principal's user id is what the log records as the actor (ALCOA+ "attributable";
21 CFR 11.10(d), (g)). Accounts and roles are read from the repository on every
command, so disabling a user or revoking a role takes effect at once (Annex 11 (2025
draft) §11: prompt deactivation).

Failed log-ins are log records (11.10(e)); the Nth in a row locks the account until an
admin enables it (11.300(d)). A refusal never says whether a user id exists, except
that a locked or disabled account says so once the password was right or the lock is
already in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from serialvault.domain.access import Action, IdentityPolicy, permitted, roles_granting
from serialvault.domain.records import AUTH_FAILURE, LOGIN, LOGOUT, PASSWORD
from serialvault.errors import NotAuthenticated, NotPermitted, StoreError
from serialvault.identity.credentials import (
    decoy_hash,
    digest,
    hash_password,
    new_secret,
    parse_token,
    password_matches,
    same_digest,
)
from serialvault.identity.sessions import read_session, remove_session, write_session
from serialvault.store import identity as ids
from serialvault.store.project import append_projected
from serialvault.store.repository import Repository
from serialvault.timefmt import now_utc, parse_timestamp

#: The actor of records serialvault writes about an unauthenticated party (a failed
#: log-in) or on its own (a session ended by expiry); no account may take this id.
SYSTEM = "system"
#: User ids no account may take: they name the system itself in the log.
RESERVED_IDS = frozenset({SYSTEM, "unauthenticated", "root", "unknown"})
#: A session's last use is written at most this often (a read command writes nothing
#: else), so the idle clock is accurate to this many seconds.
TOUCH_EVERY_S = 30


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user, as of this command."""

    user_id: str
    name: str
    kind: str  # 'person' | 'service'
    roles: tuple[str, ...]
    method: str  # 'session' | 'token' | 'password'
    session: str | None = None  # the session's id hash
    actions: frozenset[Action] = field(default=frozenset())

    @property
    def actor(self) -> str:
        """What the log records as who acted."""
        return self.user_id

    def may(self, action: Action) -> bool:
        return action in self.actions

    def require(self, action: Action) -> None:
        """Refuse, naming the roles that would grant it, unless ``action`` is granted."""
        if action in self.actions:
            return
        held = ", ".join(self.roles) or "no role"
        raise NotPermitted(
            f"{self.user_id} ({held}) may not {action.value}: that needs the role"
            f" {roles_granting(action)}; nothing was changed"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.user_id,
            "name": self.name,
            "kind": self.kind,
            "roles": list(self.roles),
            "authenticated_by": self.method,
        }


def _principal(acct: ids.Account, method: str, session: str | None = None) -> Principal:
    return Principal(
        acct.user_id,
        acct.name,
        acct.kind,
        acct.roles,
        method,
        session,
        permitted(acct.roles),
    )


def policy_of(repo: Repository) -> IdentityPolicy:
    """The password and session policy in force (the newest ``config.identity``)."""
    with repo.read() as conn:
        body = ids.identity_policy(conn, now_utc())
    if body is None:
        return IdentityPolicy()
    return IdentityPolicy(**{k: int(v) for k, v in body["policy"].items()})


def repository_id(repo: Repository) -> str:
    rid = repo.meta().get("repository_id")
    if not rid:
        raise StoreError(f"{repo.display_url} has no repository id: run `serialvault init`")
    return rid


def _no_accounts(repo: Repository) -> NotAuthenticated:
    return NotAuthenticated(
        f"{repo.display_url} has no user accounts yet: create the first administrator with"
        " `serialvault init --admin USER --admin-name NAME`"
    )


def _failure(
    conn: Any,
    log: Any,
    acct: ids.Account | None,
    why: str,
    policy: IdentityPolicy,
    *,
    can_lock: bool = True,
) -> bool:
    """Append a failure inside the caller's write transaction, counting from the account
    as read under the writer lock (two racing attempts cannot both see "not locked");
    ``True`` if it locked the account. Locking ends the account's sessions at once."""
    locks = (
        can_lock
        and acct is not None
        and acct.status in ("active", "locked")  # a lock whose time ran out locks again
        and acct.failures + 1 >= policy.lockout_after
    )
    body = {
        "user": None if acct is None else acct.user_id,
        "why": why,
        "failures": None if acct is None else acct.failures + 1,
        "locked": locks,
    }
    append_projected(conn, log, AUTH_FAILURE, body, SYSTEM, why)
    if locks and acct is not None:
        ids.end_sessions_of(conn, acct.user_id)
    return locks


def record_failure(repo: Repository, user_id: str, why: str, policy: IdentityPolicy) -> bool:
    """Record a failed log-in or signature in a transaction of its own."""
    with repo.write() as (conn, log):
        return _failure(conn, log, ids.account(conn, user_id), why, policy)


def _locked(acct: ids.Account, policy: IdentityPolicy, now: str) -> bool:
    """Whether a lockout still holds: until an admin enables the account, or — with the
    policy's ``lockout_minutes`` — until that long after it locked, so that the last
    admin is not locked out for good by someone guessing at their id."""
    if acct.status != "locked":
        return False
    if policy.lockout_minutes <= 0 or acct.locked_at is None:
        return True
    return _age_s(acct.locked_at, now) < policy.lockout_minutes * 60


def _refuse_state(acct: ids.Account, policy: IdentityPolicy) -> None:
    if acct.status == "locked" and _locked(acct, policy, now_utc()):
        until = (
            f"for {policy.lockout_minutes} minutes, or until an admin enables it"
            if policy.lockout_minutes > 0
            else "until an admin enables it"
        )
        raise NotAuthenticated(
            f"account {acct.user_id} is locked after {policy.lockout_after} failed attempts,"
            f" {until} (`serialvault user enable {acct.user_id}`)"
        )
    if acct.status not in ("active", "locked"):
        raise NotAuthenticated(f"account {acct.user_id} is disabled: ask an admin")


def check_password(
    repo: Repository, user_id: str, password: str, policy: IdentityPolicy, *, purpose: str
) -> ids.Account:
    """The account, if ``password`` is its current one and it may act; every failure is
    recorded and counts toward the lockout (11.300(d)). Reading the account, checking the
    hash and recording the outcome happen under the writer lock, one attempt at a time:
    parallel guesses cannot slip past the lockout."""
    outcome: str | None = None
    user_id = user_id.strip().casefold()  # ids are case-folded: ALICE is alice
    with repo.write() as (conn, log):
        acct = ids.account(conn, user_id)
        if acct is None and ids.count_accounts(conn) == 0:
            raise _no_accounts(repo)
        if acct is not None and acct.kind == "service":
            acct = None  # a service account has no password: refused like an unknown id
        now = now_utc()
        hashes = [] if acct is None else ids.password_hashes(conn, acct.user_id, 1)
        # always one Argon2id verification, against a decoy for an unknown id: the time
        # and the words of a refusal tell nobody whether the account exists
        right = password_matches(hashes[0] if hashes else decoy_hash(), password) and bool(hashes)
        if acct is not None and _locked(acct, policy, now):
            outcome = "locked" if right else "wrong"  # the lock is told to its owner only
            why = f"{purpose} attempted on a locked account"
            _failure(conn, log, acct, why, policy, can_lock=False)  # never extends the lock
        elif acct is None or not right:
            outcome = "wrong"
            why = f"{purpose}: unknown user or wrong password"
            _failure(conn, log, acct, why, policy)
        elif acct.status not in ("active", "locked"):  # the right password, but disabled
            outcome = "state"
            _failure(conn, log, acct, f"{purpose} attempted on a {acct.status} account", policy)
    if outcome is None and acct is not None:
        return acct
    if outcome == "wrong":  # the same words whether the id exists, or just locked
        raise NotAuthenticated(f"{purpose} refused: unknown user or wrong password")
    assert acct is not None
    _refuse_state(acct, policy)
    raise NotAuthenticated(f"{purpose} refused")


def login(
    repo: Repository,
    home: Path,
    user_id: str,
    password: str,
    new_password: str | None = None,
    check_new: Callable[[str], None] | None = None,
) -> Principal:
    """Check the password, open a session and write its file; the log-in is recorded.

    A password someone else set (an admin, creating the account or resetting it) opens
    no session: the user replaces it with their own (``new_password``, checked by
    ``check_new`` against the policy) in this same log-in, so that nobody but the user
    knows the password their signatures rest on (21 CFR 11.300(b))."""
    policy = policy_of(repo)
    rid = repository_id(repo)
    acct = check_password(repo, user_id, password, policy, purpose="log-in")
    with repo.read() as conn:
        temporary = ids.password_is_temporary(conn, acct.user_id)
    if temporary and new_password is None:
        raise NotAuthenticated(
            f"the password of {acct.user_id} was set by an admin: log in with your own new"
            " password as well (`serialvault login USER --password-file F"
            " --new-password-file NEW`)"
        )
    if new_password is not None and check_new is not None:
        check_new(acct.name)
    secret = new_secret()
    earlier = read_session(home, rid, repo.url)
    with repo.write() as (conn, log):
        if new_password is not None:
            body = {"user": acct.user_id, "hash": hash_password(new_password), "temporary": False}
            why = "password changed at log-in"
            append_projected(conn, log, PASSWORD, body, acct.user_id, why)
        if earlier is not None:  # a second log-in from this home ends the first session
            ids.end_session(conn, digest(earlier.secret))
        body = {"user": acct.user_id, "method": "password"}
        rec = append_projected(conn, log, LOGIN, body, acct.user_id, "log-in")
        ids.open_session(conn, digest(secret), acct.user_id, rec.recorded_at)
    write_session(home, rid, repo.url, acct.user_id, secret)
    return _principal(acct, "session", digest(secret))


def logout(repo: Repository, home: Path) -> str | None:
    """End this home's session on the repository; the user it was, or ``None``."""
    rid = repository_id(repo)
    sf = read_session(home, rid, repo.url)
    if sf is None:
        return None
    ended = _end(repo, digest(sf.secret), sf.user, "log-out")
    remove_session(home, rid, repo.url)
    return sf.user if ended else None


def _end(repo: Repository, id_hash: str, user: str, why: str) -> bool:
    with repo.write() as (conn, log):
        if not ids.end_session(conn, id_hash):
            return False
        log.append(LOGOUT, {"user": user, "why": why}, user if why == "log-out" else SYSTEM, why)
        return True


def _age_s(since: str, now: str) -> float:
    return (parse_timestamp(now) - parse_timestamp(since)) / timedelta(seconds=1)


def authenticate(repo: Repository, home: Path, token: str | None = None) -> Principal:
    """The user acting now: by ``token`` if one is given (``SERIALVAULT_TOKEN``), else by
    this home's session on the repository. Refused with a reason that says what to do."""
    if token:
        return _by_token(repo, token)
    rid = repository_id(repo)
    sf = read_session(home, rid, repo.url)
    if sf is None:
        with repo.read() as conn:
            if ids.count_accounts(conn) == 0:
                raise _no_accounts(repo)
        raise NotAuthenticated(f"not logged in to {repo.display_url}: run `serialvault login USER`")
    id_hash = digest(sf.secret)
    if sf.exposed:  # others could read the secret: the session ends, whoever has it
        _end(repo, id_hash, sf.user, "session file readable by others")
        remove_session(home, rid, repo.url)
        raise NotAuthenticated(
            "the session file could be read by others: the session is ended; run"
            " `serialvault login` again"
        )
    with repo.read() as conn:
        row = ids.session(conn, id_hash)
        acct = None if row is None else ids.account(conn, row.user_id)
    if row is None or acct is None:
        raise NotAuthenticated(
            "the session has ended (logged out, expired, or the repository was restored):"
            " run `serialvault login USER`"
        )
    if row.user_id != sf.user:
        _end(repo, id_hash, row.user_id, "session file altered")
        remove_session(home, rid, repo.url)
        raise NotAuthenticated(
            f"the session file names {sf.user!r} but its session belongs to another user:"
            " the file was altered; the session is ended, log in again"
        )
    return _live_session(repo, row, acct, policy_of(repo))


def _live_session(
    repo: Repository, row: ids.SessionRow, acct: ids.Account, policy: IdentityPolicy
) -> Principal:
    now = now_utc()
    if _age_s(row.last_used, now) > policy.idle_minutes * 60:
        _end(repo, row.id_sha256, row.user_id, "idle")
        raise NotAuthenticated(
            f"the session of {row.user_id} expired after {policy.idle_minutes} minutes idle:"
            " run `serialvault login` again"
        )
    if _age_s(row.created_at, now) > policy.session_hours * 3600:
        _end(repo, row.id_sha256, row.user_id, "session too old")
        raise NotAuthenticated(
            f"the session of {row.user_id} is over {policy.session_hours} hours old:"
            " run `serialvault login` again"
        )
    if acct.status != "active":
        _end(repo, row.id_sha256, row.user_id, f"account {acct.status}")
        _refuse_state(acct, policy)
    if _age_s(row.last_used, now) > TOUCH_EVERY_S:
        with repo.write_raw() as conn:
            ids.touch_session(conn, row.id_sha256, now)
    return _principal(acct, "session", row.id_sha256)


def _by_token(repo: Repository, text: str) -> Principal:
    parsed = parse_token(text)
    bad = NotAuthenticated(
        "the token given (SERIALVAULT_TOKEN) is not valid for this repository: unknown,"
        " revoked or mistyped"
    )
    if parsed is None:
        raise bad
    with repo.read() as conn:
        row = ids.token(conn, parsed[0])
        acct = None if row is None else ids.account(conn, row.user_id)
    if row is None or acct is None or row.revoked_seq is not None:
        raise bad
    if not same_digest(row.sha256, digest(parsed[1])):
        raise bad
    _refuse_state(acct, policy_of(repo))
    return _principal(acct, "token")


def session_signed(repo: Repository, principal: Principal) -> bool:
    """Whether a signature was already made in this session (11.200(a)(1)(i): after the
    first signing of a continuous session, the password alone suffices)."""
    if principal.session is None:
        return False
    with repo.read() as conn:
        row = ids.session(conn, principal.session)
    return row is not None and row.signed


def credentials_in(repo: Repository, user_id: str, password: str, action: Action) -> Principal:
    """Check a user's password and role against a repository that is not usable yet (a
    restore's target, still marked): how an admin proves who they are when the live
    repository is gone. Nothing can be recorded in such a target, so a failure is only
    refused; the restore leaves no repository behind."""
    user_id = user_id.strip().casefold()
    with repo.read() as conn:
        acct = ids.account(conn, user_id)
        hashes = [] if acct is None else ids.password_hashes(conn, user_id, 1)
        temporary = acct is not None and ids.password_is_temporary(conn, user_id)
    if temporary:  # a password someone else set proves nothing about who is restoring
        raise NotAuthenticated(
            f"restore refused: the password of {user_id} in the backup was set by an admin and"
            " never replaced by its owner; the target was left unusable"
        )
    if acct is None or not hashes or not password_matches(hashes[0], password):
        raise NotAuthenticated(
            "restore refused: unknown user or wrong password in the backup being restored;"
            " the target was left unusable (run the restore again with --force)"
        )
    _refuse_state(acct, IdentityPolicy())
    who = _principal(acct, "password")
    who.require(action)
    return who
