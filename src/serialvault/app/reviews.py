"""Periodic reviews: the audit-trail review of a period and the access review.

21 CFR 11.10(e) (audit trails), EU GMP Annex 11 §9 ("audit trails should be regularly
reviewed"), Annex 11 (2025 draft) §11 (periodic access reviews), 11.50/11.70
(signatures bound to what they sign). A ``qa`` user writes a review into a folder —
``review.json`` (every finding), ``report.html`` and ``report.pdf`` — and the log
records it (``review.audit`` / ``review.access``) with the SHA-256 of each file, the
seq range and the chain hash it covers. A ``qa`` user signs it (``review.signoff`` and
the electronic signature, one commit) after the files are checked against the record;
nobody signs a review that lists their own privileged actions or grants. ``verify``
recomputes everything, so a report altered after it was recorded or signed is named.
``due`` lists the periods no signed review covers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from serialvault.app.context import open_as
from serialvault.app.signatures import authenticate_signer, signatures_of
from serialvault.domain import change as cc
from serialvault.domain import review as rv
from serialvault.domain.access import Action
from serialvault.domain.chain import GENESIS
from serialvault.domain.records import (
    PASSWORD,
    REVIEW_ACCESS,
    REVIEW_AUDIT,
    REVIEW_SIGNOFF,
    TOKEN,
    USER,
)
from serialvault.errors import (
    ConflictError,
    IntegrityFailure,
    NotFound,
    NotPermitted,
    UsageError,
)
from serialvault.identity.auth import Principal
from serialvault.settings import Settings
from serialvault.store import changes as change_store
from serialvault.store import identity as ids
from serialvault.store import reviews as store
from serialvault.store.repository import Repository, chain_hash_at, read_head
from serialvault.timefmt import normalize_timestamp, now_utc, utc_iso

POLICY_KEY = "review"
KINDS = {"audit": REVIEW_AUDIT, "access": REVIEW_ACCESS}
FORMATS = {rv.AUDIT_FORMAT: "audit", rv.ACCESS_FORMAT: "access"}
COMMANDS = {"audit": "audit review", "access": "user review"}


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class PolicyInForce:
    policy: rv.ReviewPolicy
    change_id: str | None
    version: int | None

    @property
    def source(self) -> str:
        if self.change_id is None:
            return "review policy: documented defaults, no approved version"
        return f"review policy version {self.version} ({self.change_id})"

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.policy.to_dict(),
            "hours": self.policy.hours_text(),
            "change": self.change_id,
            "version": self.version,
            "source": self.source,
        }


def policy_at(repo: Repository, at: str) -> PolicyInForce:
    """The review policy in force at ``at``: the approved version effective then, else
    the documented defaults (``ReviewPolicy()``)."""
    with repo.read() as conn:
        history = change_store.changes(conn, object_type="review-policy", object_key=POLICY_KEY)
    c = cc.effective_version(history, at)
    if c is None:
        return PolicyInForce(rv.ReviewPolicy(), None, None)
    return PolicyInForce(rv.ReviewPolicy.from_dict(c.after), c.change_id, c.version)


def _log_now(repo: Repository) -> str:
    """Now, by the log's clock (which never goes back): the later of the system time
    and the newest record's time."""
    head = repo.head()
    return max(now_utc(), head.recorded_at or "")


def show_policy(settings: Settings, db: str | None) -> PolicyInForce:
    """``audit review policy show``: the review policy in force now."""
    repo, _who = open_as(settings, db, Action.READ)
    return policy_at(repo, _log_now(repo))


