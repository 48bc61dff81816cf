"""Audit-trail and access reviews: what is flagged and why, periods, working hours (pure).

21 CFR 11.10(e) asks for audit trails; EU GMP Annex 11 §9 that they be *regularly
reviewed*, and the 2025 draft of Annex 11 §11 that access rights be reviewed
periodically. A review here reads the log — the audit trail — for one period and keeps
what a QA reviewer must look at first (ALCOA+ "attributable", "complete"): failed and
locked log-ins, rejected captures, master-data and configuration changes, restores,
drills with deviations, closed exceptions, CAPA, serial-number pools, privileged
actions, a person's activity outside the site's working hours, and records by an
account that was disabled at the time. Every entry keeps its log ``seq``.

The rules are data and functions over plain values: :class:`AuditTally` is fed the log
rows of the period in seq order (the store streams them) and checks the hash chain as
it goes; :func:`access_review` turns accounts and their records into the access
review. Periods and working hours come from the :class:`ReviewPolicy`, a controlled
object (``review-policy``) whose documented defaults hold until a version is approved.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from serialvault.canonical import canonical_json
from serialvault.domain.chain import GENESIS, ChainBreak
from serialvault.domain.records import (
    AUTH_FAILURE,
    CAPA,
    CATALOGUE,
    CHANGE_DECISION,
    CHANGE_DRAFT,
    DRILL_PLAN,
    DRILL_RUN,
    EXCEPTION,
    EXCEPTION_ACTION,
    IDENTITY_POLICY,
    PASSWORD,
    SERIAL_ALLOCATION,
    SERIAL_POOL,
    SERIAL_RETURN,
    TOKEN,
    USER,
)

AUDIT_FORMAT = "serialvault.audit-review/1"
ACCESS_FORMAT = "serialvault.access-review/1"

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
INTERVALS: tuple[str, ...] = ("weekly", "monthly", "quarterly")

#: Why an entry is flagged, in the order the report shows the reasons.
FLAGS: dict[str, str] = {
    "login-failure": "a failed log-in or signature (21 CFR 11.300(d))",
    "account-locked": "an account locked after repeated failures",
    "rejected-capture": "an EPCIS document rejected at capture",
    "exception-opened": "another exception raised (count mismatch, reconciliation, interface)",
    "drill-deviation": "a drill that did not pass, or a deviation it raised",
    "restore": "the repository restored from a backup",
    "privileged": "an action that needs the admin role (accounts, tokens, rebuild, timeline)",
    "access-change": "an account or token created, changed, disabled or revoked",
    "master-data": "a master-data version recorded",
    "change-control": "a change to a controlled object drafted, approved or rejected",
    "configuration": "configuration recorded (password policy, drill plan)",
    "serials": "a serial-number pool recorded, serial numbers allocated or returned",
    "exception-closed": "an exception closed",
    "capa": "a CAPA recorded or changed",
    "disabled-account": "a record by an account that was disabled at the time",
    "outside-hours": "a person's action outside the site's working hours",
}

#: Kinds only the admin role writes (the catalogue says who writes what): every record
#: of these is a privileged action, whoever's account it touches.
PRIVILEGED_KINDS: frozenset[str] = frozenset(
    k for k, r in CATALOGUE.items() if r.writers == frozenset({"admin"})
)
#: Kinds whose body the classification reads (the rest is classified by kind alone).
_BODY_KINDS = frozenset(
    {
        AUTH_FAILURE,
        EXCEPTION,
        DRILL_RUN,
        USER,
        TOKEN,
        PASSWORD,
        CHANGE_DRAFT,
        CHANGE_DECISION,
        EXCEPTION_ACTION,
    }
)

SYSTEM = "system"


# --------------------------------------------------------------------------- policy


def _minutes(text: str, name: str) -> int:
    hh, sep, mm = text.partition(":")
    if not (sep and hh.isdigit() and mm.isdigit() and len(mm) == 2):
        raise ValueError(f"{name} {text!r}: give HH:MM (24-hour clock)")
    value = int(hh) * 60 + int(mm)
    if int(mm) > 59 or value > 24 * 60:
        raise ValueError(f"{name} {text!r} is not a time of day")
    return value


@dataclass(frozen=True, slots=True)
class ReviewPolicy:
    """The site's review settings, under change control (object ``review-policy``).

    ``working_days`` and ``work_start``–``work_end`` (local time in ``timezone``, an
    IANA name) are the site's working hours: a person's action outside them is flagged.
    ``audit_interval`` cuts time into the periods every one of which needs a signed
    audit-trail review (Annex 11 §9); ``access_interval_days`` is how often accounts are
    reviewed (draft Annex 11 §11); an account with no log-in for ``dormant_days`` is
    dormant.

    >>> ReviewPolicy().to_dict()["working_days"]
    ['mon', 'tue', 'wed', 'thu', 'fri']
    >>> ReviewPolicy.from_dict({"work_start": "22:00", "work_end": "06:00"})
    Traceback (most recent call last):
    ...
    ValueError: work_start 22:00 is not before work_end 06:00 (use 00:00-24:00 for all day)
    """

    working_days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    work_start: str = "06:00"
    work_end: str = "20:00"
    timezone: str = "UTC"
    audit_interval: str = "monthly"
    access_interval_days: int = 90
    dormant_days: int = 90

    def __post_init__(self) -> None:
        bad = [d for d in self.working_days if d not in WEEKDAYS]
        if bad:
            raise ValueError(f"working day {bad[0]!r}: use {', '.join(WEEKDAYS)}")
        start = _minutes(self.work_start, "work_start")
        end = _minutes(self.work_end, "work_end")
        if start >= end:
            raise ValueError(
                f"work_start {self.work_start} is not before work_end {self.work_end}"
                " (use 00:00-24:00 for all day)"
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"timezone {self.timezone!r} is not an IANA time zone (e.g. Europe/Berlin)"
            ) from None
        if self.audit_interval not in INTERVALS:
            raise ValueError(f"audit_interval {self.audit_interval!r}: {', '.join(INTERVALS)}")
        for name in ("access_interval_days", "dormant_days"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 1 <= value <= 3660:
                raise ValueError(f"{name} = {value!r}: a whole number of days from 1 to 3660")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReviewPolicy:
        """A policy from its stored form (unknown settings are refused by name)."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown review policy setting {unknown[0]!r}: {', '.join(known)}")
        values = dict(data)
        if "working_days" in values:
            days = values["working_days"]
            if isinstance(days, str):
                days = [d.strip() for d in days.split(",") if d.strip()]
            values["working_days"] = tuple(str(d).lower() for d in days)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {
            "working_days": list(self.working_days),
            "work_start": self.work_start,
            "work_end": self.work_end,
            "timezone": self.timezone,
            "audit_interval": self.audit_interval,
            "access_interval_days": self.access_interval_days,
            "dormant_days": self.dormant_days,
        }

    def hours_text(self) -> str:
        """The working hours in words, for a report.

        >>> ReviewPolicy().hours_text()
        'mon, tue, wed, thu, fri 06:00-20:00 UTC'
        """
        return f"{', '.join(self.working_days)} {self.work_start}-{self.work_end} {self.timezone}"


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class WorkingHours:
    """Whether a UTC record time falls outside the site's working hours; the answer is
    kept per minute, so a million records cost a million dictionary look-ups."""

    def __init__(self, policy: ReviewPolicy) -> None:
        self.tz = ZoneInfo(policy.timezone)
        self.days = {WEEKDAYS.index(d) for d in policy.working_days}
        self.start = _minutes(policy.work_start, "work_start")
        self.end = _minutes(policy.work_end, "work_end")
        self._seen: dict[str, bool] = {}

    def outside(self, recorded_at: str) -> bool:
        """
        >>> WorkingHours(ReviewPolicy()).outside("2026-01-05T05:59:00.000000Z")  # Monday
        True
        >>> WorkingHours(ReviewPolicy()).outside("2026-01-05T06:00:00.000000Z")
        False
        >>> WorkingHours(ReviewPolicy()).outside("2026-01-10T12:00:00.000000Z")  # Saturday
        True
        """
        key = recorded_at[:16]
        hit = self._seen.get(key)
        if hit is None:
            local = _utc(key + ":00Z").astimezone(self.tz)
            minute = local.hour * 60 + local.minute
            hit = local.weekday() not in self.days or not self.start <= minute < self.end
            if len(self._seen) > 200_000:
                self._seen.clear()
            self._seen[key] = hit
        return hit

    def local(self, recorded_at: str) -> str:
        """The local time of a record, as the report shows it (``Mon 2026-01-05 07:12``)."""
        local = _utc(recorded_at).astimezone(self.tz)
        return f"{WEEKDAYS[local.weekday()].title()} {local.strftime('%Y-%m-%d %H:%M')}"


