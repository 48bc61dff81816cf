"""Electronic signatures (21 CFR 11.50, 11.70, 11.200): made here, read here.

A signature is a ``user.signature`` log record linking the signer's id and full name,
the UTC time and the meaning to the SHA-256 of what is signed; the signer re-enters the
password (and the user id at the first signing of a session). Approvals of changes and
drill evidence sign-offs are made through :func:`sign`.
"""

from __future__ import annotations

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
    return sign_all(
        repo,
        settings,
        who,
        [(subject, sha256)],
        meaning=meaning,
        password=password,
        user_entered=user_entered,
        reason=reason,
    )[0]


def sign_all(
    repo: Repository,
    settings: Settings,
    who: Principal,
    items: list[tuple[str, str]],
    *,
    meaning: str,
    password: str | None,
    user_entered: str | None,
    reason: str,
) -> list[ids.SignatureRow]:
    """One act of signing over several ``(subject, sha256)`` items, with one re-entry
    of the password: each item gets its own signature record (its own manifestation,
    11.50), written together or not at all."""
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
    if user_entered is not None and user_entered != who.user_id:
        policy = policy_of(repo)
        record_failure(repo, who.user_id, "signature: user id mismatch", policy)
        raise NotAuthenticated(
            f"signature refused: the user id entered is not the logged-in user ({who.user_id})"
        )
    check_password(repo, who.user_id, password, policy_of(repo), purpose="signature")
    rows: list[ids.SignatureRow] = []
    with repo.write() as (conn, log):
        for subject, sha256 in items:
            body = {
                "signer": who.user_id,
                "name": who.name,
                "meaning": meaning,
                "subject": subject,
                "sha256": sha256,
                "components": "id+password" if user_entered else "password",
                "first_in_session": first,
            }
            rec = append_projected(conn, log, SIGNATURE, body, who.actor, reason)
            rows.append(
                ids.SignatureRow(
                    rec.seq, rec.recorded_at, who.user_id, who.name, meaning, subject, sha256
                )
            )
        if who.session is not None and rows:
            ids.touch_session(conn, who.session, rows[-1].signed_at, signed=True)
    return rows


def signatures_of(repo: Repository, subject: str) -> list[ids.SignatureRow]:
    """The signatures on one subject, oldest first."""
    with repo.read() as conn:
        return ids.signatures(conn, subject)
