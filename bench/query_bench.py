"""Query latencies on a captured repository, through the library's query functions.

All calls share one persistent connection (``with repo.read() as conn``), as a service
would, so the figures are the queries' own cost, not connection set-up. Each call is
timed with ``time.perf_counter_ns`` around the library call, which includes fetching
every row and building the result dictionaries — what a caller waits for.

* **Pallet contents**: ``queries.contents`` of random *shipped pallets*: SSCCs whose
  children include SSCCs (cases), so each answer is a full hierarchy (40 cases + 4,800
  units for a full pallet). The chosen pallets are cycled until the call count is
  reached.
* **Unit history**: ``queries.unit_history`` of random serialised units (SGTINs).

Planner statistics: PostgreSQL plans these recursive queries from table statistics,
which a fresh repository does not have until autovacuum's auto-analyze gets to it
(PostgreSQL 15 documentation §25.1.3 "Updating Planner Statistics", §25.1.6 "The
Autovacuum Daemon"); without them it picks sequential scans and JIT compilation —
measured here 7–9× slower at 200,000 units. The harness runs ``ANALYZE``
first (as autovacuum soon would) unless ``--no-analyze``, and records whether
auto-analyze had already run. SQLite keeps no statistics unless asked (``ANALYZE``) and
capture does not ask, so SQLite is measured as captured.

A few warm-up calls (not counted) first load the statements and the hot pages; the
unit warm-up uses units outside the measured sample.
"""

from __future__ import annotations

import gc
import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.engine import Connection

from serialvault.store import queries
from serialvault.store.repository import Repository

WARMUP = 20

_PALLETS_SQL = (
    "SELECT p.key FROM units p WHERE p.kind = 'sscc' AND p.status = 'shipped'"
    " AND EXISTS (SELECT 1 FROM units c WHERE c.parent_id = p.id AND c.kind = 'sscc')"
    " ORDER BY p.id"
)
_UNITS_SQL = "SELECT key FROM units WHERE kind = 'sgtin' ORDER BY id"


@dataclass(frozen=True, slots=True)
class Latency:
    """Latency distribution of one query over many calls (milliseconds)."""

    query: str
    calls: int
    distinct_keys: int
    rows_min: int
    rows_max: int
    rows_mean: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(sorted_values: list[int], q: float) -> int:
    """Nearest-rank percentile (the smallest value with at least ``q`` of values <= it)."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def _measure(
    name: str,
    fn: Callable[[Connection, str], list[dict[str, Any]]],
    conn: Connection,
    keys: list[str],
    calls: int,
    warmup_keys: list[str],
) -> Latency:
    for key in warmup_keys:
        fn(conn, key)
    times: list[int] = []
    rows: list[int] = []
    # The harness's own objects (workload, sampled keys, imported modules) go to the
    # permanent generation, so collector pauses inside the loop cost what the query
    # allocates, as in a lean service process, not what the harness happens to hold.
    gc.collect()
    gc.freeze()
    try:
        for i in range(calls):
            key = keys[i % len(keys)]
            t0 = time.perf_counter_ns()
            result = fn(conn, key)
            times.append(time.perf_counter_ns() - t0)
            rows.append(len(result))
            del result
    finally:
        gc.unfreeze()
    times.sort()
    return Latency(
        query=name,
        calls=calls,
        distinct_keys=len(set(keys[: min(calls, len(keys))])),
        rows_min=min(rows),
        rows_max=max(rows),
        rows_mean=statistics.fmean(rows),
        p50_ms=percentile(times, 0.50) / 1e6,
        p99_ms=percentile(times, 0.99) / 1e6,
        max_ms=times[-1] / 1e6,
        mean_ms=statistics.fmean(times) / 1e6,
    )


def prepare_statistics(url: str, analyze: bool) -> str:
    """Bring a PostgreSQL repository's planner statistics up to date; says what was done."""
    repo = Repository.open(url)
    try:
        if repo.dialect != "postgresql":
            return "no ANALYZE (SQLite: capture gathers no planner statistics)"
        with repo.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            row = conn.exec_driver_sql(
                "SELECT last_autoanalyze FROM pg_stat_user_tables WHERE relname = 'units'"
            ).first()
            auto = row[0] if row else None
            before = (
                f"auto-analyze had run on units at {auto:%H:%M:%S}"
                if auto
                else "auto-analyze had not yet run on units"
            )
            if not analyze:
                return f"no ANALYZE (--no-analyze); {before}"
            t0 = time.perf_counter()
            conn.exec_driver_sql("ANALYZE")
            took = time.perf_counter() - t0
        return f"ANALYZE before the queries ({took:.1f} s); {before}"
    finally:
        repo.engine.dispose()


def run_queries(
    url: str,
    *,
    seed: int,
    pallets: int,
    contents_calls: int,
    history_calls: int,
) -> dict[str, Latency]:
    """Time pallet contents and unit history on the repository at ``url``."""
    rng = random.Random(seed)
    repo = Repository.open(url)
    try:
        with repo.read() as conn:
            shipped = [str(k) for (k,) in conn.exec_driver_sql(_PALLETS_SQL)]
            if not shipped:
                raise ValueError(f"{repo.display_url} holds no shipped pallet of cases to query")
            chosen = rng.sample(shipped, min(pallets, len(shipped)))
            unit_keys = [str(k) for (k,) in conn.exec_driver_sql(_UNITS_SQL)]
            if not unit_keys:
                raise ValueError(f"{repo.display_url} holds no serialised unit to query")
            # Distinct units when there are enough, otherwise drawn with replacement; the
            # warm-up uses other units than the measured ones where possible.
            wanted = history_calls + WARMUP
            if len(unit_keys) >= wanted:
                drawn = rng.sample(unit_keys, wanted)
            else:
                drawn = rng.choices(unit_keys, k=wanted)
            del unit_keys
            warm, units = drawn[:WARMUP], drawn[WARMUP:]
            return {
                "pallet_contents": _measure(
                    "pallet contents",
                    queries.contents,
                    conn,
                    chosen,
                    contents_calls,
                    chosen[:WARMUP],
                ),
                "unit_history": _measure(
                    "unit history", queries.unit_history, conn, units, history_calls, warm
                ),
            }
    finally:
        repo.engine.dispose()