# --------------------------------------------------------------------------- periods


@dataclass(frozen=True, slots=True)
class Period:
    """One review period, ``[start, end)`` in UTC, named in the site's time zone."""

    label: str
    start: str
    end: str

    def to_dict(self) -> dict[str, str]:
        return {"period": self.label, "from": self.start, "to": self.end}


def _period_start(local: datetime, interval: str) -> datetime:
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "weekly":
        return day - timedelta(days=day.weekday())
    if interval == "monthly":
        return day.replace(day=1)
    return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)


def _next_start(start: datetime, interval: str) -> datetime:
    if interval == "weekly":
        nxt = start.replace(tzinfo=None) + timedelta(days=7)
        return nxt.replace(tzinfo=start.tzinfo)
    months = 1 if interval == "monthly" else 3
    year, month = divmod(start.month - 1 + months, 12)
    return start.replace(year=start.year + year, month=month + 1, day=1)


def _label(start: datetime, interval: str) -> str:
    if interval == "weekly":
        iso = start.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if interval == "monthly":
        return start.strftime("%Y-%m")
    return f"{start.year}-Q{(start.month - 1) // 3 + 1}"


def periods(policy: ReviewPolicy, since: str, until: str) -> list[Period]:
    """The complete periods from the one holding ``since`` to the last that ended by
    ``until`` (UTC text), each from local midnight in the site's time zone.

    >>> [p.label for p in periods(ReviewPolicy(), "2026-01-20T10:00:00Z", "2026-04-02T00:00:00Z")]
    ['2026-01', '2026-02', '2026-03']
    >>> periods(ReviewPolicy(audit_interval="weekly"), "2026-01-07T00:00:00Z",
    ...         "2026-01-13T00:00:00Z")[0].start
    '2026-01-05T00:00:00.000000Z'
    """
    tz = ZoneInfo(policy.timezone)
    interval = policy.audit_interval
    start = _period_start(_utc(since).astimezone(tz), interval)
    end = _utc(until)
    out: list[Period] = []
    while True:
        nxt = _next_start(start, interval)
        if nxt.astimezone(UTC) > end:
            return out
        out.append(Period(_label(start, interval), _iso(start), _iso(nxt)))
        start = nxt