def set_policy(
    settings: Settings, db: str | None, changes: dict[str, str], *, reason: str | None
) -> cc.Change:
    """``audit review policy set``: propose a new version of the review policy (a qa or
    admin user) — a draft change, in force once a ``qa`` user other than the proposer
    approves it (Annex 11 §10)."""
    from serialvault.app.changes import propose

    repo, who = open_as(settings, db, Action.READ)
    if not (who.may(Action.REVIEW) or who.may(Action.CONFIGURE)):
        raise NotPermitted(
            f"{who.user_id} ({', '.join(who.roles)}) may not propose a review policy: that"
            " needs the role qa or admin; nothing was changed"
        )
    current = policy_at(repo, _log_now(repo)).policy.to_dict()
    new: dict[str, Any] = dict(current)
    for name, value in changes.items():
        if name not in current:
            raise UsageError(f"unknown review policy setting {name!r}: {', '.join(current)}")
        if name in ("access_interval_days", "dormant_days"):
            if not value.strip().isdigit():
                raise UsageError(f"{name}={value!r}: give a whole number of days")
            new[name] = int(value)
        elif name == "working_days":
            new[name] = [d.strip().lower() for d in value.split(",") if d.strip()]
        else:
            new[name] = value.strip()
    try:
        checked = rv.ReviewPolicy.from_dict(new).to_dict()
    except ValueError as exc:
        raise UsageError(f"review policy refused: {exc}; nothing was changed") from None
    return propose(
        repo,
        who,
        "review-policy",
        POLICY_KEY,
        checked,
        reason=reason or "review policy",
        before=current,
    )


# --------------------------------------------------------------------------- audit review


def _when(text: str, option: str, tz: str) -> str:
    """A UTC timestamp from an option: a timestamp with its offset, or a date (midnight
    in the site's time zone)."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text)
            return utc_iso(day.replace(tzinfo=ZoneInfo(tz)))
        return normalize_timestamp(text)
    except ValueError:
        raise UsageError(
            f"{option} {text!r}: give a date (YYYY-MM-DD, midnight in the site's time zone)"
            " or a timestamp with its offset"
        ) from None


@dataclass(frozen=True)
class ReviewWritten:
    """A review written and recorded."""

    kind: str
    review_id: str
    seq: int
    folder: Path
    files: dict[str, str]
    summary: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "review": self.review_id,
            "kind": self.kind,
            "seq": self.seq,
            "folder": str(self.folder),
            "files": self.files,
            **self.summary,
        }


def _prepared(who: Principal) -> dict[str, str]:
    return {"at": now_utc(), "by": who.user_id, "name": who.name}


def _tally(
    repo: Repository,
    start: str,
    end: str,
    policy: rv.ReviewPolicy,
    on_progress: Callable[[int], None] | None,
) -> tuple[rv.AuditTally, dict[str, dict[str, int]], list[ids.Account]]:
    """Stream the period's records through the tally (chain checked as they pass)."""
    with repo.read() as conn:
        first, last = store.period_bounds(conn, start, end)
        before = (first or last + 1) - 1
        prev = chain_hash_at(conn, before)
        earlier = [b for _s, _t, _a, b in store.bodies_of_kind(conn, USER, before=before + 1)]
        tally = rv.AuditTally(
            policy,
            rv.account_states(earlier),
            prev_seq=before,
            prev_chain=prev or GENESIS,
        )
        if first is not None:
            rows = store.stream_log(conn, first, last)
            tally.feed(_watch(rows, on_progress))
        accounts = ids.accounts(conn)
        if first is None:  # an empty period is bound to the record before its end
            tally.last_seq, tally.last_chain = last, prev or GENESIS
    if tally.broken is not None:
        raise IntegrityFailure(
            f"the hash chain breaks inside the period: {tally.broken}; run `serialvault audit"
            " verify`; no review was recorded"
        )
    spans = {
        u: {"first_seq": f, "last_seq": tally.last_by_user[u]}
        for u, f in tally.first_by_user.items()
    }
    return tally, spans, accounts


def _watch(rows: Any, on_progress: Callable[[int], None] | None) -> Any:
    """Pass the rows on, telling progress every 100,000."""
    if on_progress is None:
        yield from rows
        return
    for n, row in enumerate(rows, 1):
        if not n % 100_000:
            on_progress(n)
        yield row


def _restores(repo: Repository, tally: rv.AuditTally, start: str, end: str) -> None:
    """A restore in the period, from the repository's metadata (the log it restored is
    the backup's own, so it cannot say it was restored)."""
    meta = repo.meta()
    at = meta.get("restored_at")
    if at and start <= at < end:
        with repo.read() as conn:
            seq = store.seq_before(conn, at)
        tally.add_restore(at, meta.get("restored_by", ""), meta.get("restored_from", ""), seq)


