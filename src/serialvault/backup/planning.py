"""Planning: what the repository holds, how fast it grows, and a schedule that meets RPO/RTO.

``backup inventory`` answers the first question an Annex 11 §7 backup procedure must
answer — *which* data is critical and how much of it there is (PIC/S PI 041 §9.4: backup
of all data, including metadata and audit trails). The data kinds:

* **events** — EPCIS events (log records of kind ``epcis.event``; the ``events``,
  ``event_epcs`` and ``units`` projections derived from them);
* **master data** — products and locations (``masterdata.*`` records; ``products``,
  ``locations``, ``lots``);
* **exceptions** — rejected input and deviations (``exception`` records, ``exceptions``);
* **audit** — the hash-chained log itself, which is the audit trail (21 CFR 11.10(e));
* **configuration** — repository identity and format (``meta``) and the backup policy.

``backup plan --rpo 15m --rto 4h`` turns the measured write rate and the last measured
restore (recorded on a copy by every restore, see :func:`restore.record_measurement`) into
a recommended incremental interval and full cadence, the storage they cost, and warnings
where the configured schedule or the measured restore speed cannot meet the objectives.

The arithmetic (:func:`recommend`) is a pure function of the figures, so it can be tested
on its own; :func:`gather` does the reading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import orjson

from serialvault.backup.copies import Copy, newest, read_manifests
from serialvault.backup.policy import Policy, format_duration
from serialvault.backup.restore import MEASUREMENT_FORMAT
from serialvault.domain.records import (
    AUTH_FAILURE,
    CAPA,
    CHANGE_DECISION,
    CHANGE_DRAFT,
    DRILL_PLAN,
    DRILL_RUN,
    DRILL_SIGNOFF,
    EVENT,
    EXCEPTION,
    EXCEPTION_ACTION,
    IDENTITY_POLICY,
    INIT,
    INSPECTION_PACK,
    LOCATION,
    LOGIN,
    LOGOUT,
    PARTNER,
    PASSWORD,
    PRODUCT,
    REBUILD,
    REVIEW_ACCESS,
    REVIEW_AUDIT,
    REVIEW_SIGNOFF,
    SERIAL_ALLOCATION,
    SERIAL_POOL,
    SERIAL_RETURN,
    SIGNATURE,
    TIMELINE,
    TOKEN,
    USER,
)
from serialvault.errors import BackupError, SerialvaultError
from serialvault.store.repository import Repository
from serialvault.store.stats import LogStats, database_bytes, log_stats, table_bytes, table_rows
from serialvault.timefmt import now_utc, parse_timestamp

INVENTORY_FORMAT = "serialvault.inventory/1"
PLAN_FORMAT = "serialvault.backup-plan/1"

#: Data kind → (log record kinds, projection tables).
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "events": ((EVENT,), ("events", "event_epcs", "units")),
    "master data": ((PRODUCT, LOCATION, PARTNER), ("products", "locations", "partners", "lots")),
    "exceptions": (
        (EXCEPTION, EXCEPTION_ACTION, CAPA),
        ("exceptions", "exception_actions", "capas", "capa_links"),
    ),
    "serials": (
        (SERIAL_POOL, SERIAL_ALLOCATION, SERIAL_RETURN),
        ("serial_pools", "serial_allocations", "serial_numbers"),
    ),
    "governance": (
        (
            USER,
            PASSWORD,
            TOKEN,
            LOGIN,
            LOGOUT,
            AUTH_FAILURE,
            SIGNATURE,
            IDENTITY_POLICY,
            CHANGE_DRAFT,
            CHANGE_DECISION,
            DRILL_PLAN,
            DRILL_RUN,
            DRILL_SIGNOFF,
            REVIEW_AUDIT,
            REVIEW_ACCESS,
            REVIEW_SIGNOFF,
            INSPECTION_PACK,
        ),
        ("users", "credentials", "tokens", "signatures", "changes"),
    ),
    "audit": ((), ("log",)),
    "configuration": ((INIT, REBUILD, TIMELINE), ("meta",)),
}

#: Share of the RTO a restore may take: the rest is detection, decision and sign-off.
RTO_SHARE = 0.5
#: Share of the RPO an incremental's interval may take (the rest absorbs its duration).
RPO_SHARE = 0.8
#: Below this interval, scheduled incrementals give way to continuous mode.
CONTINUOUS_BELOW_S = 60.0


# --------------------------------------------------------------------------- inventory


def _window_span_days(stats: LogStats, now: str) -> float:
    """Days the growth figures are averaged over: the window, or the log's age if less."""
    if stats.first_at is None:
        return stats.window_days
    age = (parse_timestamp(now) - parse_timestamp(stats.first_at)).total_seconds() / 86400
    return max(min(stats.window_days, age), 1 / 1440)  # at least a minute


