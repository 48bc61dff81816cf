"""Integrity: verify the hash chain, rebuild the projections from the log.

``audit verify`` walks the chain from genesis and names the first broken link (seq,
what was expected, what was found). ``rebuild`` empties every projection and replays
the log through the same projector capture uses; its fingerprint must equal the one
before (DESIGN.md principle 1; reconciliation rules R5 and R6).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from serialvault.domain.chain import (
    Anchor,
    AnchorCheck,
    AnchorReport,
    ChainBreak,
    ChainVerifier,
    LogRecord,
)
from serialvault.domain.facts import EventFacts
from serialvault.domain.lifecycle import Engine
from serialvault.domain.records import (
    EVENT,
    REBUILD,
    facts_from_body,
)
from serialvault.errors import IntegrityFailure
from serialvault.store import schema
from serialvault.store.fingerprint import Fingerprint, fingerprint
from serialvault.store.project import apply_record
from serialvault.store.projector import (
    write_changes,
)
from serialvault.store.repository import Repository, iter_log, read_head
from serialvault.store.serials import check_commissioning
from serialvault.store.snapshot import load_snapshot
from serialvault.store.workers import worker_pool


@dataclass(frozen=True, slots=True)
class AuditResult:
    """Outcome of a chain walk."""

    checked: int
    head_seq: int
    head_chain: str
    first_break: ChainBreak | None
    seconds: float
    anchors: AnchorReport | None = None

    @property
    def ok(self) -> bool:
        return self.first_break is None and (self.anchors is None or self.anchors.ok)

    @property
    def problem(self) -> str | None:
        """The first thing wrong: a broken link, else a rewrite or truncation an anchor shows."""
        if self.first_break is not None:
            return str(self.first_break)
        return None if self.anchors is None else self.anchors.problem(self.head_seq)

    def to_dict(self) -> dict[str, Any]:
        b = self.first_break
        return {
            "ok": self.ok,
            "problem": self.problem,
            "anchored": self.anchors is not None and self.anchors.anchors > 0,
            "anchors": None if self.anchors is None else self.anchors.to_dict(self.head_seq),
            "checked": self.checked,
            "head_seq": self.head_seq,
            "head_chain": self.head_chain,
            "first_break": None
            if b is None
            else {"seq": b.seq, "problem": b.problem, "expected": b.expected, "found": b.found},
            "seconds": round(self.seconds, 3),
        }


def verify_chain(
    conn: Connection,
    on_progress: Callable[[int], None] | None = None,
    anchors: list[Anchor] | None = None,
) -> AuditResult:
    """Walk the whole log from genesis; stop at the first broken link.

    The chain alone cannot show that records were cut off its end, or that history was
    rewritten with every hash recomputed: ``anchors`` (signed checkpoints kept outside
    the database) can. Each is compared as the walk passes its seq; one beyond the end
    is a truncation.
    """
    t0 = time.perf_counter()
    head = read_head(conn)
    v = ChainVerifier()
    check = AnchorCheck(anchors) if anchors is not None else None
    brk: ChainBreak | None = None
    for rec in iter_log(conn):
        brk = v.feed(rec)
        if brk is not None:
            break
        if check is not None:
            check.feed(rec.seq, rec.chain_hash)
        if on_progress and v.checked % 10_000 == 0:
            on_progress(v.checked)
    if brk is None and v.prev_seq != head.seq:
        brk = ChainBreak(head.seq, "log ends early", str(head.seq), str(v.prev_seq))
    if on_progress:
        on_progress(v.checked)
    report = None if check is None else check.finish(head.seq)
    return AuditResult(v.checked, head.seq, head.chain_hash, brk, time.perf_counter() - t0, report)


#: Consecutive event records are replayed in batches of about this many body bytes
#: (≈ the EPC batch of capture: ~60 bytes per EPC reference).
_BATCH_BYTES = 3_000_000


def _facts_of(bodies: list[bytes]) -> list[EventFacts]:
    """Worker entry: the facts of a batch of ``epcis.event`` bodies (pure CPU work)."""
    return [facts_from_body(body, i)[0] for i, body in enumerate(bodies)]


def _segments(records: Iterator[LogRecord]) -> Iterator[list[LogRecord]]:
    """Records grouped for replay: runs of event records, or one other record.

    An error declaration stands alone, as in capture (it recomputes units from what is
    already written). ``"errorDeclaration"`` can only occur in an event body as that
    key: any such text inside a value would be escaped differently in JSON.
    """
    run: list[LogRecord] = []
    size = 0
    for rec in records:
        if rec.kind != EVENT or b'"errorDeclaration"' in rec.body:
            if run:
                yield run
            yield [rec]
            run, size = [], 0
            continue
        run.append(rec)
        size += len(rec.body)
        if size >= _BATCH_BYTES:
            yield run
            run, size = [], 0
    if run:
        yield run


def replay(
    conn: Connection,
    records: Iterator[LogRecord],
    on_progress: Callable[[int], None] | None = None,
    *,
    parallel: bool = True,
) -> int:
    """Apply log records to (empty or up-to-date) projections; returns the last seq.

    Consecutive event records are applied in batches through the lifecycle engine with
    their original ``seq`` and ``recorded_at``; master-data and exception records go
    through the projector functions capture uses. A record the rules now reject is an
    integrity failure: the log and the code disagree.

    As in capture, the pure work (parsing bodies, canonical keys, facts) for the next
    batch runs in a second process while this one applies the current batch.
    """
    next_id = int(conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM units").scalar_one()) + 1
    last = 0

    def apply_events(recs: list[LogRecord], facts: list[EventFacts]) -> None:
        nonlocal next_id
        engine = Engine(load_snapshot(conn, facts, next_id))
        for rec, f in zip(recs, facts, strict=True):
            if not engine.apply(f, rec.seq, rec.recorded_at):
                raise IntegrityFailure(f"replay: log record seq {rec.seq} repeats an earlier event")
            if engine.issues:
                raise IntegrityFailure(
                    f"replay: log record seq {rec.seq} is rejected by the rules: {engine.issues[0]}"
                )
        write_changes(conn, engine.changes)
        # what the events did to serial pools, as capture recorded it (its check
        # decided then whether to accept them; replay only repeats the effect)
        check_commissioning(conn, [(f, r.seq) for r, f in zip(recs, facts, strict=True)]).write(
            conn
        )
        next_id = engine.next_id

    def finish(recs: list[LogRecord], facts: Future[list[EventFacts]] | None) -> None:
        nonlocal last
        if facts is None:
            apply_record(conn, recs[0])
        else:
            apply_events(recs, facts.result())
        last = recs[-1].seq
        if on_progress:
            on_progress(last)

    with _pool(parallel) as pool:
        pending: deque[tuple[list[LogRecord], Future[list[EventFacts]] | None]] = deque()
        for seg in _segments(records):
            if seg[0].kind == EVENT:
                pending.append((seg, pool.submit(_facts_of, [r.body for r in seg])))
            else:
                pending.append((seg, None))
            while len(pending) > 2:
                finish(*pending.popleft())
        while pending:
            finish(*pending.popleft())
    return last


class _InlinePool:
    """Runs work at once in this process (tests, tiny replays, no fork)."""

    def submit(
        self, fn: Callable[[list[bytes]], list[EventFacts]], arg: list[bytes]
    ) -> Future[list[EventFacts]]:
        fut: Future[list[EventFacts]] = Future()
        fut.set_result(fn(arg))
        return fut

    def __enter__(self) -> _InlinePool:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _pool(parallel: bool) -> ProcessPoolExecutor | _InlinePool:
    pool = worker_pool() if parallel else None
    return pool if pool is not None else _InlinePool()


@dataclass(frozen=True, slots=True)
class RebuildResult:
    before: Fingerprint
    after: Fingerprint
    replayed_to: int
    seconds: float
    seq: int

    @property
    def identical(self) -> bool:
        return self.before.value == self.after.value

    def to_dict(self) -> dict[str, Any]:
        return {
            "identical": self.identical,
            "fingerprint_before": self.before.value,
            "fingerprint_after": self.after.value,
            "replayed_to_seq": self.replayed_to,
            "record_seq": self.seq,
            "seconds": round(self.seconds, 3),
            "tables_differing": [
                n for n, ts in self.after.tables.items() if self.before.tables.get(n) != ts
            ],
        }


def clear_projections(conn: Connection) -> None:
    for t in reversed(schema.PROJECTIONS):
        conn.execute(sa.delete(t))


def rebuild(
    repo: Repository,
    *,
    actor: str,
    reason: str = "projections rebuilt from the log",
    on_progress: Callable[[int], None] | None = None,
) -> RebuildResult:
    """Recreate every projection from the log in one transaction, and record that it did."""
    t0 = time.perf_counter()
    with repo.write() as (conn, app):
        before = fingerprint(conn)
        clear_projections(conn)
        last = replay(conn, iter_log(conn), on_progress)
        after = fingerprint(conn)
        rec = app.append(
            REBUILD,
            {
                "replayed_to_seq": last,
                "fingerprint_before": before.value,
                "fingerprint_after": after.value,
            },
            actor,
            reason,
        )
    repo.refresh_statistics()
    return RebuildResult(before, after, last, time.perf_counter() - t0, rec.seq)


# --------------------------------------------------------------------------- projections


@dataclass
class ProjectionCheck:
    """Whether the projections are what replaying the log gives (DESIGN.md R9).

    The chain proves the log; nothing in it proves a projection row. A row edited in the
    database file (a unit's status set back to ``active``) agrees with a fingerprint
    taken from the same edited rows — so R6 and a backup's manifest cannot see it. This
    check replays the log into a scratch database and compares row by row.
    """

    head_seq: int
    tables_differing: list[str]
    examples: list[str]
    rows_compared: int
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.tables_differing

    @property
    def message(self) -> str:
        if self.ok:
            return f"every projection equals the log replayed to seq {self.head_seq}"
        return (
            f"projections differ from the log replayed to seq {self.head_seq} in"
            f" {', '.join(self.tables_differing)}: {'; '.join(self.examples[:5])}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "head_seq": self.head_seq,
            "tables_differing": self.tables_differing,
            "examples": self.examples,
            "rows_compared": self.rows_compared,
            "message": self.message,
            "seconds": round(self.seconds, 3),
        }


def _ordered_rows(conn: Connection, table: sa.Table) -> Iterator[tuple[Any, ...]]:
    """Rows in primary-key order, bytewise for text on both engines (``COLLATE "C"``)."""
    pg = conn.dialect.name == "postgresql"
    order = []
    for c in table.primary_key.columns:
        text = isinstance(c.type, sa.Text)
        order.append(f'{c.name} COLLATE "C"' if pg and text else c.name)
    cols = ", ".join(c.name for c in table.columns)
    raw: Any = conn.connection.driver_connection
    cur = raw.cursor(name=f"pc_{table.name}") if pg else raw.cursor()
    try:
        cur.execute(f"SELECT {cols} FROM {table.name} ORDER BY {', '.join(order)}")
        while chunk := cur.fetchmany(20_000):
            yield from (tuple(r) for r in chunk)
    finally:
        cur.close()


def _diff_table(
    live: Connection, replayed: Connection, table: sa.Table, limit: int
) -> tuple[int, list[str]]:
    """Rows compared, and examples of rows that differ (key, columns, both values)."""
    names = [c.name for c in table.columns]
    pk = [names.index(c.name) for c in table.primary_key.columns]
    label = names.index("key") if "key" in names else None

    def key(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(row[i] for i in pk)

    def name(row: tuple[Any, ...]) -> str:
        k = ", ".join(f"{names[i]}={row[i]!r}" for i in pk)
        return f"{table.name}({k}{f', key={row[label]!r}' if label is not None else ''})"

    examples: list[str] = []
    compared = 0
    a_rows, b_rows = _ordered_rows(live, table), _ordered_rows(replayed, table)
    a, b = next(a_rows, None), next(b_rows, None)

    def sortable(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(("" if v is None else v) for v in key(row))

    while a is not None or b is not None:
        compared += 1
        if b is None or (a is not None and sortable(a) < sortable(b)):
            assert a is not None
            examples.append(f"{name(a)} is not produced by the log")
            a = next(a_rows, None)
        elif a is None or sortable(b) < sortable(a):
            examples.append(f"{name(b)} is missing (the log produces it)")
            b = next(b_rows, None)
        else:
            if a != b:
                cols = [
                    f"{names[i]} {a[i]!r}, the log gives {b[i]!r}"
                    for i in range(len(names))
                    if a[i] != b[i]
                ]
                examples.append(f"{name(a)}: {'; '.join(cols)}")
            a, b = next(a_rows, None), next(b_rows, None)
        if len(examples) >= limit:
            break
    return compared, examples


def check_projections(
    conn: Connection, scratch_dir: Path | None = None, *, limit: int = 10
) -> ProjectionCheck:
    """Replay the log of ``conn``'s view into a scratch SQLite database and compare every
    projection with it (writes nothing to ``conn``'s database).

    Per table, the fingerprint sums say *whether* it differs; only a differing table is
    compared row by row, in key order, to name the rows and columns. Cost: a replay of
    the whole log (``rebuild`` without its writes) plus a scan of each projection.
    """
    from serialvault.store.fingerprint import fingerprint as fp_of
    from serialvault.store.repository import insert_log, migrate_on

    t0 = time.perf_counter()
    head = read_head(conn)
    live_fp = fp_of(conn)
    folder = Path(tempfile.mkdtemp(prefix="sv-projcheck-", dir=scratch_dir))
    scratch = Repository("sqlite:///" + str(folder / "replay.db"))
    try:
        with scratch.write_raw() as dest:
            migrate_on(dest)
            batch: list[LogRecord] = []
            for rec in iter_log(conn, 1, head.seq):
                batch.append(rec)
                if len(batch) >= 20_000:
                    insert_log(dest, batch)
                    batch = []
            if batch:
                insert_log(dest, batch)
            replay(dest, iter_log(dest, 1, head.seq))
        with scratch.read() as dest:
            replayed_fp = fp_of(dest)
            differing = [
                t.name
                for t in schema.PROJECTIONS
                if live_fp.tables.get(t.name) != replayed_fp.tables.get(t.name)
            ]
            examples: list[str] = []
            rows = sum(v.rows for v in live_fp.tables.values())
            for t in schema.PROJECTIONS:
                if t.name in differing:
                    _n, ex = _diff_table(conn, dest, t, limit)
                    examples += ex
    finally:
        scratch.engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)
    return ProjectionCheck(head.seq, differing, examples[:limit], rows, time.perf_counter() - t0)