def _period_label(policy: rv.ReviewPolicy, start: str, end: str) -> str | None:
    found = [p for p in rv.periods(policy, start, end) if p.start == start and p.end == end]
    return found[0].label if found else None


def _audit_document(
    repo: Repository,
    who: Principal,
    review_id: str,
    period: dict[str, Any],
    pol: PolicyInForce,
    tally: rv.AuditTally,
    spans: dict[str, dict[str, int]],
    accounts: list[ids.Account],
) -> dict[str, Any]:
    known = {a.user_id: a for a in accounts}
    users = []
    for actor, n in tally.by_user.most_common():
        a = known.get(actor)
        kinds = {k: c for (u, k), c in sorted(tally.by_user_kind.items()) if u == actor}
        users.append(
            {
                "user": actor,
                "name": a.name if a else ("serialvault" if actor == rv.SYSTEM else ""),
                "roles": list(a.roles) if a else [],
                "status": a.status if a else "(no account)",
                "records": n,
                "kinds": dict(sorted(kinds.items(), key=lambda kv: -kv[1])),
                **spans.get(actor, {}),
            }
        )
    disabled_now = [
        {k: u[k] for k in ("user", "name", "records", "first_seq", "last_seq")}
        for u in users
        if u["status"] == "disabled"
    ]
    return {
        "format": rv.AUDIT_FORMAT,
        "review_id": review_id,
        "kind": "audit",
        "repository_id": repo.meta().get("repository_id"),
        "period": period,
        "covered": {
            "first_seq": tally.first_seq,
            "last_seq": tally.last_seq,
            "records": tally.records,
            "chain_hash_before": tally.chain_before,
            "chain_hash": tally.last_chain,
            "chain_verified": True,
        },
        "policy": pol.to_dict(),
        "generated": _prepared(who),
        "counts": {
            "users": users,
            "by_kind": dict(tally.by_kind.most_common()),
            "by_role": dict(tally.by_role.most_common()),
            "by_flag": {f: tally.by_flag[f] for f in rv.FLAGS if tally.by_flag.get(f)},
            "flagged": len(tally.flagged),
        },
        "excluded_signers": tally.privileged_actors(),
        "flagged": [tally.entry(e) for e in tally.flagged],
        "disabled_now": disabled_now,
    }


def audit_review(
    settings: Settings,
    db: str | None,
    *,
    start: str,
    end: str,
    out: Path,
    on_progress: Callable[[int], None] | None = None,
) -> ReviewWritten:
    """``audit review --from T --to T --out DIR``: review ``[start, end)`` (21 CFR
    11.10(e); Annex 11 §9). Streams the period's records in seq order, checks their
    chain, counts per user, kind and role, keeps the flagged entries (first in the
    report), writes the three files and records ``review.audit`` with their SHA-256.
    The period must be over: records still to come would escape it."""
    repo, who = open_as(settings, db, Action.REVIEW)
    pol = policy_at(repo, _log_now(repo))
    tz = pol.policy.timezone
    a, b = _when(start, "--from", tz), _when(end, "--to", tz)
    if a >= b:
        raise UsageError(f"--from {a} is not before --to {b}: nothing was recorded")
    if b > _log_now(repo):
        raise UsageError(
            f"--to {b} is in the future: a period is reviewed once it is over; nothing was recorded"
        )
    pol = policy_at(repo, b)
    from serialvault.reviews.report import check_free, write_review

    check_free(out)
    tally, spans, accounts = _tally(repo, a, b, pol.policy, on_progress)
    _restores(repo, tally, a, b)
    review_id = f"AR-{uuid.uuid4().hex[:12]}"
    period = {"from": a, "to": b, "label": _period_label(pol.policy, a, b)}
    doc = _audit_document(repo, who, review_id, period, pol, tally, spans, accounts)
    files = write_review(out, doc)
    body = {
        "review_id": review_id,
        "period": period,
        "first_seq": tally.first_seq,
        "last_seq": tally.last_seq,
        "records": tally.records,
        "chain_hash": tally.last_chain,
        "flagged": len(tally.flagged),
        "by_flag": doc["counts"]["by_flag"],
        "excluded_signers": doc["excluded_signers"],
        "policy": {"change": pol.change_id, "version": pol.version},
        "files": files,
    }

    def still(conn: Any) -> str | None:
        if store.period_bounds(conn, a, b) != (tally.first_seq, tally.last_seq):
            return "records of the period arrived while it was being reviewed"
        return None

    seq = _record(repo, who, REVIEW_AUDIT, body, out, still, f"audit-trail review {a} to {b}")
    summary = {
        "period": period,
        "first_seq": tally.first_seq,
        "last_seq": tally.last_seq,
        "records": tally.records,
        "flagged": len(tally.flagged),
        "by_flag": doc["counts"]["by_flag"],
        "excluded_signers": doc["excluded_signers"],
    }
    return ReviewWritten("audit", review_id, seq, out, files, summary)