def uncovered(wanted: list[Period], covered: Iterable[tuple[str, str]]) -> list[Period]:
    """The periods not wholly inside the union of the ``covered`` ``[from, to)`` ranges.

    >>> p = [Period("a", "1", "3"), Period("b", "3", "5"), Period("c", "5", "7")]
    >>> [x.label for x in uncovered(p, [("0", "2"), ("2", "5")])]
    ['c']
    """
    merged: list[list[str]] = []
    for a, b in sorted(covered):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [p for p in wanted if not any(a <= p.start and p.end <= b for a, b in merged)]


# --------------------------------------------------------------------------- audit tally


@dataclass(slots=True)
class AccountState:
    """An account as a version of ``user.account`` left it."""

    kind: str
    status: str
    roles: tuple[str, ...]


def account_states(bodies: Iterable[Mapping[str, Any]]) -> dict[str, AccountState]:
    """The accounts as their ``user.account`` bodies (in log order) leave them."""
    out: dict[str, AccountState] = {}
    for b in bodies:
        out[str(b["user"])] = AccountState(
            str(b.get("kind", "person")), str(b["status"]), tuple(b.get("roles") or ())
        )
    return out


#: One flagged entry: seq, recorded_at, kind, actor, reason, flags, detail.
Flagged = tuple[int, str, str, str, str, tuple[str, ...], str]


def _detail(kind: str, body: Mapping[str, Any] | None) -> str:
    """What a flagged record is about, in a few words, from its body."""
    if body is None:
        return ""
    b = body
    if kind == AUTH_FAILURE:
        who = b.get("user") or "an unknown user id"
        return f"{who}: {b.get('why', '')}" + (" (account locked)" if b.get("locked") else "")
    if kind == EXCEPTION:
        return f"{b.get('type', '')} ({b.get('source', '')}): {b.get('reason', '')}"[:300]
    if kind == DRILL_RUN:
        return f"drill {b.get('drill_id')} of plan {b.get('plan')}: {b.get('verdict')}"
    if kind == USER:
        roles = ", ".join(b.get("roles") or ())
        return f"{b.get('user')} {b.get('change')}: roles {roles}, {b.get('status')}"
    if kind == TOKEN:
        return f"token {b.get('token')} of {b.get('user')} {b.get('action')}"
    if kind == PASSWORD:
        return f"password of {b.get('user')} set"
    if kind == CHANGE_DRAFT:
        obj = b.get("object") or {}
        return f"{obj.get('type')} {obj.get('key')} version {b.get('version')} drafted"
    if kind == CHANGE_DECISION:
        return f"{b.get('change')} {b.get('decision')}"
    if kind == EXCEPTION_ACTION:
        return f"exception {b.get('exception')}: {b.get('action')}"
    return ""