def inventory(
    repo: Repository, policy: Policy | None = None, window_days: float = 7.0
) -> dict[str, Any]:
    """The critical data kinds with their counts, bytes and growth per day."""
    if window_days <= 0:
        raise BackupError("--window must be more than 0 days")
    now = now_utc()
    with repo.read() as conn:
        stats = log_stats(conn, window_days, now)
        rows = table_rows(conn)
        tbytes = table_bytes(conn)
        db_bytes = database_bytes(conn)
    span = _window_span_days(stats, now)
    kinds: list[dict[str, Any]] = []
    all_kinds = set(stats.by_kind)
    for name, (log_kinds, tables) in KINDS.items():
        picked = all_kinds if name == "audit" else set(log_kinds)
        rec = sum(stats.by_kind.get(k, {}).get("records", 0) for k in picked)
        lbytes = sum(stats.by_kind.get(k, {}).get("bytes", 0) for k in picked)
        wrec = sum(stats.window_by_kind.get(k, {}).get("records", 0) for k in picked)
        wbytes = sum(stats.window_by_kind.get(k, {}).get("bytes", 0) for k in picked)
        entry: dict[str, Any] = {
            "kind": name,
            "log_kinds": sorted(picked),
            "log_records": rec,
            "log_bytes": lbytes,
            "tables": {t: rows.get(t, 0) for t in tables},
            "stored_bytes": sum(tbytes.get(t, 0) for t in tables) if tbytes else None,
            "growth_per_day": {
                "records": round(wrec / span, 1),
                "bytes": round(wbytes / span),
            },
        }
        if name == "configuration" and policy is not None and policy.path is not None:
            try:
                entry["policy_file"] = {
                    "path": str(policy.path),
                    "bytes": policy.path.stat().st_size,
                }
            except OSError:
                entry["policy_file"] = {"path": str(policy.path), "bytes": None}
        kinds.append(entry)
    units = rows.get("units", 0)
    notes = []
    if span < 1:
        notes.append(
            f"the log covers only {span * 24:.2g} h: growth per day is extrapolated from it"
            " (plan again once a representative day has been recorded)"
        )
    return {
        "format": INVENTORY_FORMAT,
        "at": now,
        "repository": repo.display_url,
        "engine": repo.dialect,
        "head_seq": stats.head_seq,
        "first_record_at": stats.first_at,
        "last_record_at": stats.last_at,
        "database_bytes": db_bytes,
        "units": units,
        "window_days": round(span, 4),
        "growth_per_day": {
            "records": round(sum(v["records"] for v in stats.window_by_kind.values()) / span, 1),
            "bytes": round(sum(v["bytes"] for v in stats.window_by_kind.values()) / span),
        },
        "peak_records_per_minute": stats.peak_records_per_minute,
        "kinds": kinds,
        "notes": notes,
    }


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True, slots=True)
class RestoreRates:
    """Rates of the last measured restore (bytes/s and records/s per phase)."""

    at: str
    backup: str
    target_engine: str
    fetch_bytes_s: float
    load_bytes_s: float | None
    replay_records_s: float | None
    check_records_s: float | None
    total_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "backup": self.backup,
            "target_engine": self.target_engine,
            "fetch_bytes_per_s": round(self.fetch_bytes_s),
            "load_bytes_per_s": None if self.load_bytes_s is None else round(self.load_bytes_s),
            "replay_records_per_s": None
            if self.replay_records_s is None
            else round(self.replay_records_s),
            "check_records_per_s": None
            if self.check_records_s is None
            else round(self.check_records_s),
            "total_s": self.total_s,
        }


