"""Electronic signatures (21 CFR 11.50, 11.70, 11.200): made here, read here.

A signature is a ``user.signature`` log record linking the signer's id and full name,
the UTC time and the meaning to the SHA-256 of what is signed; the signer re-enters the
password (and the user id at the first signing of a session). :func:`authenticate_signer`
checks the signer once; the :class:`SigningAct` it returns writes the signature records
inside the caller's transaction, beside what they sign for (the approval of changes, a
drill evidence sign-off), so that neither is ever committed without the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from serialvault.domain.access import MEANINGS
from serialvault.domain.records import SIGNATURE
from serialvault.errors import NotAuthenticated, NotPermitted, UsageError
from serialvault.identity.auth import (
    Principal,
    check_password,
    policy_of,
    record_failure,
    session_signed,
)
from serialvault.settings import Settings
from serialvault.store import identity as ids
from serialvault.store.project import append_projected
from serialvault.store.repository import Repository


def sign(
    repo: Repository,
    settings: Settings,
    who: Principal,
    *,
    subject: str,
    sha256: str,
    meaning: str,
    password: str | None,
    user_entered: str | None,
    reason: str,
) -> ids.SignatureRow:
    """An electronic signature (21 CFR 11.50, 11.70, 11.200): the signer re-enters the
    password (and the user id at the first signing of a session), the record links
    name, time and meaning to the SHA-256 of what is signed. A failed re-entry is a
    recorded failure and counts toward the lockout."""
    act = authenticate_signer(
        repo, who, meaning=meaning, password=password, user_entered=user_entered
    )
    with repo.write() as (conn, log):
        return act.write(conn, log, [(subject, sha256)], reason)[0]


@dataclass(frozen=True)
class SigningAct:
    """A signer whose password (and user id) was just re-entered: what it writes is
    written inside the caller's transaction, with what the signatures are for — an
    approval and its signatures are one commit, never a signature without its act."""

    who: Principal
    meaning: str
    components: str
    first: bool

    def write(
        self, conn: Any, log: Any, items: list[tuple[str, str]], reason: str
    ) -> list[ids.SignatureRow]:
        rows: list[ids.SignatureRow] = []
        who = self.who
        for subject, sha256 in items:
            body = {
                "signer": who.user_id,
                "name": who.name,
                "meaning": self.meaning,
                "subject": subject,
                "sha256": sha256,
                "components": self.components,
                "first_in_session": self.first,
            }
            rec = append_projected(conn, log, SIGNATURE, body, who.actor, reason)
            rows.append(
                ids.SignatureRow(
                    rec.seq, rec.recorded_at, who.user_id, who.name, self.meaning, subject, sha256
                )
            )
        if who.session is not None and rows:
            ids.touch_session(conn, who.session, rows[-1].signed_at, signed=True)
        return rows


def authenticate_signer(
    repo: Repository,
    who: Principal,
    *,
    meaning: str,
    password: str | None,
    user_entered: str | None,
) -> SigningAct:
    """The checks of 21 CFR 11.200(a)(1) before a signing: a person (not a service
    account), a known meaning, the password re-entered (and the user id at a session's
    first signing, compared as log-in compares it: case-folded). A wrong re-entry is a
    recorded failure and counts toward the lockout."""
    if who.kind == "service":
        raise NotPermitted(f"{who.user_id} is a service account: it has no signature rights")
    if meaning not in MEANINGS:
        raise UsageError(f"meaning {meaning!r}: one of {', '.join(MEANINGS)}")
    if password is None:
        raise UsageError("a signature needs the password re-entered (--password-file or a prompt)")
    first = not session_signed(repo, who)
    if first and user_entered is None:
        raise UsageError(
            "the first signature of a session needs both components (21 CFR 11.200(a)(1)):"
            " your user id (--user) and your password"
        )
    if user_entered is not None and user_entered.strip().casefold() != who.user_id:
        policy = policy_of(repo)
        record_failure(repo, who.user_id, "signature: user id mismatch", policy)
        raise NotAuthenticated(
            f"signature refused: the user id entered is not the logged-in user ({who.user_id})"
        )
    check_password(repo, who.user_id, password, policy_of(repo), purpose="signature")
    return SigningAct(who, meaning, "id+password" if user_entered else "password", first)


def signatures_of(repo: Repository, subject: str) -> list[ids.SignatureRow]:
    """The signatures on one subject, oldest first."""
    with repo.read() as conn:
        return ids.signatures(conn, subject)
