"""Continuous mode: ship new log records as small incrementals, keep the lag bounded.

DESIGN.md "Backup" / Litestream's model: between scheduled backups, the log is the unit of
shipping. A follower polls the chain head (one indexed single-row read) every
``poll`` seconds and ships an incremental to each copy *before* the oldest unshipped
record has waited ``interval`` — so ``--interval`` is the bound on lag a user asks for
(the recovery point objective of the copies), not a sleep between rounds. The measured
time of the last shipments is subtracted from the deadline, so shipping itself does not
push records over it.

Each copy is followed on its own: one unreachable bucket is retried with back-off while
the on-site copy stays current (EU GMP Annex 11 §7.1: data secured by physical and
electronic means; the failure is reported, never hidden). A copy with no backup of the
repository, or whose chain's full is older than the policy's ``full_every``, gets a full
backup first, so that a follower alone keeps a copy restorable.

Lag is exposed three ways: one JSON line per shipment (``--json``), a status file (JSON,
replaced atomically) that ``backup list`` shows, and a Prometheus text-format file for a
node exporter's textfile collector (``--metrics``).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from serialvault.backup.copies import Copy, newest, read_manifests
from serialvault.backup.manifest import Manifest
from serialvault.backup.objects import CopyState
from serialvault.backup.policy import Policy
from serialvault.backup.take import BackupResult, full_backup, incremental_backup
from serialvault.backup.targets import Target
from serialvault.errors import SerialvaultError, UsageError
from serialvault.store.repository import Repository
from serialvault.timefmt import now_utc, parse_timestamp

STATUS_FORMAT = "serialvault.follow-status/1"
#: Ship at once when this many records are waiting, whatever the deadline.
MAX_BATCH_RECORDS = 50_000
#: Longest wait before retrying a copy that failed.
MAX_BACKOFF_S = 60.0
#: Shipments remembered for the lag percentiles of the status file.
LAG_WINDOW = 1000


def _epoch(stamp: str) -> float:
    return parse_timestamp(stamp).timestamp()


@dataclass(frozen=True, slots=True)
class _OpenCopy(Copy):
    """A copy whose target is opened once for the life of the follower."""

    target: Target | None = None

    def open(self) -> CopyState:
        assert self.target is not None
        return CopyState(self.name, self.target)


@dataclass
class CopyFollow:
    """What the follower knows about one copy."""

    copy: _OpenCopy
    parent: Manifest | None = None
    error: str | None = None
    failures: int = 0
    retry_at: float = 0.0
    shipments: int = 0
    fulls: int = 0
    records_shipped: int = 0
    bytes_stored: int = 0
    last_success: float | None = None
    chain_started: float = 0.0  # created_at of the full the copy's chain starts with

    @property
    def shipped_seq(self) -> int:
        return self.parent.last_seq if self.parent else 0


@dataclass
class Shipment:
    """One incremental (or full) written to one or more copies."""

    backup_id: str | None
    type: str
    copies: list[str]
    first_seq: int
    last_seq: int
    records: int
    oldest_record_at: str | None
    done_at: str
    duration_s: float
    max_lag_s: float | None
    bytes_stored: int
    errors: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": "shipment",
            "id": self.backup_id,
            "type": self.type,
            "copies": self.copies,
            "seq": {"first": self.first_seq, "last": self.last_seq},
            "records": self.records,
            "oldest_record_at": self.oldest_record_at,
            "done_at": self.done_at,
            "duration_s": round(self.duration_s, 4),
            "max_lag_s": None if self.max_lag_s is None else round(self.max_lag_s, 4),
            "bytes_stored": self.bytes_stored,
            "errors": self.errors,
        }


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class Follower:
    """Ships new log records to every copy, keeping each copy's lag under ``interval``."""

    def __init__(
        self,
        repo: Repository,
        policy: Policy,
        copies: list[Copy],
        *,
        actor: str,
        interval: float = 1.0,
        poll: float | None = None,
        status_path: Path | None = None,
        metrics_path: Path | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if interval <= 0:
            raise UsageError(
                f"--interval {interval:g} s: the follow interval must be more than 0 s"
            )
        self.repo = repo
        self.policy = policy
        self.actor = actor
        self.interval = interval
        self.poll = poll if poll is not None else min(0.1, interval / 10)
        self.status_path = status_path
        self.metrics_path = metrics_path
        self.on_event = on_event or (lambda _d: None)
        self.clock = clock
        self.stop = threading.Event()
        self.copies = [
            CopyFollow(_OpenCopy(c.name, c.url, c.settings, target=c.open().target)) for c in copies
        ]
        self.repo_id = repo.meta().get("repository_id", "")
        self.verify_key = policy.load_signing_key().public
        self.started_at = now_utc()
        self.head_seq = 0
        self.head_at: str | None = None
        self.ship_estimate = 0.05  # seconds; an exponential average of shipment time
        self.lags: deque[float] = deque(maxlen=LAG_WINDOW)
        self._time_cache: dict[int, str | None] = {}

    # ------------------------------------------------------------------ helpers
    def _time_of(self, seq: int) -> str | None:
        if seq not in self._time_cache:
            if len(self._time_cache) > 64:
                self._time_cache.clear()
            self._time_cache[seq] = self.repo.time_of(seq)
        return self._time_cache[seq]

    def _fail(self, cf: CopyFollow, message: str, now: float) -> None:
        cf.error = message
        cf.failures += 1
        cf.parent = None  # re-read the copy's manifests when it answers again
        cf.retry_at = now + min(MAX_BACKOFF_S, self.interval * 2 ** min(cf.failures, 10))
        self.on_event(
            {"event": "copy-error", "copy": cf.copy.name, "error": message, "at": now_utc()}
        )

    def _resolve_parent(self, cf: CopyFollow) -> bool:
        """Find the copy's newest backup; take a full when it has none or it is too old."""
        state = cf.copy.open()
        manifests, _ = read_manifests(state, self.verify_key)
        parent = newest(manifests, self.repo_id)
        if parent is not None:
            full = next((m for m in manifests if m.id == parent.chain), None)
            age = self.clock() - _epoch(full.created_at) if full is not None else float("inf")
            if age <= self.policy.full_every:
                cf.parent = parent
                cf.chain_started = self.clock() - age
                return False
        self._full(cf)
        return True

    def _full(self, cf: CopyFollow) -> None:
        t0 = time.perf_counter()
        res = full_backup(self.repo, self.policy, [cf.copy], actor=self.actor)
        self._record([cf], [res], time.perf_counter() - t0, kind="full")

    def _record(
        self, members: list[CopyFollow], results: list[BackupResult], seconds: float, kind: str
    ) -> None:
        by_name = {cf.copy.name: cf for cf in members}
        now = self.clock()
        for res in results:
            errors = {c.name: c.error for c in res.copies if c.error is not None}
            for name, err in errors.items():
                self._fail(by_name[name], err, now)
            m = res.manifest
            if m is None:
                continue
            ok = [c.name for c in res.copies if c.error is None]
            for name in ok:
                cf = by_name[name]
                cf.parent, cf.error, cf.failures = m, None, 0
                cf.last_success = now
                cf.records_shipped += m.records if kind == "incr" else 0
                cf.bytes_stored += m.stored_bytes
                if kind == "full":
                    cf.fulls += 1
                    cf.chain_started = now
                else:
                    cf.shipments += 1
            oldest = m.first_time if kind == "incr" else None
            max_lag = (now - _epoch(oldest)) if oldest else None
            if max_lag is not None and ok:
                self.lags.append(max_lag)
            self.on_event(
                Shipment(
                    m.id,
                    kind,
                    ok,
                    m.first_seq,
                    m.last_seq,
                    m.records,
                    oldest,
                    now_utc(),
                    seconds,
                    max_lag,
                    m.stored_bytes,
                    errors,
                ).to_dict()
            )
        if kind == "incr":
            self.ship_estimate = 0.7 * self.ship_estimate + 0.3 * seconds

    # ------------------------------------------------------------------ one round
    def tick(self) -> bool:
        """One round: resolve copies, ship what is due. True if anything was written."""
        now = self.clock()
        wrote = False
        for cf in self.copies:
            try:
                if cf.parent is None and now >= cf.retry_at:
                    wrote |= self._resolve_parent(cf)
                elif cf.parent is not None and now - cf.chain_started > self.policy.full_every:
                    self._full(cf)  # the schedule's full cadence starts a new chain
                    wrote = True
            except SerialvaultError as exc:
                self._fail(cf, str(exc), self.clock())
        head = self.repo.head()
        self.head_seq, self.head_at = head.seq, head.recorded_at
        now = self.clock()
        ready = [cf for cf in self.copies if cf.parent is not None]
        behind = [cf for cf in ready if cf.parent and cf.parent.last_seq < head.seq]
        if not behind:
            return wrote
        oldest_seq = min(cf.shipped_seq for cf in behind) + 1
        oldest_at = self._time_of(oldest_seq)
        waiting = head.seq - oldest_seq + 1
        # Ship so that the oldest record is on the copies before it is `interval` old:
        # allow two polls of slack and half again the recent shipping time.
        due_at = (
            _epoch(oldest_at) + self.interval - 2 * self.poll - 1.5 * self.ship_estimate
            if oldest_at
            else now
        )
        if now < due_at and waiting < MAX_BATCH_RECORDS and not self.stop.is_set():
            return wrote
        t0 = time.perf_counter()
        try:
            results = incremental_backup(
                self.repo,
                self.policy,
                [cf.copy for cf in behind],
                actor=self.actor,
                with_fingerprint=False,
                parents={cf.copy.name: cf.parent for cf in behind if cf.parent},
            )
        except SerialvaultError as exc:
            for cf in behind:
                self._fail(cf, str(exc), self.clock())
            return wrote
        self._record(behind, results, time.perf_counter() - t0, kind="incr")
        return True

    # ------------------------------------------------------------------ reporting
    def status(self) -> dict[str, Any]:
        now = self.clock()
        copies = []
        for cf in self.copies:
            lag_records = max(0, self.head_seq - cf.shipped_seq) if cf.parent else None
            lag_s: float | None = None
            if cf.parent is not None:
                lag_s = 0.0
                if lag_records:
                    first = self._time_of(cf.shipped_seq + 1)
                    lag_s = max(0.0, now - _epoch(first)) if first else None
            copies.append(
                {
                    "name": cf.copy.name,
                    "url": cf.copy.url,
                    "shipped_seq": cf.shipped_seq,
                    "lag_records": lag_records,
                    "lag_seconds": None if lag_s is None else round(lag_s, 3),
                    "newest_backup": cf.parent.id if cf.parent else None,
                    "shipments": cf.shipments,
                    "fulls": cf.fulls,
                    "records_shipped": cf.records_shipped,
                    "bytes_stored": cf.bytes_stored,
                    "last_success_at": cf.last_success,
                    "error": cf.error,
                    "failures": cf.failures,
                }
            )
        lags = list(self.lags)
        return {
            "format": STATUS_FORMAT,
            "pid": os.getpid(),
            "repository": self.repo.display_url,
            "started_at": self.started_at,
            "updated_at": now_utc(),
            "updated_epoch": now,
            "interval_s": self.interval,
            "head_seq": self.head_seq,
            "copies": copies,
            "shipment_lag_s": {
                "count": len(lags),
                "p50": _percentile(lags, 0.50),
                "p99": _percentile(lags, 0.99),
                "max": max(lags, default=None),
            },
        }

    def write_reports(self) -> dict[str, Any]:
        st = self.status()
        if self.status_path is not None:
            _write_atomic(self.status_path, orjson.dumps(st, option=orjson.OPT_INDENT_2))
        if self.metrics_path is not None:
            _write_atomic(self.metrics_path, prometheus_text(st).encode())
        return st

    # ------------------------------------------------------------------ loop
    def run(self, duration: float | None = None, report_every: float = 1.0) -> dict[str, Any]:
        """Follow until stopped (SIGINT/SIGTERM or ``duration``); ship what is left; report."""
        end = None if duration is None else time.monotonic() + duration
        next_report = 0.0
        while not self.stop.is_set():
            if end is not None and time.monotonic() >= end:
                break
            t = time.monotonic()
            wrote = self.tick()
            if wrote or t >= next_report:
                self.write_reports()
                next_report = t + report_every
            if not wrote:
                self.stop.wait(self.poll)
        self.stop.set()  # a last round ships every waiting record, deadline or not
        self.tick()
        return self.write_reports()

    def install_signal_handlers(self) -> None:
        def handler(_signum: int, _frame: Any) -> None:
            self.stop.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_text(status: dict[str, Any]) -> str:
    """The follower's status in the Prometheus text exposition format (version 0.0.4)."""
    lines: list[str] = []

    def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            v = float(value)
            lines.append(f"{name}{labels} {int(v) if v.is_integer() else repr(v)}")

    per = [(c, f'{{copy="{_label(c["name"])}"}}') for c in status["copies"]]
    metric(
        "serialvault_backup_lag_seconds",
        "gauge",
        "Age of the oldest log record not yet on the copy (0 when current).",
        [(lb, c["lag_seconds"]) for c, lb in per if c["lag_seconds"] is not None],
    )
    metric(
        "serialvault_backup_lag_records",
        "gauge",
        "Log records not yet on the copy.",
        [(lb, c["lag_records"]) for c, lb in per if c["lag_records"] is not None],
    )
    metric(
        "serialvault_backup_copy_up",
        "gauge",
        "1 when the last attempt to write the copy succeeded.",
        [(lb, 0 if c["error"] else 1) for c, lb in per],
    )
    metric(
        "serialvault_backup_last_success_timestamp_seconds",
        "gauge",
        "Unix time of the last successful write to the copy.",
        [(lb, c["last_success_at"]) for c, lb in per if c["last_success_at"] is not None],
    )
    metric(
        "serialvault_backup_shipped_records_total",
        "counter",
        "Log records shipped to the copy by this follower.",
        [(lb, c["records_shipped"]) for c, lb in per],
    )
    metric(
        "serialvault_backup_failures",
        "gauge",
        "Consecutive failed attempts to write the copy.",
        [(lb, c["failures"]) for c, lb in per],
    )
    metric(
        "serialvault_repository_head_seq",
        "gauge",
        "Newest seq of the repository's log.",
        [("", status["head_seq"])],
    )
    metric(
        "serialvault_backup_follow_updated_timestamp_seconds",
        "gauge",
        "Unix time the follower last wrote this status.",
        [("", status["updated_epoch"])],
    )
    return "\n".join(lines) + "\n"


def read_status(path: Path) -> dict[str, Any] | None:
    """A follower's status file, or ``None`` if there is none or it is not one."""
    try:
        doc = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != STATUS_FORMAT:
        return None
    return doc


def follower_summary(path: Path) -> dict[str, Any] | None:
    """What ``backup list`` shows of a follower: its status, and whether it still runs.

    A follower counts as running when its process exists and it wrote its status within
    three intervals (and at least 10 s): a stale file means lag is no longer watched.
    """
    st = read_status(path)
    if st is None:
        return None
    age = max(0.0, time.time() - float(st.get("updated_epoch", 0)))
    alive = True
    try:
        os.kill(int(st["pid"]), 0)
    except (ProcessLookupError, ValueError, KeyError):
        alive = False
    except PermissionError:
        alive = True
    fresh = age <= max(10.0, 3 * float(st.get("interval_s", 1)))
    return {
        "path": str(path),
        "pid": st.get("pid"),
        "running": alive and fresh,
        "updated_at": st.get("updated_at"),
        "updated_age_s": round(age, 1),
        "head_seq": st.get("head_seq"),
        "copies": st.get("copies", []),
        "shipment_lag_s": st.get("shipment_lag_s"),
    }
