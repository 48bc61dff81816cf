"""Accounts, credentials, tokens, signatures and sessions in the database.

Every account change is a log record (``user.account``, ``user.password``,
``user.token``, ``auth.*``, ``signature``) whose projection rows are written here, by
the same functions for the live write and for a replay (rebuild, restore), so that a
restored repository holds exactly the accounts, password history and signatures it
had (R8). Sessions are different: they are the working state of who is logged in on
this system now, kept in their own table, never backed up, and cleared by a restore —
a session opened on the original must not open the copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from serialvault.canonical import canonical_json
from serialvault.domain.chain import LogRecord
from serialvault.domain.records import (
    AUTH_FAILURE,
    IDENTITY_POLICY,
    LOGIN,
    PASSWORD,
    SIGNATURE,
    TOKEN,
    USER,
)
from serialvault.store import schema
from serialvault.store.repository import records_of_kind


@dataclass(frozen=True, slots=True)
class Account:
    """One user account as the projection holds it."""

    user_id: str
    name: str
    kind: str
    status: str
    roles: tuple[str, ...]
    failures: int
    created_seq: int
    last_seq: int
    reviewer_keys: tuple[str, ...] = ()
    locked_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.user_id,
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "roles": list(self.roles),
            "failed_attempts": self.failures,
            "reviewer_keys": list(self.reviewer_keys),
            "locked_at": self.locked_at,
            "created_seq": self.created_seq,
            "last_seq": self.last_seq,
        }


@dataclass(frozen=True, slots=True)
class TokenRow:
    token_id: str
    user_id: str
    sha256: str
    label: str
    created_seq: int
    revoked_seq: int | None


@dataclass(frozen=True, slots=True)
class SignatureRow:
    seq: int
    signed_at: str
    signer: str
    name: str
    meaning: str
    subject: str
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "signed_at": self.signed_at,
            "signer": self.signer,
            "name": self.name,
            "meaning": self.meaning,
            "subject": self.subject,
            "sha256": self.sha256,
        }


@dataclass(frozen=True, slots=True)
class SessionRow:
    id_sha256: str
    user_id: str
    created_at: str
    last_used: str
    signed: bool


# --- projection: written on capture of the record and on every replay -----------------


def _roles_json(roles: Any) -> str:
    return canonical_json(sorted(set(roles))).decode()


def _apply_user(conn: Connection, rec: LogRecord, body: dict[str, Any]) -> None:
    t = schema.users
    values = {
        "name": body["name"],
        "kind": body["kind"],
        "status": body["status"],
        "roles": _roles_json(body["roles"]),
        "reviewer_keys": _roles_json(body.get("reviewer_keys") or []),
        "last_seq": rec.seq,
    }
    if body["change"] == "created":
        conn.execute(
            t.insert().values(user_id=body["user"], failures=0, created_seq=rec.seq, **values)
        )
        return
    if body["status"] == "active":  # enabling an account clears its failed attempts
        values["failures"] = 0
        values["locked_at"] = None
    conn.execute(t.update().where(t.c.user_id == body["user"]).values(**values))


def _apply_password(conn: Connection, rec: LogRecord, body: dict[str, Any]) -> None:
    conn.execute(
        schema.credentials.insert().values(
            user_id=body["user"],
            seq=rec.seq,
            hash=body["hash"],
            temporary=1 if body.get("temporary") else 0,
        )
    )


def _apply_token(conn: Connection, rec: LogRecord, body: dict[str, Any]) -> None:
    t = schema.tokens
    if body["action"] == "created":
        conn.execute(
            t.insert().values(
                token_id=body["token"],
                user_id=body["user"],
                sha256=body["sha256"],
                label=body.get("label") or "",
                created_seq=rec.seq,
            )
        )
    else:
        conn.execute(t.update().where(t.c.token_id == body["token"]).values(revoked_seq=rec.seq))


def _apply_login(conn: Connection, _rec: LogRecord, body: dict[str, Any]) -> None:
    """A log-in clears the failures, and a lockout whose time ran out."""
    t = schema.users
    conn.execute(
        t.update()
        .where(t.c.user_id == body["user"])
        .values(
            failures=0,
            status=sa.case((t.c.status == "locked", "active"), else_=t.c.status),
            locked_at=None,
        )
    )


def _apply_failure(conn: Connection, rec: LogRecord, body: dict[str, Any]) -> None:
    if body.get("user") is None:  # an unknown user id: recorded, nothing to count on
        return
    t = schema.users
    values: dict[str, Any] = {"failures": t.c.failures + 1}
    if body.get("locked"):
        values["status"] = "locked"
        values["locked_at"] = rec.recorded_at
    conn.execute(t.update().where(t.c.user_id == body["user"]).values(**values))


def _apply_signature(conn: Connection, rec: LogRecord, body: dict[str, Any]) -> None:
    conn.execute(
        schema.signatures.insert().values(
            seq=rec.seq,
            signed_at=rec.recorded_at,
            signer=body["signer"],
            name=body["name"],
            meaning=body["meaning"],
            subject=body["subject"],
            sha256=body["sha256"],
        )
    )


_APPLY = {
    USER: _apply_user,
    PASSWORD: _apply_password,
    TOKEN: _apply_token,
    LOGIN: _apply_login,
    AUTH_FAILURE: _apply_failure,
    SIGNATURE: _apply_signature,
}


def apply_identity(conn: Connection, rec: LogRecord) -> bool:
    """Write the projection rows of an identity record; ``False`` if ``rec`` is not one."""
    fn = _APPLY.get(rec.kind)
    if fn is None:
        return False
    fn(conn, rec, orjson.loads(rec.body))
    return True


# --- reading -----------------------------------------------------------------------------


def _account(row: Any) -> Account:
    return Account(
        row.user_id,
        row.name,
        row.kind,
        row.status,
        tuple(orjson.loads(row.roles)),
        int(row.failures),
        int(row.created_seq),
        int(row.last_seq),
        tuple(orjson.loads(row.reviewer_keys)),
        row.locked_at,
    )


def account(conn: Connection, user_id: str) -> Account | None:
    row = conn.execute(sa.select(schema.users).where(schema.users.c.user_id == user_id)).first()
    return None if row is None else _account(row)


def accounts(conn: Connection) -> list[Account]:
    return [_account(r) for r in conn.execute(sa.select(schema.users).order_by("user_id"))]


def count_accounts(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(schema.users)).scalar_one())


def password_hashes(conn: Connection, user_id: str, newest: int) -> list[str]:
    """The user's last ``newest`` password hashes, newest first."""
    t = schema.credentials
    rows = conn.execute(
        sa.select(t.c.hash).where(t.c.user_id == user_id).order_by(t.c.seq.desc()).limit(newest)
    )
    return [r[0] for r in rows]


