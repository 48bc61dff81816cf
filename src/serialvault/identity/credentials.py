"""Secrets made and checked here and nowhere else: Argon2id password hashes, tokens.

Passwords are hashed with Argon2id (RFC 9106) through ``argon2-cffi``, with the OWASP
Password Storage Cheat Sheet's minimum profile (19 MiB, 2 passes, 1 lane: about 35 ms
here, so a log-in and a signature stay well under half a second); the parameters are
in each PHC string, so a stronger profile later still verifies every hash written now.
Tokens and session secrets are 256 bits from :mod:`secrets`; only their SHA-256 is
stored — a secret that random needs no slow hash, and the lookup is then exact.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher(
    time_cost=2, memory_cost=19_456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
)

#: Tokens read ``svt_<id>_<secret>``: the id finds the row, the secret proves possession.
TOKEN_PREFIX = "svt"


def hash_password(password: str) -> str:
    """A salted Argon2id hash of ``password`` (PHC string format)."""
    return _HASHER.hash(password)


def password_matches(stored_hash: str, password: str) -> bool:
    """Whether ``password`` is the one ``stored_hash`` was made from (constant time)."""
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_DECOY: list[str] = []


def decoy_hash() -> str:
    """An Argon2id hash of a random secret nobody knows: an unknown user id is checked
    against it, so that a log-in for an account that does not exist costs what one for
    an account that does costs (no timing oracle for which ids exist)."""
    if not _DECOY:
        _DECOY.append(hash_password(secrets.token_urlsafe(24)))
    return _DECOY[0]


def digest(secret: str) -> str:
    """SHA-256 (hex) of a token or session secret: what the database keeps."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def same_digest(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def new_secret() -> str:
    """256 random bits, URL-safe text (a session's secret, a token's)."""
    return secrets.token_urlsafe(32)


def new_token() -> tuple[str, str]:
    """A new token: ``(token_id, text)``; the text is shown once and never stored."""
    token_id = secrets.token_hex(6)
    return token_id, f"{TOKEN_PREFIX}_{token_id}_{new_secret()}"


def parse_token(text: str) -> tuple[str, str] | None:
    """``(token_id, secret)`` of a token's text, or ``None`` if it is not one.

    >>> parse_token("svt_0a1b2c3d4e5f_c2VjcmV0")
    ('0a1b2c3d4e5f', 'c2VjcmV0')
    >>> parse_token("not-a-token") is None
    True
    """
    prefix, sep, rest = text.strip().partition("_")
    token_id, sep2, secret = rest.partition("_")
    if prefix != TOKEN_PREFIX or not sep or not sep2 or not token_id or not secret:
        return None
    return token_id, secret