def _record(
    repo: Repository,
    who: Principal,
    kind: str,
    body: dict[str, Any],
    out: Path,
    check: Callable[[Any], str | None],
    why: str,
) -> int:
    """Append the review record; on a refusal the files just written go again, so that
    no folder looks like a recorded review that is not."""
    from serialvault.reviews.report import FILES

    try:
        with repo.write() as (conn, log):
            problem = check(conn)
            if problem is not None:
                raise ConflictError(f"{problem}: run the review again; nothing was recorded")
            return log.append(kind, body, who.actor, why).seq
    except BaseException:
        for name in FILES:
            (out / name).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- access review


def _reviews(conn: Any, kind: str) -> list[tuple[int, str, str, dict[str, Any]]]:
    return store.bodies_of_kind(conn, KINDS[kind])


def _signoffs(conn: Any) -> dict[str, list[tuple[int, str, dict[str, Any]]]]:
    """Sign-offs per review id: ``(seq, recorded_at, body)``."""
    out: dict[str, list[tuple[int, str, dict[str, Any]]]] = {}
    for seq, at, _actor, body in store.bodies_of_kind(conn, REVIEW_SIGNOFF):
        out.setdefault(str(body["review_id"]), []).append((seq, at, body))
    return out


def _last_signed_access(conn: Any) -> dict[str, Any] | None:
    signed = _signoffs(conn)
    done = [(s, b) for s, _t, _a, b in _reviews(conn, "access") if b["review_id"] in signed]
    if not done:
        return None
    seq, body = done[-1]
    first_signoff = signed[body["review_id"]][0]
    return {
        "review_id": body["review_id"],
        "seq": body["as_of_seq"],
        "record_seq": seq,
        "signed_at": first_signoff[1],
        "signed_by": [b["signer"] for _s, _t, b in signed[body["review_id"]]],
    }


def _access_facts(conn: Any, now: str) -> tuple[list[rv.AccountFacts], list[Any]]:
    users = store.bodies_of_kind(conn, USER)
    created = {b["user"]: at for _s, at, _a, b in users if b.get("change") == "created"}
    logins = store.last_logins(conn)
    activity = store.last_activity(conn)
    facts = []
    for a in ids.accounts(conn):
        tokens = tuple(t.token_id for t in ids.tokens_of(conn, a.user_id) if not t.revoked_seq)
        facts.append(
            rv.AccountFacts(
                a.user_id,
                a.name,
                a.kind,
                a.status,
                a.roles,
                a.created_seq,
                created.get(a.user_id),
                logins.get(a.user_id),
                activity.get(a.user_id),
                tokens,
            )
        )
    records = [(s, t, USER, actor, b) for s, t, actor, b in users]
    for kind in (TOKEN, PASSWORD):
        records += [(s, t, kind, actor, b) for s, t, actor, b in store.bodies_of_kind(conn, kind)]
    records.sort(key=lambda r: r[0])
    return facts, records