def password_is_temporary(conn: Connection, user_id: str) -> bool:
    """Whether the user's current password was set by someone else (an admin)."""
    t = schema.credentials
    row = conn.execute(
        sa.select(t.c.temporary).where(t.c.user_id == user_id).order_by(t.c.seq.desc()).limit(1)
    ).first()
    return bool(row and row[0])


def token(conn: Connection, token_id: str) -> TokenRow | None:
    t = schema.tokens
    row = conn.execute(sa.select(t).where(t.c.token_id == token_id)).first()
    if row is None:
        return None
    return TokenRow(
        row.token_id, row.user_id, row.sha256, row.label, int(row.created_seq), row.revoked_seq
    )


def tokens_of(conn: Connection, user_id: str) -> list[TokenRow]:
    t = schema.tokens
    rows = conn.execute(sa.select(t).where(t.c.user_id == user_id).order_by(t.c.created_seq))
    return [
        TokenRow(r.token_id, r.user_id, r.sha256, r.label, int(r.created_seq), r.revoked_seq)
        for r in rows
    ]


def _signature(r: Any) -> SignatureRow:
    return SignatureRow(int(r.seq), r.signed_at, r.signer, r.name, r.meaning, r.subject, r.sha256)


def signatures(conn: Connection, subject: str | None = None) -> list[SignatureRow]:
    """Signatures in log order, of one subject or all."""
    t = schema.signatures
    q = sa.select(t).order_by(t.c.seq)
    if subject is not None:
        q = q.where(t.c.subject == subject)
    return [_signature(r) for r in conn.execute(q)]


def identity_policy(conn: Connection, now: str) -> dict[str, Any] | None:
    """The body of the newest ``config.identity`` record in force at ``now`` (one whose
    ``effective_from`` has come; ``None``: the defaults)."""
    bodies = [orjson.loads(r.body) for r in records_of_kind(conn, IDENTITY_POLICY)]
    live = [b for b in bodies if (b.get("effective_from") or "") <= now]
    return live[-1] if live else None


# --- sessions: working state, outside the log --------------------------------------------


def open_session(conn: Connection, id_sha256: str, user_id: str, at: str) -> None:
    conn.execute(
        schema.sessions.insert().values(
            id_sha256=id_sha256, user_id=user_id, created_at=at, last_used=at, signed=0
        )
    )


def session(conn: Connection, id_sha256: str) -> SessionRow | None:
    t = schema.sessions
    r = conn.execute(sa.select(t).where(t.c.id_sha256 == id_sha256)).first()
    if r is None:
        return None
    return SessionRow(r.id_sha256, r.user_id, r.created_at, r.last_used, bool(r.signed))


def touch_session(conn: Connection, id_sha256: str, at: str, *, signed: bool = False) -> None:
    t = schema.sessions
    values: dict[str, Any] = {"last_used": at}
    if signed:
        values["signed"] = 1
    conn.execute(t.update().where(t.c.id_sha256 == id_sha256).values(**values))


def end_session(conn: Connection, id_sha256: str) -> bool:
    t = schema.sessions
    return bool(conn.execute(t.delete().where(t.c.id_sha256 == id_sha256)).rowcount)


def end_sessions_of(conn: Connection, user_id: str) -> int:
    """End every session of a user (disabled, locked, or roles changed)."""
    t = schema.sessions
    return int(conn.execute(t.delete().where(t.c.user_id == user_id)).rowcount or 0)


def clear_sessions(conn: Connection) -> None:
    """End every session: a restored repository starts with nobody logged in."""
    conn.execute(sa.delete(schema.sessions))
