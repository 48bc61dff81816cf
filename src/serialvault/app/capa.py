"""CAPA use cases: new, list, show, update, close, overdue (ICH Q10 §3.2.2).

A CAPA is owned by ``qa``: a qa user opens it (problem statement, optionally the root
cause and the exceptions and drills it answers) and records its corrective and
preventive actions, each with an owner and a due date; the owner of an action may mark
it done. Every change is a new ``capa.version`` record holding the whole CAPA, so each
version reads back as it stood. Closing needs the effectiveness check recorded as
effective and a qa signature (meaning ``approved``) over the SHA-256 of the CAPA as
closed, written with the closing version in one commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from serialvault.app.context import open_as, open_to_read
from serialvault.app.signatures import authenticate_signer, signatures_of
from serialvault.domain import capa as rules
from serialvault.domain.access import Action
from serialvault.domain.exceptions import exception_id, parse_exception_id
from serialvault.errors import ConflictError, NotFound, NotPermitted, UsageError
from serialvault.identity.auth import Principal
from serialvault.settings import Settings
from serialvault.store import capa as store
from serialvault.store import exceptions as ex_store
from serialvault.store import identity as ids
from serialvault.timefmt import now_utc


def _cid(text: str) -> str:
    cid = rules.parse_capa_id(text)
    if cid is None:
        raise UsageError(f"{text!r} is not a CAPA id: CAPA-n (as `capa list` shows)")
    return cid


def _checked_text(value: str | None, what: str, *, required: bool = False) -> str | None:
    problem = rules.text_problem(value, what, required=required)
    if problem:
        raise UsageError(problem + "; nothing was changed")
    return value.strip() if value else None


def _exceptions(conn: Any, values: list[str]) -> list[str]:
    out = []
    for v in values:
        seq = parse_exception_id(v)
        if seq is None:
            raise UsageError(f"--exception {v!r}: an exception id EX-n; nothing was changed")
        ex_store.exception_detail(conn, seq)  # NotFound names it
        out.append(exception_id(seq))
    return out


def _person(conn: Any, user: str, what: str) -> str:
    uid = user.strip().casefold()
    acct = ids.account(conn, uid)
    if acct is None or acct.kind != "person":
        raise NotFound(f"{what} {user!r}: no such person in this repository; nothing was changed")
    return uid


def new(
    settings: Settings,
    db: str | None,
    *,
    title: str,
    problem: str,
    root_cause: str | None = None,
    exceptions: list[str] | None = None,
    drills: list[str] | None = None,
    owner: str | None = None,
) -> dict[str, Any]:
    """``capa new``: open a CAPA; returns its first version."""
    t = _checked_text(title, "--title", required=True)
    p = _checked_text(problem, "--problem", required=True)
    rc = _checked_text(root_cause, "--root-cause")
    repo, who = open_as(settings, db, Action.CAPA)
    with repo.write() as (conn, log):
        linked = _exceptions(conn, exceptions or [])
        boss = _person(conn, owner, "--owner") if owner else who.user_id
        cid = rules.capa_id(log.seq + 1)
        content = rules.new_content(
            cid,
            title=str(t),
            problem=str(p),
            owner=boss,
            root_cause=rc,
            exceptions=linked,
            drills=[d.strip() for d in drills or [] if d.strip()],
        )
        store.append_capa(conn, log, content, 1, who.actor, f"{cid} opened")
    return content


@dataclass
class Update:
    """What ``capa update`` changes; everything left ``None``/empty stays as it is."""

    root_cause: str | None = None
    corrective: list[tuple[str, str, str]] | None = None  # (text, owner, due)
    preventive: list[tuple[str, str, str]] | None = None
    done: list[str] | None = None
    note: str | None = None
    effectiveness_plan: str | None = None
    effectiveness_due: str | None = None
    effectiveness_result: str | None = None
    effective: bool | None = None
    exceptions: list[str] | None = None
    drills: list[str] | None = None


def _only_done(u: Update) -> bool:
    """Whether an update only marks actions done (what an action's owner may do)."""
    return bool(u.done) and all(
        v in (None, []) for k, v in vars(u).items() if k not in ("done", "note")
    )


def update(settings: Settings, db: str | None, text_id: str, u: Update) -> dict[str, Any]:
    """``capa update``: a new version with the changes asked for. A qa user may change
    anything; the owner of an action may mark their own actions done."""
    cid = _cid(text_id)
    _checked_text(u.root_cause, "--root-cause")
    _checked_text(u.effectiveness_plan, "--effectiveness-plan")
    _checked_text(u.effectiveness_result, "--effectiveness-result")
    _checked_text(u.note, "--note")
    if u.effective is not None and u.effectiveness_result is None:
        raise UsageError("--effective/--not-effective goes with --effectiveness-result TEXT")
    if u.effectiveness_result is not None and u.effective is None:
        raise UsageError("--effectiveness-result needs --effective or --not-effective")
    for items in (u.corrective or [], u.preventive or []):
        for text, _owner, due in items:
            _checked_text(text, "an action's text", required=True)
            try:
                rules.due_date(due, "--due")
            except ValueError as exc:
                raise UsageError(str(exc)) from None
    if u.effectiveness_due is not None:
        try:
            u.effectiveness_due = rules.due_date(u.effectiveness_due, "--effectiveness-due")
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    owner_only = _only_done(u)
    repo, who = open_as(settings, db, Action.READ if owner_only else Action.CAPA)
    with repo.write() as (conn, log):
        row = store.capa_row(conn, cid)
        content = row["content"]
        if content["status"] == rules.CLOSED:
            raise ConflictError(f"{cid} is closed: a closed CAPA is locked; nothing was changed")
        content = _changed(conn, content, u, who, cid)
        if content == row["content"]:
            raise UsageError(f"{cid}: the update changes nothing; nothing was recorded")
        store.append_capa(conn, log, content, int(row["version"]) + 1, who.actor, f"{cid} updated")
    return content


def _changed(
    conn: Any, content: dict[str, Any], u: Update, who: Principal, cid: str
) -> dict[str, Any]:
    c = {**content, "actions": [dict(a) for a in content["actions"]]}
    c["effectiveness"] = dict(content["effectiveness"])
    may_edit = who.may(Action.CAPA)
    if u.root_cause is not None:
        c["root_cause"] = u.root_cause.strip()
    for kind, items in (("corrective", u.corrective), ("preventive", u.preventive)):
        for text, owner, due in items or []:
            c = rules.add_action(
                c, kind, text, _person(conn, owner, "--owner"), rules.due_date(due, "--due")
            )
    now = now_utc()
    for action_id in u.done or []:
        found = [a for a in c["actions"] if a["id"] == action_id.strip().upper()]
        if not found:
            raise NotFound(f"{cid} has no action {action_id!r}; nothing was changed")
        a = found[0]
        if a["done_at"]:
            raise ConflictError(f"{cid} {a['id']} is already done; nothing was changed")
        if not may_edit and a["owner"] != who.user_id:
            raise NotPermitted(
                f"{who.user_id} may mark only their own actions done; {a['id']} is"
                f" {a['owner']}'s (a qa user may record it); nothing was changed"
            )
        a.update(done_at=now, done_by=who.user_id, note=u.note.strip() if u.note else None)
    eff = c["effectiveness"]
    if u.effectiveness_plan is not None:
        eff["plan"] = u.effectiveness_plan.strip()
    if u.effectiveness_due is not None:
        eff["due"] = u.effectiveness_due
    if u.effectiveness_result is not None:
        if any(not a["done_at"] for a in c["actions"]) or not c["actions"]:
            raise ConflictError(
                f"{cid}: effectiveness is checked once every action is done; nothing was changed"
            )
        eff.update(
            result=u.effectiveness_result.strip(), effective=u.effective, by=who.user_id, at=now
        )
    if u.exceptions:
        c["exceptions"] = sorted(set(c["exceptions"]) | set(_exceptions(conn, u.exceptions)))
    if u.drills:
        c["drills"] = sorted(set(c["drills"]) | {d.strip() for d in u.drills if d.strip()})
    return c


def list_capas(
    settings: Settings, db: str | None, *, status: str | None = None
) -> list[dict[str, Any]]:
    """``capa list``: every CAPA's latest version, oldest first."""
    if status is not None and status not in (rules.OPEN, rules.CHECK, rules.CLOSED):
        raise UsageError(f"--status {status!r}: open, effectiveness-check or closed")
    repo = open_to_read(settings, db)
    today = now_utc()[:10]
    with repo.read() as conn:
        rows = store.capa_rows(conn, status)
    return [_summary(r, today) for r in rows]


def _summary(r: dict[str, Any], today: str) -> dict[str, Any]:
    c = r["content"]
    return {
        "capa": r["capa_id"],
        "title": r["title"],
        "status": r["status"],
        "owner": c["owner"],
        "version": r["version"],
        "next_due": r["next_due"],
        "overdue": rules.overdue(c, today),
        "exceptions": c["exceptions"],
        "drills": c["drills"],
        "opened_at": r["opened_at"],
    }


def overdue(settings: Settings, db: str | None) -> list[dict[str, Any]]:
    """``capa overdue``: open CAPAs with an action or effectiveness check past due."""
    return [r for r in list_capas(settings, db) if r["overdue"]]


def show(settings: Settings, db: str | None, text_id: str) -> dict[str, Any]:
    """``capa show``: the CAPA as it is, its versions and its signatures (verified by
    recomputing the SHA-256 of the closed content)."""
    cid = _cid(text_id)
    repo = open_to_read(settings, db)
    with repo.read() as conn:
        row = store.capa_row(conn, cid)
        versions = store.capa_versions(conn, cid)
    c = row["content"]
    sigs = []
    for s in signatures_of(repo, f"capa:{cid}"):
        d = s.to_dict()
        closure = c.get("closure") or {}
        unsigned = {**c, "status": rules.CLOSED, "closure": None}
        d["verified"] = closure.get("signature_seq") == s.seq and s.sha256 == rules.content_sha256(
            unsigned
        )
        sigs.append(d)
    return {
        **c,
        "phase": row["status"],
        "version": row["version"],
        "opened_by": row["opened_by"],
        "opened_at": row["opened_at"],
        "overdue": rules.overdue(c, now_utc()[:10]),
        "versions": versions,
        "signatures": sigs,
    }


def close(
    settings: Settings,
    db: str | None,
    text_id: str,
    *,
    password: str | None,
    user_entered: str | None = None,
) -> dict[str, Any]:
    """``capa close``: a qa user signs the CAPA closed (meaning ``approved``) once its
    effectiveness check says the actions worked; signature and closing version are one
    commit."""
    cid = _cid(text_id)
    repo, who = open_as(settings, db, Action.CAPA)

    def checked(conn: Any) -> dict[str, Any]:
        row = store.capa_row(conn, cid)
        problem = rules.closure_problem(row["content"])
        if problem:
            raise ConflictError(f"{cid} cannot be closed: {problem}; nothing was changed")
        return row

    with repo.read() as conn:
        checked(conn)
    if not who.may(Action.SIGN_OFF):
        raise NotPermitted(f"{who.user_id} may not sign: closing a CAPA needs a qa signature")
    act = authenticate_signer(
        repo, who, meaning="approved", password=password, user_entered=user_entered
    )
    with repo.write() as (conn, log):
        row = checked(conn)
        closed = {**row["content"], "status": rules.CLOSED, "closure": None}
        digest = rules.content_sha256(closed)
        [sig] = act.write(conn, log, [(f"capa:{cid}", digest)], f"{cid} closed")
        closed["closure"] = {"signature_seq": sig.seq, "sha256": digest, "by": who.user_id}
        store.append_capa(
            conn,
            log,
            closed,
            int(row["version"]) + 1,
            who.actor,
            f"{cid} closed",
            signature_seq=sig.seq,
        )
    return closed