def access_review(settings: Settings, db: str | None, *, out: Path) -> ReviewWritten:
    """``user review --out DIR``: every account with its roles, status, last log-in and
    activity, tokens, the grants and revocations since the last signed access review,
    dormant and never-used accounts (Annex 11 (2025 draft) §11; 21 CFR 11.10(d), (g));
    written and recorded (``review.access``) like an audit-trail review."""
    repo, who = open_as(settings, db, Action.REVIEW)
    from serialvault.reviews.report import check_free, write_review

    check_free(out)
    now = _log_now(repo)
    pol = policy_at(repo, now)
    with repo.read() as conn:
        head = read_head(conn)
        facts, records = _access_facts(conn, now)
        since = _last_signed_access(conn)
    changes = rv.access_changes(
        [r for r in records if r[0] <= head.seq], since["seq"] if since else 0
    )
    rows: list[dict[str, Any]] = []
    for f in facts:
        findings = rv.account_findings(f, pol.policy, now)
        rows.append(
            {
                "user": f.user,
                "name": f.name,
                "kind": f.kind,
                "status": f.status,
                "roles": list(f.roles),
                "created_seq": f.created_seq,
                "created_at": f.created_at,
                "last_login": f.last_login,
                "last_activity": f.last_activity,
                "active_tokens": list(f.active_tokens),
                "findings": findings,
            }
        )
    counts = {
        "accounts": len(rows),
        "active": sum(r["status"] == "active" for r in rows),
        "disabled": sum(r["status"] == "disabled" for r in rows),
        "locked": sum(r["status"] == "locked" for r in rows),
        "dormant": sum(any(x.startswith("dormant") for x in r["findings"]) for r in rows),
        "never_logged_in": sum("never logged in" in r["findings"] for r in rows),
        "with_findings": sum(bool(r["findings"]) for r in rows),
        "changes": len(changes),
    }
    review_id = f"UR-{uuid.uuid4().hex[:12]}"
    doc = {
        "format": rv.ACCESS_FORMAT,
        "review_id": review_id,
        "kind": "access",
        "repository_id": repo.meta().get("repository_id"),
        "as_of": now,
        "as_of_seq": head.seq,
        "chain_hash": head.chain_hash,
        "since": since,
        "policy": pol.to_dict(),
        "generated": _prepared(who),
        "counts": counts,
        "excluded_signers": rv.grantors(changes),
        "accounts": rows,
        "changes": changes,
    }
    files = write_review(out, doc)
    body = {
        "review_id": review_id,
        "as_of": now,
        "as_of_seq": head.seq,
        "last_seq": head.seq,
        "chain_hash": head.chain_hash,
        "since_review": since["review_id"] if since else None,
        "counts": counts,
        "excluded_signers": doc["excluded_signers"],
        "policy": {"change": pol.change_id, "version": pol.version},
        "files": files,
    }
    seq = _record(repo, who, REVIEW_ACCESS, body, out, lambda _c: None, "access review")
    summary = {"as_of_seq": head.seq, "counts": counts, "excluded_signers": doc["excluded_signers"]}
    return ReviewWritten("access", review_id, seq, out, files, summary)


# --------------------------------------------------------------------------- sign, verify


@dataclass(frozen=True)
class Recorded:
    kind: str
    seq: int
    body: dict[str, Any]
    folder: Path


def _recorded(repo: Repository, path: Path, kind: str | None) -> Recorded:
    from serialvault.reviews.report import read_review

    folder, doc = read_review(path)
    found_kind = FORMATS[doc["format"]]
    if kind is not None and found_kind != kind:
        raise UsageError(
            f"{path} is an {found_kind} review: use `serialvault {COMMANDS[found_kind]}`"
        )
    with repo.read() as conn:
        for seq, _at, _actor, body in _reviews(conn, found_kind):
            if body["review_id"] == doc["review_id"]:
                return Recorded(found_kind, seq, body, folder)
    raise NotFound(
        f"review {doc['review_id']} ({path}) is not recorded in this repository: nothing was signed"
    )