def rates_from(doc: dict[str, Any]) -> RestoreRates | None:
    """Per-phase rates from a restore measurement (``None`` if it is not one)."""
    if doc.get("format") != MEASUREMENT_FORMAT:
        return None
    ph = doc.get("phases_s") or {}

    def rate(amount: Any, seconds: Any) -> float | None:
        try:
            a, s = float(amount), float(seconds)
        except (TypeError, ValueError):
            return None
        return a / s if a > 0 and s > 0 else None

    fetch = rate(doc.get("fetched_bytes"), (ph.get("fetch") or 0) + (ph.get("verify") or 0))
    return RestoreRates(
        at=str(doc.get("at")),
        backup=str(doc.get("backup")),
        target_engine=str(doc.get("target_engine")),
        fetch_bytes_s=fetch or 0.0,
        load_bytes_s=rate(doc.get("snapshot_plain_bytes"), ph.get("load")),
        replay_records_s=rate(doc.get("records_replayed"), ph.get("replay")),
        check_records_s=rate(doc.get("head_seq"), ph.get("check")),
        total_s=float(doc.get("total_s") or 0),
    )


@dataclass
class Figures:
    """What the recommendation is computed from (all measured, none assumed)."""

    rpo_s: float
    rto_s: float
    records_per_day: float
    log_bytes_per_day: float
    peak_records_per_minute: int
    head_seq: int
    database_bytes: int
    full_stored_bytes: int | None  # newest full on a copy
    full_plain_bytes: int | None
    segment_ratio: float | None  # stored / plain bytes of log segments
    incr_seconds: float | None  # duration of the newest incremental on a copy
    copies: int
    policy_incremental_s: float
    policy_full_every_s: float
    keep_fulls: int
    keep_days: float
    follow_interval_s: float
    follow_running: bool
    restore: RestoreRates | None
    notes: list[str] = field(default_factory=list)


def _nice(seconds: float) -> float:
    """The largest 'round' duration not above ``seconds`` (1s … 7d)."""
    steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600]
    steps += [43200, 86400, 172800, 259200, 345600, 432000, 518400, 604800]
    best = steps[0]
    for s in steps:
        if s <= seconds:
            best = s
    return float(best)


def restore_estimate(f: Figures, records_since_full: float) -> dict[str, Any] | None:
    """Predicted restore time at a point ``records_since_full`` after a full."""
    r = f.restore
    if r is None:
        return None
    snapshot = f.full_plain_bytes or f.database_bytes
    stored = (f.full_stored_bytes or snapshot) + records_since_full * (
        (f.log_bytes_per_day / f.records_per_day if f.records_per_day else 0)
        * (f.segment_ratio or 1.0)
    )
    phases = {
        "fetch": stored / r.fetch_bytes_s if r.fetch_bytes_s else None,
        "load": snapshot / r.load_bytes_s if r.load_bytes_s else None,
        "replay": records_since_full / r.replay_records_s if r.replay_records_s else 0.0,
        "check": (f.head_seq + records_since_full) / r.check_records_s
        if r.check_records_s
        else None,
    }
    known = [v for v in phases.values() if v is not None]
    return {
        "records_since_full": round(records_since_full),
        "phases_s": {k: None if v is None else round(v, 1) for k, v in phases.items()},
        "total_s": round(sum(known), 1),
        "complete": all(v is not None for v in phases.values()),
    }


def _rpo_interval(f: Figures, warnings: list[str]) -> float:
    """The incremental interval that meets the RPO: a record written just after an
    incremental starts waits the interval plus the incremental's own duration."""
    incr_s = f.incr_seconds or 0.0
    budget = f.rpo_s - incr_s
    if budget <= 0:
        interval = 1.0
        warnings.append(
            f"an incremental takes {incr_s:.1f} s, longer than the RPO of"
            f" {format_duration(f.rpo_s)}: only continuous mode can approach it"
        )
    else:
        interval = _nice(max(1.0, budget * RPO_SHARE))
    continuous = interval < CONTINUOUS_BELOW_S
    worst_loss = f.follow_interval_s if f.follow_running else f.policy_incremental_s + incr_s
    if worst_loss > f.rpo_s:
        warnings.append(
            f"the configured schedule loses up to {worst_loss:,.1f} s of records"
            f" (incremental every {format_duration(f.policy_incremental_s)}"
            + (f" taking {incr_s:.2f} s" if incr_s >= 0.005 else "")
            + f"), more than the RPO of {format_duration(f.rpo_s)}:"
            + (
                f" run `serialvault backup follow --interval {format_duration(interval)}`"
                if continuous
                else f' set [schedule] incremental_interval = "{format_duration(interval)}"'
            )
        )
    return interval