def flags_of(
    kind: str, actor: str, body: Mapping[str, Any] | None, author: AccountState | None
) -> list[str]:
    """Why a record is flagged (``[]``: it is not), from its kind, body and author —
    working hours and the author's status at the time are the tally's.

    >>> flags_of("auth.failure", "system", {"user": "x", "locked": True}, None)
    ['login-failure', 'account-locked']
    >>> flags_of("user.token", "quinn", {"user": "quinn", "action": "created"}, None)
    ['access-change']
    >>> flags_of("user.account", "quinn", {"user": "quinn", "change": "reviewer key"}, None)
    ['access-change']
    >>> flags_of("user.account", "alice", {"user": "quinn", "change": "roles"}, None)
    ['access-change', 'privileged']
    >>> flags_of("epcis.event", "line1", None, None)
    []
    """
    out: list[str] = []
    b = body or {}
    if kind == AUTH_FAILURE:
        out.append("login-failure")
        if b.get("locked"):
            out.append("account-locked")
    elif kind == EXCEPTION:
        if b.get("source") == "capture":
            out.append("rejected-capture")
        elif b.get("type") == "drill-deviation":
            out.append("drill-deviation")
        else:
            out.append("exception-opened")
    elif kind == DRILL_RUN and b.get("verdict") != "pass":
        out.append("drill-deviation")
    elif kind.startswith("masterdata."):
        out.append("master-data")
    elif kind in (CHANGE_DRAFT, CHANGE_DECISION):
        out.append("change-control")
    elif kind in (IDENTITY_POLICY, DRILL_PLAN) or kind.startswith("config."):
        out.append("configuration")
    elif kind in (SERIAL_POOL, SERIAL_ALLOCATION, SERIAL_RETURN):
        out.append("serials")
    elif kind == EXCEPTION_ACTION and b.get("action") == "close":
        out.append("exception-closed")
    elif kind == CAPA:
        out.append("capa")
    if kind in (USER, TOKEN):
        out.append("access-change")
    # a person's own token, password or reviewer key is theirs (self-service); issuing
    # or setting another's is not
    own = b.get("user") == actor and (
        kind in (TOKEN, PASSWORD) or (kind == USER and b.get("change") == "reviewer key")
    )
    if (kind in PRIVILEGED_KINDS and not own) or (kind == PASSWORD and not own):
        out.append("privileged")
    if author is not None and author.status == "disabled":
        out.append("disabled-account")
    return out