def _file_problems(rec: Recorded) -> list[str]:
    from serialvault.reviews.report import current_hashes

    now = current_hashes(rec.folder, list(rec.body["files"]))
    out = []
    for name, recorded in rec.body["files"].items():
        if now[name] is None:
            out.append(f"{name} is missing from {rec.folder}")
        elif now[name] != recorded:
            out.append(
                f"{name} was altered after review {rec.body['review_id']} was recorded"
                f" (SHA-256 now {now[name]}, recorded {recorded} at seq {rec.seq})"
            )
    return out


def _chain_problem(repo: Repository, rec: Recorded) -> str | None:
    last = rec.body["last_seq"]
    with repo.read() as conn:
        found = chain_hash_at(conn, int(last or 0))
    if found != rec.body["chain_hash"]:
        return (
            f"the log's chain hash at seq {last} is {found}, the review recorded"
            f" {rec.body['chain_hash']}: the reviewed records were rewritten"
        )
    return None


def _binding(rec: Recorded, files: dict[str, str]) -> str:
    return rv.binding_sha256(
        rec.body["review_id"], files, int(rec.body["last_seq"] or 0), rec.body["chain_hash"]
    )


def sign_review(
    settings: Settings,
    db: str | None,
    path: Path,
    *,
    kind: str,
    password: str | None,
    user_entered: str | None = None,
    meaning: str = "reviewed",
) -> dict[str, Any]:
    """``audit review sign`` / ``user review sign``: a ``qa`` user's electronic signature
    on a recorded review (21 CFR 11.50, 11.70, 11.200): the files must be as recorded and
    the reviewed records as they were; the signer must not be one whose privileged
    actions (or grants) the review lists; password re-entered. The signature and the
    ``review.signoff`` record are one commit."""
    repo, who = open_as(settings, db, Action.SIGN_OFF)
    rec = _recorded(repo, path, kind)
    rid = rec.body["review_id"]
    problems = _file_problems(rec)
    chain = _chain_problem(repo, rec)
    if chain:
        problems.append(chain)
    if problems:
        raise IntegrityFailure(f"review {rid} does not verify: {'; '.join(problems)}; not signing")
    if who.user_id in rec.body.get("excluded_signers", []):
        what = "privileged actions" if kind == "audit" else "grants and revocations"
        raise NotPermitted(
            f"review {rid} lists {who.user_id}'s own {what}: it is signed by another qa"
            " user (separation of duties); nothing was signed"
        )
    with repo.read() as conn:
        earlier = _signoffs(conn).get(rid, [])
    if any(b["signer"] == who.user_id for _s, _t, b in earlier):
        raise ConflictError(f"{who.user_id} has signed review {rid} already: nothing was signed")
    binding = _binding(rec, rec.body["files"])
    act = authenticate_signer(
        repo, who, meaning=meaning, password=password, user_entered=user_entered
    )
    why = f"{meaning} {kind} review {rid}"
    with repo.write() as (conn, log):
        (signature,) = act.write(conn, log, [(f"review:{rid}", binding)], why)
        body = {
            "review_id": rid,
            "review_kind": kind,
            "review_seq": rec.seq,
            "signer": who.user_id,
            "name": who.name,
            "meaning": meaning,
            "signature_seq": signature.seq,
            "binding_sha256": binding,
        }
        done = log.append(REVIEW_SIGNOFF, body, who.actor, why)
    return {
        "review": rid,
        "kind": kind,
        "seq": done.seq,
        "signature_seq": signature.seq,
        "signer": who.user_id,
        "name": who.name,
        "meaning": meaning,
        "signed_at": signature.signed_at,
        "binding_sha256": binding,
    }


@dataclass
class ReviewCheck:
    """What ``verify`` found: the review, its signatures (each checked), and problems."""

    review_id: str
    kind: str
    seq: int
    body: dict[str, Any]
    signatures: list[dict[str, Any]] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "review": self.review_id,
            "kind": self.kind,
            "seq": self.seq,
            "verified": self.ok,
            "signed": any(s["verified"] for s in self.signatures),
            "signatures": self.signatures,
            "findings": self.findings,
            "files": self.body["files"],
            "last_seq": self.body["last_seq"],
            "chain_hash": self.body["chain_hash"],
        }