def _rto_full_every(f: Figures, warnings: list[str]) -> tuple[float, dict[str, Any] | None]:
    """The longest full cadence (7…1 days) whose predicted restore at the end of a chain
    — the slowest point: most records to replay — fits the RTO's share; and the
    prediction at the configured cadence. Without a measured restore: not assessed."""
    per_s = f.records_per_day / 86400
    full_every = 7 * 86400.0
    if f.restore is None:
        warnings.append(
            "RTO not assessed: no restore has been measured on any copy; restore into a scratch"
            " database (or run a drill) and plan again"
        )
        return full_every, None
    limit = f.rto_s * RTO_SHARE
    base = restore_estimate(f, 0)
    assert base is not None
    if base["total_s"] > limit:
        warnings.append(
            f"even right after a full, a restore is predicted to take {base['total_s']:.0f} s,"
            f" more than {RTO_SHARE:.0%} of the RTO ({limit:.0f} s), from the restore"
            f" measured {f.restore.at}: restore to faster storage or a closer copy"
        )
        full_every = 86400.0
    else:
        est = None
        for cand in (7, 6, 5, 4, 3, 2, 1):
            full_every = cand * 86400.0
            est = restore_estimate(f, per_s * full_every)
            if est is not None and est["total_s"] <= limit:
                break
        if est is not None and est["total_s"] > limit:
            warnings.append(
                f"even with a daily full, a restore at the end of a chain is predicted to"
                f" take {est['total_s']:.0f} s, more than {RTO_SHARE:.0%} of the RTO"
                f" ({limit:.0f} s): the log replay is the bottleneck"
            )
    at_end = restore_estimate(f, per_s * f.policy_full_every_s)
    if at_end is not None and at_end["total_s"] > limit:
        warnings.append(
            f"with a full every {format_duration(f.policy_full_every_s)}, a restore at the"
            f" end of a chain is predicted to take {at_end['total_s']:.0f} s, more than"
            f" {RTO_SHARE:.0%} of the RTO ({limit:.0f} s): set [schedule] full_every ="
            f' "{format_duration(full_every)}"'
        )
    return full_every, at_end


def _storage(f: Figures, full_every: float) -> dict[str, Any]:
    """Bytes held per copy at the cadence and the policy's retention, and written a month."""
    full_bytes = f.full_stored_bytes
    if full_bytes is None:
        full_bytes = round(f.database_bytes * 0.35)
        f.notes.append(
            "no full backup on a copy yet: full size estimated at 35% of the database size"
        )
    ratio = f.segment_ratio if f.segment_ratio is not None else 0.3
    incr_day = f.log_bytes_per_day * ratio
    chains = max(f.keep_fulls, math.ceil(f.keep_days * 86400 / full_every) + 1)
    held = chains * full_bytes + chains * (full_every / 86400) * incr_day
    return {
        "chains_kept": chains,
        "held_bytes": round(held),
        "written_per_month_bytes": round((30 * 86400 / full_every) * full_bytes + 30 * incr_day),
        "growth_per_month_bytes": round(f.log_bytes_per_day * 30 * ratio),
    }


def recommend(f: Figures) -> dict[str, Any]:
    """The schedule that meets RPO and RTO, what it costs, and what stands in the way."""
    if f.rpo_s <= 0 or f.rto_s <= 0:
        raise BackupError("--rpo and --rto must be more than 0")
    warnings: list[str] = []
    interval = _rpo_interval(f, warnings)
    continuous = interval < CONTINUOUS_BELOW_S
    incr_s = f.incr_seconds or 0.0
    per_s = f.records_per_day / 86400
    full_every, at_end = _rto_full_every(f, warnings)
    if f.copies < 2:
        warnings.append(
            f"{f.copies} backup cop{'y' if f.copies == 1 else 'ies'}: keep at least two, one"
            " off-site (EU GMP Annex 11 §7.1; the 3-2-1 rule)"
        )
    storage = _storage(f, full_every)
    return {
        "format": PLAN_FORMAT,
        "objectives": {"rpo_s": f.rpo_s, "rto_s": f.rto_s},
        "measured": {
            "records_per_day": round(f.records_per_day, 1),
            "log_bytes_per_day": round(f.log_bytes_per_day),
            "peak_records_per_minute": f.peak_records_per_minute,
            "database_bytes": f.database_bytes,
            "newest_full_stored_bytes": f.full_stored_bytes,
            "newest_incremental_s": f.incr_seconds,
            "restore": f.restore.to_dict() if f.restore else None,
        },
        "recommended": {
            "mode": "continuous" if continuous else "scheduled",
            "incremental_interval": format_duration(interval),
            "incremental_interval_s": interval,
            "command": f"serialvault backup follow --interval {format_duration(interval)}"
            if continuous
            else None,
            "full_every": format_duration(full_every),
            "full_every_s": full_every,
            "worst_case_loss_s": round(interval + incr_s, 1),
        },
        "configured": {
            "incremental_interval": format_duration(f.policy_incremental_s),
            "full_every": format_duration(f.policy_full_every_s),
            "keep_fulls": f.keep_fulls,
            "keep_days": f.keep_days,
            "copies": f.copies,
            "follow_running": f.follow_running,
            "restore_at_end_of_chain": at_end,
        },
        "restore_prediction": {
            "right_after_full": restore_estimate(f, 0),
            "end_of_recommended_chain": restore_estimate(f, per_s * full_every),
        },
        "storage_per_copy": storage,
        "storage_all_copies_held_bytes": storage["held_bytes"] * max(1, f.copies),
        "warnings": warnings,
        "notes": f.notes,
        "ok": not warnings,
    }


