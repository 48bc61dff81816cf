"""Secrets never enter a permanent record, a report or a message.

The log is permanent and hash-chained (a password in it could never be removed), and
evidence packages travel to inspectors. So every URL that is shown, logged or written
goes through :func:`redact_url`: the password of its user info is replaced by ``***``,
and so is the value of any query parameter that carries a secret (``password``,
``secret``, ``token``, ``…key``), also inside a URL nested in a parameter
(``s3://bucket?endpoint=http://user:pw@host``). :func:`has_secret` lets plans refuse such
URLs outright. Pure: string work only.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

MASK = "***"
_SECRET_PARAM = re.compile(
    r"(pass(word)?|passwd|pwd|secret|token|credential|signature|(^|_)key$|access_key|sslpassword)",
    re.IGNORECASE,
)
#: ``password=…`` in libpq key/value strings or free text.
_KV_SECRET = re.compile(r"(?i)\b(password|passwd|pwd|secret|token)\s*=\s*('[^']*'|\S+)")


def _netloc(parts: object) -> tuple[str, bool]:
    from urllib.parse import SplitResult

    assert isinstance(parts, SplitResult)
    netloc = parts.netloc
    if "@" not in netloc:
        return netloc, False
    userinfo, host = netloc.rsplit("@", 1)
    if ":" in userinfo:
        user = userinfo.split(":", 1)[0]
        return f"{user}:{MASK}@{host}", True
    return netloc, False


def _scan(url: str) -> tuple[str, bool]:
    """The redacted URL and whether anything secret was in it."""
    if "://" not in url:
        return _KV_SECRET.sub(lambda m: f"{m.group(1)}={MASK}", url), bool(_KV_SECRET.search(url))
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK, True
    netloc, found = _netloc(parts)
    query = parts.query
    if query:
        pairs = []
        for k, v in parse_qsl(query, keep_blank_values=True):
            if _SECRET_PARAM.search(k) and v:
                pairs.append((k, MASK))
                found = True
            elif "://" in v or "=" in v:
                inner, hit = _scan(v)
                pairs.append((k, inner))
                found = found or hit
            else:
                pairs.append((k, v))
        query = urlencode(pairs, safe="/:*@", quote_via=quote)
    if not found:
        return url, False
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)), True


def redact_url(url: str) -> str:
    """``url`` without passwords or secret parameters (unchanged when it holds none)."""
    return _scan(url)[0]


def has_secret(url: str) -> bool:
    """Whether ``url`` carries a password or a secret parameter."""
    return _scan(url)[1]


def redact_text(text: str, urls: tuple[str, ...] = ()) -> str:
    """``text`` with each of ``urls`` replaced by its redacted form, and ``password=…``
    pairs masked (for messages that quote a URL or a driver's error)."""
    for u in urls:
        if u:
            text = text.replace(u, redact_url(u))
            secret = _password_of(u)
            if secret:
                text = text.replace(secret, MASK)
    return _KV_SECRET.sub(lambda m: f"{m.group(1)}={MASK}", text)


def _password_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return parts.password if parts.password else None
