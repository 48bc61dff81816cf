"""Change control: propose, approve, reject, list and show changes to controlled objects.

One mechanism for products, the password and session policy, drill plans and the backup
policy (EU GMP Annex 11 §10; DESIGN.md "Master data"). A change is drafted by anyone
whose role may propose it; a ``qa`` user other than the author approves it with an
electronic signature (password re-entered, meaning ``approved``) over the SHA-256 of the
change's content, from a given time; or rejects it with a reason. ``change show``
recomputes that SHA-256, so a signature moved to another change, or a change altered
after its approval, shows as not verifying.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from serialvault.app.context import open_as, open_to_read
from serialvault.app.signatures import authenticate_signer, signatures_of
from serialvault.domain import change as cc
from serialvault.domain.access import Action
from serialvault.domain.records import (
    CHANGE_DECISION,
    CHANGE_DRAFT,
    IDENTITY_POLICY,
    LOCATION,
    PARTNER,
    PRODUCT,
)
from serialvault.errors import ConflictError, NotFound, NotPermitted, UsageError
from serialvault.identity.auth import Principal
from serialvault.settings import Settings
from serialvault.store import changes as store
from serialvault.store.project import append_projected
from serialvault.store.repository import Repository
from serialvault.timefmt import normalize_timestamp, now_utc


@dataclass(frozen=True)
class Draft:
    """One proposed change: the object, its content after, and — where it was recorded
    outside change control (a product from an old document's master data) and no change
    was approved yet — its state before and the version that follows it."""

    object_type: str
    key: str
    after: Any
    before: Any = None
    version: int | None = None


def propose(
    repo: Repository,
    who: Principal,
    object_type: str,
    key: str,
    after: Any,
    *,
    reason: str,
    before: Any = None,
    version: int | None = None,
) -> cc.Change:
    """Draft one change (the caller has authorised the proposer)."""
    return propose_all(repo, who, [Draft(object_type, key, after, before, version)], reason)[0]


def propose_all(
    repo: Repository, who: Principal, drafts: list[Draft], reason: str
) -> list[cc.Change]:
    """Draft several changes in one transaction, all or none. An object's open draft,
    if any, must be decided first: two drafts of one object would race."""
    for d in drafts:
        if d.object_type not in cc.OBJECT_TYPES:
            raise UsageError(f"unknown controlled object type {d.object_type!r}")
    made: list[cc.Change] = []
    with repo.write() as (conn, log):  # read and draft under the writer lock: no race
        for d in drafts:
            history = store.changes(conn, object_type=d.object_type, object_key=d.key)
            open_ = [c for c in history if c.status == cc.DRAFT]
            if open_:
                raise ConflictError(
                    f"{d.object_type} {d.key} already has an open change ({open_[0].change_id},"
                    f" by {open_[0].author}): approve or reject it first; nothing was recorded"
                )
            approved = [c for c in history if c.status == cc.APPROVED]
            before, version = d.before, d.version
            if approved:
                before, version = approved[-1].after, approved[-1].version + 1
            elif version is None:
                version = 1
            body = {"object": {"type": d.object_type, "key": d.key}, "version": version}
            body.update(before=before, after=d.after)
            rec = append_projected(conn, log, CHANGE_DRAFT, body, who.actor, reason)
            c = store.change(conn, cc.change_id(rec.seq))
            assert c is not None
            made.append(c)
    return made


def list_of(repo: Repository, object_type: str, key: str) -> list[cc.Change]:
    """Every change of one object, oldest first."""
    with repo.read() as conn:
        return store.changes(conn, object_type=object_type, object_key=key)


def current(repo: Repository, object_type: str, key: str) -> cc.Change | None:
    """The newest approved change of an object (its latest version), or ``None``."""
    with repo.read() as conn:
        history = store.changes(conn, object_type=object_type, object_key=key)
    approved = [c for c in history if c.status == cc.APPROVED]
    return approved[-1] if approved else None


def effective_now(repo: Repository, object_type: str, key: str) -> cc.Change | None:
    with repo.read() as conn:
        history = store.changes(conn, object_type=object_type, object_key=key)
    return cc.effective_version(history, now_utc())


def _get(repo: Repository, cid: str) -> cc.Change:
    with repo.read() as conn:
        found = store.change(conn, cid.strip().upper())
    if found is None:
        raise NotFound(f"no change {cid!r} (see `serialvault change list`)")
    return found


def _effective_from(text: str | None, now: str) -> str:
    if text is None:
        return now
    try:
        when = normalize_timestamp(text)
    except ValueError:
        raise UsageError(f"--effective-from {text!r} is not a UTC timestamp") from None
    if when < now:
        raise UsageError(
            f"--effective-from {when} is in the past: an approval cannot act before it was made"
        )
    return when


def _still_draft(conn: Any, cid: str) -> cc.Change:
    """The change as it is under the writer lock: two deciders cannot both decide it."""
    c = store.change(conn, cid)
    if c is None:
        raise NotFound(f"no change {cid!r} (see `serialvault change list`)")
    if c.status != cc.DRAFT:
        raise ConflictError(f"{c.change_id} is {c.status}, not a draft: nothing was changed")
    return c


def _apply_approved(conn: Any, log: Any, c: cc.Change, who: Principal, effective: str) -> None:
    """What approval does to the object itself, in the log and in the decision's own
    transaction: a new version of a product, location or trading partner, a new password
    and session policy; plans and the backup policy need nothing more."""
    kinds = {"product": PRODUCT, "location": LOCATION, "partner": PARTNER}
    if c.object_type in kinds:
        body = {
            c.object_type: c.after[c.object_type],
            "version": c.version,
            "status": c.after.get("status", "active"),
            "origin": {"change": c.change_id, "effective_from": effective},
        }
        append_projected(
            conn, log, kinds[c.object_type], body, who.actor, f"{c.change_id} approved"
        )
    elif c.object_type == "identity-policy":
        body = {"policy": c.after, "change": c.change_id, "effective_from": effective}
        append_projected(conn, log, IDENTITY_POLICY, body, who.actor, f"{c.change_id} approved")


def approve(
    settings: Settings,
    db: str | None,
    cid: str,
    *,
    password: str | None,
    user_entered: str | None = None,
    meaning: str = "approved",
    effective_from: str | None = None,
    reason: str | None = None,
) -> tuple[cc.Change, Any]:
    """``change approve``: a ``qa`` user other than the author signs the change; it is
    effective from ``effective_from`` (default: now)."""
    done = approve_all(
        settings,
        db,
        [cid],
        password=password,
        user_entered=user_entered,
        meaning=meaning,
        effective_from=effective_from,
        reason=reason,
    )
    return done[0]


def approve_all(
    settings: Settings,
    db: str | None,
    cids: list[str],
    *,
    password: str | None,
    user_entered: str | None = None,
    meaning: str = "approved",
    effective_from: str | None = None,
    reason: str | None = None,
) -> list[tuple[cc.Change, Any]]:
    """Approve several drafts in one act of signing (one password re-entry, one
    signature record per change, 21 CFR 11.200(a)(1)): every one must be a draft the
    signer did not write, or none is approved."""
    if not cids:
        raise UsageError("name at least one change to approve")
    repo, who = open_as(settings, db, Action.APPROVE)
    found = [_get(repo, cid) for cid in dict.fromkeys(c.strip().upper() for c in cids)]
    for c in found:
        if c.status != cc.DRAFT:
            raise ConflictError(f"{c.change_id} is {c.status}, not a draft: nothing was changed")
        if c.author == who.user_id:
            raise NotPermitted(
                f"{who.user_id} wrote {c.change_id}: a change is approved by someone other than"
                " its author (separation of duties); nothing was changed"
            )
    if meaning != "approved":
        raise UsageError("a change is approved with the meaning 'approved'")
    now = now_utc()
    when = _effective_from(effective_from, now)
    act = authenticate_signer(
        repo, who, meaning=meaning, password=password, user_entered=user_entered
    )
    with repo.write() as (conn, log):  # signatures, decisions, effects: all or nothing
        found = [_still_draft(conn, c.change_id) for c in found]  # as they are now
        signatures = act.write(
            conn,
            log,
            [(f"change:{c.change_id}", c.sha256) for c in found],
            reason or ", ".join(c.change_id for c in found) + " approved",
        )
        for c, signature in zip(found, signatures, strict=True):
            body = {
                "change": c.change_id,
                "decision": cc.APPROVED,
                "signature_seq": signature.seq,
                "effective_from": when,
            }
            why = reason or f"{c.change_id} approved"
            append_projected(conn, log, CHANGE_DECISION, body, who.actor, why)
            _apply_approved(conn, log, c, who, when)
    return [(_get(repo, c.change_id), s) for c, s in zip(found, signatures, strict=True)]


def reject(settings: Settings, db: str | None, cid: str, *, reason: str) -> cc.Change:
    """``change reject``: a ``qa`` user closes a draft without effect, saying why."""
    if not reason or not reason.strip():
        raise UsageError("a rejection needs --reason: why the change is refused")
    repo, who = open_as(settings, db, Action.APPROVE)
    c = _get(repo, cid)
    with repo.write() as (conn, log):
        c = _still_draft(conn, c.change_id)
        body = {"change": c.change_id, "decision": cc.REJECTED}
        append_projected(conn, log, CHANGE_DECISION, body, who.actor, reason)
    return _get(repo, c.change_id)


def list_changes(
    settings: Settings, db: str | None, *, status: str | None = None
) -> list[dict[str, Any]]:
    """``change list``: every change with its state now (draft, approved, effective,
    rejected), oldest first."""
    repo = open_to_read(settings, db)
    now = now_utc()
    with repo.read() as conn:
        rows = [c.to_dict(now) for c in store.changes(conn)]
    if status is not None:
        rows = [r for r in rows if r["status"] == status]
    return rows


@dataclass(frozen=True)
class ChangeView:
    change: dict[str, Any]
    signatures: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {**self.change, "signatures": self.signatures}


def show(settings: Settings, db: str | None, cid: str) -> ChangeView:
    """``change show``: the change with its diff and its signatures, each verified by
    recomputing the SHA-256 of the change's content (21 CFR 11.70)."""
    repo = open_to_read(settings, db)
    c = _get(repo, cid)
    sigs = []
    for s in signatures_of(repo, f"change:{c.change_id}"):
        d = s.to_dict()
        d["verified"] = s.sha256 == c.sha256
        sigs.append(d)
    return ChangeView(c.to_dict(now_utc()), sigs)
