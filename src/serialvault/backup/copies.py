"""Backup copies: naming them, opening them, and reading the manifests they hold.

Every backup module (take, verify, prune, restore, plan, follow, drills) works on
copies through here, so what counts as "a copy's backups" is decided once: a manifest
that is not JSON, carries a bad or foreign signature, or sits under another backup's
name is a finding and never a recovery point (EU GMP Annex 11 §7.1: data secured and
checked; DESIGN.md "Backup").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from serialvault.backup.manifest import Finding, Manifest
from serialvault.backup.objects import CopyState
from serialvault.backup.policy import Policy
from serialvault.backup.targets import open_target
from serialvault.epcis.jsonparse import DuplicateKey, unique
from serialvault.errors import BackupError
from serialvault.redact import redact_url


@dataclass(frozen=True, slots=True)
class Copy:
    name: str
    url: str
    settings: dict[str, Any] = field(default_factory=dict)
    origin: str | None = None  # a drill's sandbox clone: the URL of the copy it clones

    def open(self) -> CopyState:
        return CopyState(self.name, open_target(self.url, self.settings), origin=self.origin)


def select_copies(
    policy: Policy, names: Iterable[str] = (), urls: Iterable[str] = ()
) -> list[Copy]:
    """The copies named (by policy name or URL), or every copy of the policy."""
    names, urls = list(names), list(urls)
    out: list[Copy] = []
    for n in names:
        if "://" in n:
            urls.append(n)
            continue
        spec = policy.copies.get(n)
        if spec is None:
            known = ", ".join(policy.copies) or "none"
            where = f"policy {policy.path}" if policy.path else "no policy file"
            raise BackupError(f"no copy named {n!r} ({where}; copies: {known})")
        out.append(Copy(spec.name, spec.url, spec.settings))
    out += [Copy(redact_url(u), u) for u in urls]  # a name is shown: never a secret in it
    if not names and not urls:
        out = [Copy(s.name, s.url, s.settings) for s in policy.copies.values()]
    if not out:
        raise BackupError(
            "no backup copy: name one with --to URL, or list copies in a policy file"
            " (serialvault.toml, --policy or SERIALVAULT_POLICY)"
        )
    return out


def read_manifests(
    state: CopyState, verify: Any | None = None
) -> tuple[list[Manifest], list[Finding]]:
    """Every readable manifest of a copy (oldest first) and findings about the others.

    ``verify`` (a :class:`~serialvault.backup.crypto.VerifyKey`) checks signatures; a
    manifest with a bad signature is reported and left out.
    """
    out: list[Manifest] = []
    findings: list[Finding] = []
    for info in state.target.list("manifests/"):
        if not info.name.endswith(".json"):
            continue
        bid = info.name.rsplit("/", 1)[-1][: -len(".json")]
        raw = state.target.get(info.name)
        try:
            doc = unique(raw)
            if not isinstance(doc, dict):
                raise ValueError("not an object")
        except DuplicateKey as exc:
            # what it says depends on the parser: never a backup. Its name is a sighting
            # only when it claims our key (a signed manifest of ours, altered)
            try:
                lenient = orjson.loads(raw)
            except orjson.JSONDecodeError:
                lenient = None
            sig = lenient.get("signature") if isinstance(lenient, dict) else None
            ours = (
                verify is not None and isinstance(sig, dict) and sig.get("key_id") == verify.key_id
            )
            code = "bad-signature" if ours else "foreign-manifest"
            findings.append(Finding(code, f"manifest {info.name}: {exc}", state.name, bid))
            continue
        except (orjson.JSONDecodeError, ValueError, UnicodeDecodeError):
            # no signature to tell ours from a stranger's: reported, but its name is no
            # evidence of a backup (junk under a "newer" name must not hold restores)
            findings.append(
                Finding("unreadable-manifest", f"manifest {info.name} is not JSON", state.name, bid)
            )
            continue
        if verify is not None:
            problem = verify.check(doc)
            if problem is not None:
                sig = doc.get("signature")
                ours = isinstance(sig, dict) and sig.get("key_id") == verify.key_id
                # Signed with our key but not matching: a damaged backup of ours, which a
                # restore must not step over silently. Unsigned or another key's: never
                # ours, a forgery or a stranger's file — reported, and no recovery point.
                code = "bad-signature" if ours else "foreign-manifest"
                findings.append(Finding(code, f"manifest {info.name}: {problem}", state.name, bid))
                continue
        try:
            m = Manifest.from_dict(doc, info.name)
        except BackupError as exc:
            findings.append(Finding("bad-manifest", str(exc), state.name, bid))
            continue
        if m.id != bid:
            # a genuine manifest under another name: the name, not the backup, is false
            findings.append(
                Finding(
                    "misnamed-manifest",
                    f"{info.name} holds backup {m.id} (ending at seq {m.last_seq}), not {bid}",
                    state.name,
                    bid,
                )
            )
            continue
        out.append(m)
    out.sort(key=lambda m: (m.created_at, m.id))
    return out, findings


def newest(
    manifests: list[Manifest], repo_id: str, abandoned: set[tuple[int, str]] | None = None
) -> Manifest | None:
    """The backup of ``repo_id`` reaching furthest, leaving out heads a new timeline
    abandoned."""
    gone = abandoned or set()
    mine = [
        m
        for m in manifests
        if m.repository_id == repo_id and (m.last_seq, m.chain_head) not in gone
    ]
    return max(mine, key=lambda m: (m.last_seq, m.created_at), default=None)