@dataclass
class AuditTally:
    """The counts and flagged entries of one period, fed the log rows in seq order.

    ``accounts`` are the account states before the period's first record; ``prev_seq``
    and ``prev_chain`` the record before it, from which the chain is checked as the rows
    pass (each body against its hash, each link against its predecessor): a review is
    only made of records that are what was written. Counts are per user, per kind, per
    role the author held at the time (a record counts once under each role) and per
    flag; flagged entries are kept whole, everything else only counted.
    """

    policy: ReviewPolicy
    accounts: dict[str, AccountState]
    prev_seq: int = 0
    prev_chain: str = GENESIS
    by_user: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    by_role: Counter[str] = field(default_factory=Counter)
    by_user_kind: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_flag: Counter[str] = field(default_factory=Counter)
    flagged: list[Flagged] = field(default_factory=list)
    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    last_chain: str | None = None
    broken: ChainBreak | None = None
    chain_before: str = ""
    first_by_user: dict[str, int] = field(default_factory=dict)
    last_by_user: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.hours = WorkingHours(self.policy)
        self.chain_before = self.prev_chain

    def feed(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Rows ``(seq, recorded_at, kind, actor, reason, body, body_hash,
        chain_hash)`` in seq order; stops at the first broken link (``broken``). Long
        by nature: the one loop over every record of the period, kept flat for speed."""
        sha256 = hashlib.sha256
        prev_seq, prev_chain = self.prev_seq, self.prev_chain
        prev_raw = bytes.fromhex(prev_chain)
        accounts, hours = self.accounts, self.hours
        by_user, by_kind, by_role = self.by_user, self.by_kind, self.by_role
        by_uk = self.by_user_kind
        first_by, last_by = self.first_by_user, self.last_by_user
        lps: dict[str, bytes] = {}  # length-prefixed kinds, actors, reasons: few distinct

        def lp(text: str) -> bytes:
            found = lps.get(text)
            if found is None:
                b = text.encode("utf-8")
                found = len(b).to_bytes(4, "big") + b
                if len(lps) < 100_000:
                    lps[text] = found
            return found

        for seq, at, kind, actor, reason, body, bhash, chash in rows:
            raw = body.encode("utf-8") if isinstance(body, str) else body
            if seq != prev_seq + 1:
                self.broken = ChainBreak(
                    seq, "sequence gap or reorder", str(prev_seq + 1), str(seq)
                )
                break
            digest = sha256(raw).digest()
            computed = digest.hex()
            if computed != bhash:
                self.broken = ChainBreak(seq, "body does not match its body_hash", computed, bhash)
                break
            # domain.chain.chain_hash, inlined: the one hash of every record reviewed
            h = sha256(prev_raw)
            h.update(seq.to_bytes(8, "big"))
            stamp = at.encode("utf-8")
            h.update(len(stamp).to_bytes(4, "big") + stamp)
            h.update(lp(kind))
            h.update(lp(actor))
            h.update(lp(reason))
            h.update(digest)
            link = h.digest()
            expected = link.hex()
            if expected != chash:
                self.broken = ChainBreak(seq, "chain_hash does not follow", expected, chash)
                break
            prev_raw = link
            prev_seq, prev_chain = seq, chash
            if self.first_seq is None:
                self.first_seq = seq
            self.records += 1
            by_user[actor] += 1
            if actor not in first_by:
                first_by[actor] = seq
            last_by[actor] = seq
            by_kind[kind] += 1
            by_uk[(actor, kind)] += 1
            author = accounts.get(actor)
            if author is None:
                by_role["(system)" if actor == SYSTEM else "(no account)"] += 1
            else:
                for r in author.roles:
                    by_role[r] += 1
            parsed = orjson.loads(raw) if kind in _BODY_KINDS else None
            flags = flags_of(kind, actor, parsed, author)
            if author is not None and author.kind == "person" and hours.outside(at):
                flags.append("outside-hours")
            if flags:
                self._flag(seq, at, kind, actor, reason, flags, _detail(kind, parsed))
            if kind == USER and parsed is not None:
                accounts[str(parsed["user"])] = AccountState(
                    str(parsed.get("kind", "person")),
                    str(parsed["status"]),
                    tuple(parsed.get("roles") or ()),
                )
        self.prev_seq, self.prev_chain = prev_seq, prev_chain
        if self.records:
            self.last_seq, self.last_chain = prev_seq, prev_chain

    def _flag(
        self, seq: int, at: str, kind: str, actor: str, reason: str, flags: list[str], detail: str
    ) -> None:
        ordered = tuple(f for f in FLAGS if f in flags)
        for f in ordered:
            self.by_flag[f] += 1
        self.flagged.append((seq, at, kind, actor, reason, ordered, detail))

    def add_restore(self, at: str, actor: str, backup_id: str, seq: int) -> None:
        """A restore the repository's metadata records (the restored log cannot: it is
        the backup's), at the seq the log continued from."""
        entry: Flagged = (
            seq,
            at,
            "restore",
            actor,
            f"restored from backup {backup_id}",
            ("restore", "privileged"),
            f"restored from backup {backup_id} (repository metadata; the log continues"
            f" after seq {seq})",
        )
        self.by_flag["restore"] += 1
        self.by_flag["privileged"] += 1
        self.flagged.append(entry)
        self.flagged.sort(key=lambda e: (e[0], e[1]))

    def privileged_actors(self) -> list[str]:
        """Whose privileged actions are flagged: none of them may sign the review."""
        return sorted({e[3] for e in self.flagged if "privileged" in e[5]})

    def entry(self, e: Flagged) -> dict[str, Any]:
        seq, at, kind, actor, reason, flags, detail = e
        return {
            "seq": seq,
            "recorded_at": at,
            "local_time": self.hours.local(at),
            "kind": kind,
            "actor": actor,
            "reason": reason,
            "flags": list(flags),
            "detail": detail,
        }


# --------------------------------------------------------------------------- binding


def binding_sha256(review_id: str, files: Mapping[str, str], last_seq: int, chain: str) -> str:
    """SHA-256 of what a review's signature signs: the review, the SHA-256 of each of its
    files, and the chain hash at the last seq it covers (RFC 8785 canonical JSON), so
    that a signature binds the report as written to the log as it was (21 CFR 11.70).

    >>> binding_sha256("r", {"a": "00"}, 1, "ff")[:12]
    '984cf039559c'
    """
    doc = {"review": review_id, "files": dict(files), "last_seq": last_seq, "chain_hash": chain}
    return hashlib.sha256(canonical_json(doc)).hexdigest()


# --------------------------------------------------------------------------- access review


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """What the access review knows about one account."""

    user: str
    name: str
    kind: str
    status: str
    roles: tuple[str, ...]
    created_seq: int
    created_at: str | None
    last_login: str | None
    last_activity: str | None
    active_tokens: tuple[str, ...]


def _age_days(since: str, now: str) -> float:
    return (_utc(now) - _utc(since)).total_seconds() / 86400


def account_findings(a: AccountFacts, policy: ReviewPolicy, now: str) -> list[str]:
    """What a reviewer must decide about an account (``[]``: nothing).

    >>> a = AccountFacts("q", "Q", "person", "active", ("admin", "qa"), 2,
    ...                  "2026-01-01T00:00:00Z", None, None, ())
    >>> account_findings(a, ReviewPolicy(), "2026-06-01T00:00:00Z")
    ['never logged in', 'dormant: no log-in for 151 days (policy: 90)', 'holds admin and qa']
    """
    out: list[str] = []
    if a.status == "locked":
        out.append("locked")
    if a.status == "disabled":
        if a.active_tokens:
            out.append(f"disabled, with {len(a.active_tokens)} token(s) not revoked")
        return out
    if a.kind == "person":
        if a.last_login is None:
            out.append("never logged in")
        last = a.last_login or a.created_at
    else:
        last = a.last_activity or a.created_at
    if last is not None:
        idle = _age_days(last, now)
        if idle >= policy.dormant_days:
            what = "log-in" if a.kind == "person" else "activity"
            out.append(f"dormant: no {what} for {int(idle)} days (policy: {policy.dormant_days})")
    if "admin" in a.roles and "qa" in a.roles:
        out.append("holds admin and qa")
    return out


def access_changes(
    records: Iterable[tuple[int, str, str, str, Mapping[str, Any]]], since_seq: int
) -> list[dict[str, Any]]:
    """Grants and revocations after ``since_seq``: accounts created, roles added and
    removed, accounts disabled and enabled, reviewer keys, tokens issued and revoked,
    passwords set by someone else. ``records`` are every ``user.account``,
    ``user.token`` and ``user.password`` record ``(seq, recorded_at, kind, actor,
    body)`` in log order (earlier versions give the roles a change started from)."""
    roles: dict[str, set[str]] = {}
    out: list[dict[str, Any]] = []
    for seq, at, kind, actor, b in records:
        user = str(b.get("user"))
        what = ""
        if kind == USER:
            new = set(b.get("roles") or ())
            old = roles.get(user)
            roles[user] = new
            change = str(b.get("change"))
            if change == "created":
                kind_ = b.get("kind", "person")
                what = f"account created ({kind_}) with roles {', '.join(sorted(new))}"
            elif change == "roles" and old is not None:
                parts = [f"+{r}" for r in sorted(new - old)] + [f"-{r}" for r in sorted(old - new)]
                what = f"roles {' '.join(parts)}"
            else:
                what = f"account {change}"
        elif kind == TOKEN:
            what = f"token {b.get('token')} {b.get('action')}" + (
                f" ({b['label']})" if b.get("label") else ""
            )
        elif kind == PASSWORD:
            if user == actor:
                continue  # a person's own password change is not a grant
            what = "password set by someone else (temporary)"
        # one's own token or reviewer key is self-service; anything else is a grant
        own = user == actor and (kind == TOKEN or what == "account reviewer key")
        if seq > since_seq and what:
            out.append(
                {
                    "seq": seq,
                    "recorded_at": at,
                    "by": actor,
                    "user": user,
                    "change": what,
                    "self_service": own,
                }
            )
    return out


def grantors(changes: Iterable[Mapping[str, Any]]) -> list[str]:
    """Who made the grants and revocations listed (self-service aside): none of them may
    sign the access review that lists them."""
    return sorted({str(c["by"]) for c in changes if not c.get("self_service")})