def verify_review(
    settings: Settings, db: str | None, path: Path, *, kind: str | None = None
) -> ReviewCheck:
    """``audit review verify`` / ``user review verify``: recompute the SHA-256 of the
    review's files against its record and each signature, and the chain hash at the
    last seq it covers against the log; every difference is a finding (21 CFR
    11.10(a): altered records are discernible)."""
    repo, _who = open_as(settings, db, Action.READ)
    rec = _recorded(repo, path, kind)
    check = ReviewCheck(rec.body["review_id"], rec.kind, rec.seq, rec.body)
    check.findings += _file_problems(rec)
    chain = _chain_problem(repo, rec)
    if chain:
        check.findings.append(chain)
    from serialvault.reviews.report import current_hashes

    now = current_hashes(rec.folder, list(rec.body["files"]))
    current = _binding(rec, {k: v or "" for k, v in now.items()})
    recorded = _binding(rec, rec.body["files"])
    for s in signatures_of(repo, f"review:{check.review_id}"):
        d = s.to_dict()
        d["verified"] = s.sha256 == recorded == current
        if not d["verified"]:
            what = (
                "the report was altered after it was signed"
                if s.sha256 == recorded
                else "it signs other content than this review"
            )
            check.findings.append(f"signature of {s.signer} (seq {s.seq}) does not verify: {what}")
        check.signatures.append(d)
    return check


# --------------------------------------------------------------------------- due


def audit_due(settings: Settings, db: str | None) -> dict[str, Any]:
    """``audit review due``: the review periods (the policy's interval, from the one the
    repository began in to the last that is over) no signed audit-trail review covers,
    with the recorded reviews and who signed them (Annex 11 §9: regularly)."""
    repo, _who = open_as(settings, db, Action.READ)
    now = _log_now(repo)
    pol = policy_at(repo, now)
    began = repo.time_of(1) or now
    with repo.read() as conn:
        reviews = _reviews(conn, "audit")
        signed = _signoffs(conn)
    listed = []
    covered = []
    for seq, at, actor, b in reviews:
        signers = [s["signer"] for _q, _t, s in signed.get(b["review_id"], [])]
        listed.append(
            {
                "review": b["review_id"],
                "seq": seq,
                "recorded_at": at,
                "by": actor,
                "from": b["period"]["from"],
                "to": b["period"]["to"],
                "period": b["period"].get("label"),
                "records": b["records"],
                "flagged": b["flagged"],
                "signed_by": signers,
            }
        )
        if signers:
            covered.append((b["period"]["from"], b["period"]["to"]))
    wanted = rv.periods(pol.policy, began, now)
    due = []
    for p in rv.uncovered(wanted, covered):
        unsigned = [
            r["review"]
            for r in listed
            if not r["signed_by"] and r["from"] <= p.start and p.end <= r["to"]
        ]
        due.append({**p.to_dict(), "unsigned_reviews": unsigned})
    return {
        "interval": pol.policy.audit_interval,
        "policy": pol.source,
        "periods": len(wanted),
        "due": due,
        "reviews": listed,
    }


def access_due(settings: Settings, db: str | None) -> dict[str, Any]:
    """``user review due``: when the last signed access review was and whether one is
    due (the policy's ``access_interval_days``; Annex 11 (2025 draft) §11)."""
    repo, _who = open_as(settings, db, Action.READ)
    now = _log_now(repo)
    pol = policy_at(repo, now)
    with repo.read() as conn:
        last = _last_signed_access(conn)
        signed = _signoffs(conn)
        unsigned = [b["review_id"] for _s, _t, _a, b in _reviews(conn, "access")]
    unsigned = [r for r in unsigned if r not in signed]
    days = pol.policy.access_interval_days
    if last is None:
        next_due, is_due = None, True
    else:
        at = datetime.fromisoformat(last["signed_at"].replace("Z", "+00:00"))
        next_due = utc_iso(at + timedelta(days=days))
        is_due = next_due <= now
    return {
        "interval_days": days,
        "policy": pol.source,
        "last_signed": last,
        "next_due": next_due,
        "due": is_due,
        "unsigned_reviews": unsigned,
    }