def gather(
    repo: Repository,
    policy: Policy,
    copies: list[Copy],
    *,
    rpo_s: float,
    rto_s: float,
    follow_running: bool = False,
    window_days: float = 7.0,
) -> Figures:
    """Read the figures: the log's rates, the copies' newest backups and restore measurements."""
    inv = inventory(repo, policy, window_days)
    repo_id = repo.meta().get("repository_id", "")
    notes: list[str] = list(inv["notes"])
    full_stored = full_plain = None
    seg_plain = seg_stored = 0
    incr_s: float | None = None
    rates: list[RestoreRates] = []
    try:
        vk = policy.load_verify_key()
    except SerialvaultError:
        vk = None
        notes.append("no public key: manifest signatures were not checked for the plan")
    for c in copies:
        try:
            st = c.open()
            manifests, _ = read_manifests(st, vk)
            mine = [m for m in manifests if m.repository_id == repo_id]
            fulls = [m for m in mine if m.type == "full"]
            if fulls:
                nf = max(fulls, key=lambda m: m.created_at)
                full_stored = nf.stored_bytes
                full_plain = sum(o.plain_size for o in nf.snapshot_objects) or None
            for m in mine:
                for o in m.segments:
                    seg_plain += o.plain_size
                    seg_stored += o.size
            incrs = [m for m in mine if m.type == "incr" and m.duration_s is not None]
            last = newest(incrs, repo_id)
            if last is not None:
                incr_s = float(last.duration_s or 0)
            for info in st.target.list("measurements/"):
                try:
                    doc = orjson.loads(st.target.get(info.name))
                except (SerialvaultError, orjson.JSONDecodeError):
                    continue
                if isinstance(doc, dict) and doc.get("repository_id") == repo_id:
                    r = rates_from(doc)
                    if r is not None:
                        rates.append(r)
        except SerialvaultError as exc:
            notes.append(f"copy {c.name}: {exc}")
    same_engine = [r for r in rates if r.target_engine == repo.dialect]
    chosen = max(same_engine or rates, key=lambda r: r.at, default=None)
    if chosen is not None and chosen.target_engine != repo.dialect:
        notes.append(
            f"the newest measured restore was into {chosen.target_engine}, not {repo.dialect}"
        )
    return Figures(
        rpo_s=rpo_s,
        rto_s=rto_s,
        records_per_day=inv["growth_per_day"]["records"],
        log_bytes_per_day=inv["growth_per_day"]["bytes"],
        peak_records_per_minute=inv["peak_records_per_minute"],
        head_seq=inv["head_seq"],
        database_bytes=inv["database_bytes"],
        full_stored_bytes=full_stored,
        full_plain_bytes=full_plain,
        segment_ratio=(seg_stored / seg_plain) if seg_plain else None,
        incr_seconds=incr_s,
        copies=len(copies),
        policy_incremental_s=policy.incremental_interval,
        policy_full_every_s=policy.full_every,
        keep_fulls=policy.keep_fulls,
        keep_days=policy.keep_days,
        follow_interval_s=policy.follow_interval,
        follow_running=follow_running,
        restore=chosen,
        notes=notes,
    )
