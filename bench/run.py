"""``make bench``: capture throughput, peak memory and query latencies of serialvault.

Measures what the issue sets targets for, on the reference workload (a pharmaceutical
packaging site, ``serialvault.demo.generator``), on each engine:

1. **capture** — ``serialvault capture DIR --db URL --json`` in a child process into a
   fresh repository, ``--repeat`` times: wall time, units/s, EPC references/s, events/s;
   against a **peer** in the same run: a raw bulk insert of the same ``units`` rows into
   the same engine (``peer.py``);
2. **memory** — the capture child's peak RSS (``rusage_run.py``);
3. **queries** — pallet contents and unit history latencies (p50/p99/max) on the
   captured repository (``query_bench.py``).

Prints a Markdown report (medians of the runs, and every run) and writes the same
numbers to ``<out>/results-<timestamp>.json`` (and ``.md``). Exit code 0 when every
step ran (with ``--fail-on-miss``: 3 when a target is missed), 1 when a step failed.

Run it from the project's virtualenv: ``.venv/bin/python bench/run.py --units 24000``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from capture_bench import BenchError, CaptureRun, display_command, run_capture
from common import bench_main, csv_choice, logger, median_of, positive
from peer import PeerRun, index_signature, raw_insert, read_unit_rows
from query_bench import WARMUP, prepare_statistics, run_queries
from report_md import render
from targets import DEFAULT_PG_SERVER, PgTarget, SqliteTarget, Target, pg_server, pg_version
from workload import Workload, ensure_workload

from serialvault import __version__

RESULTS_FORMAT = "serialvault.bench.results/1"
log = logger("bench")
BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
ENGINES = ("sqlite", "postgresql")
SECTIONS = ("capture", "queries", "memory")
RSS_METHOD = (
    "`bench/rusage_run.py`, a fresh wrapper process per run whose only child is the capture"
    " command: the exact peak of the largest process is `ru_maxrss` of"
    " `getrusage(RUSAGE_CHILDREN)`; the process-tree sums are sampled every 0.1 s from"
    " `/proc/<pid>/smaps_rollup` (RSS sum counts pages shared with a forked worker in each"
    " process; PSS splits them). Peak = the larger of the exact largest-process peak and"
    " the tree RSS sum"
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Benchmark serialvault capture, memory and queries on SQLite and PostgreSQL.",
    )
    p.add_argument("--units", type=positive, default=1_000_000, help="site size (units)")
    p.add_argument("--seed", type=int, default=1, help="workload seed (default 1)")
    p.add_argument(
        "--engines", type=csv_choice(ENGINES), default=list(ENGINES), help="sqlite,postgresql"
    )
    p.add_argument("--repeat", type=positive, default=3, help="runs per measurement")
    p.add_argument("--out", type=Path, default=BENCH_DIR / "out", help="workload cache and results")
    p.add_argument(
        "--only", type=csv_choice(SECTIONS), default=list(SECTIONS), help="capture,queries,memory"
    )
    p.add_argument(
        "--pg-url",
        default=os.environ.get("SERIALVAULT_BENCH_PG", DEFAULT_PG_SERVER),
        help="PostgreSQL server (postgresql://user@host:port)",
    )
    p.add_argument(
        "--pg-db", default="sv_bench", help="database to create and drop (plus <name>_raw)"
    )
    p.add_argument("--pallets", type=positive, default=200, help="pallets to query")
    p.add_argument("--contents-calls", type=positive, default=1000)
    p.add_argument("--history-calls", type=positive, default=10_000)
    p.add_argument(
        "--profile",
        action="store_true",
        help="also capture once in-process under pyinstrument and report where time goes",
    )
    p.add_argument(
        "--no-analyze",
        action="store_true",
        help="query PostgreSQL without running ANALYZE first (as captured)",
    )
    p.add_argument("--keep-db", action="store_true", help="keep the databases afterwards")
    p.add_argument("--fail-on-miss", action="store_true", help="exit 3 when a target is missed")
    return p.parse_args(argv)


# ------------------------------------------------------------------------- machine
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def _commit() -> str:
    # Read-only git calls; GIT_OPTIONAL_LOCKS=0 so they never take the index lock.
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "diff", "--quiet", "HEAD", "--", "src"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            check=False,
            env=env,
        ).returncode
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + (" + uncommitted changes in src/" if dirty else "")


def machine_info(engines: list[str], server: str) -> dict[str, Any]:
    postgresql = "not used"
    if "postgresql" in engines:
        try:
            postgresql = pg_version(server)
        except psycopg.Error as exc:
            raise BenchError(f"PostgreSQL at {server} is not reachable: {exc}") from None
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count() or 0,
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gib": _memory_gib(),
        "load_average": list(os.getloadavg()),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgresql,
        "serialvault": __version__,
        "commit": _commit(),
    }


# ------------------------------------------------------------------------- steps
def _targets_for(engine: str, args: argparse.Namespace, workdir: Path) -> tuple[Target, Target]:
    if engine == "sqlite":
        return (
            SqliteTarget(workdir / f"capture-{args.units}.db"),
            SqliteTarget(workdir / f"raw-units-{args.units}.db"),
        )
    server = pg_server(args.pg_url)
    return PgTarget(server, args.pg_db), PgTarget(server, f"{args.pg_db}_raw")


def bench_capture(
    target: Target, peer_target: Target, workload: Workload, args: argparse.Namespace
) -> dict[str, Any]:
    """Capture runs (and, when capture is selected, the peer's runs interleaved)."""
    with_peer = "capture" in args.only
    runs: list[CaptureRun] = []
    peer_runs: list[PeerRun] = []
    rows: list[tuple[Any, ...]] | None = None
    signatures: tuple[list[str], list[str]] | None = None
    for r in range(1, args.repeat + 1):
        log(f"{target.engine}: capture run {r}/{args.repeat}")
        run = run_capture(target, workload, r)
        log(
            f"{target.engine}: capture run {r}: {run.wall_s:.2f} s,"
            f" {run.epc_references / run.wall_s:,.0f} EPC refs/s,"
            f" peak RSS {run.peak_memory_kib / 1024:,.0f} MiB ({run.processes} processes)"
        )
        runs.append(run)
        if not with_peer:
            continue
        if rows is None:
            rows = read_unit_rows(target.url)
        log(f"{target.engine}: raw insert run {r}/{args.repeat} ({len(rows):,} rows)")
        peer = raw_insert(peer_target, rows, r)
        if signatures is None:
            signatures = (index_signature(target.url), index_signature(peer_target.url))
        peer_target.drop()
        log(f"{target.engine}: raw insert run {r}: {peer.rows / peer.seconds:,.0f} rows/s")
        peer_runs.append(peer)
    del rows
    cap_rows = [r.to_dict() for r in runs]
    capture: dict[str, Any] = {
        "command": display_command(workload, target),
        "rss_method": RSS_METHOD,
        "runs": cap_rows,
        "median": median_of(
            cap_rows,
            [
                "wall_s",
                "units_per_s",
                "epcs_per_s",
                "events_per_s",
                "peak_rss_mib",
                "largest_process_rss_mib",
                "tree_rss_mib",
                "tree_pss_mib",
                "cpu_s",
                "library_s",
                "init_s",
                "db_mib",
            ],
        ),
    }
    out: dict[str, Any] = {"capture": capture}
    if peer_runs and signatures is not None:
        peer_rows = [p.to_dict() for p in peer_runs]
        median = median_of(peer_rows, ["seconds", "rows_per_s"])
        out["peer"] = {
            "method": peer_runs[0].method,
            "settings": peer_runs[0].settings,
            "rows": peer_runs[0].rows,
            "runs": peer_rows,
            "median": median,
            "ratio": capture["median"]["units_per_s"] / median["rows_per_s"],
            "capture_indexes": signatures[0],
            "peer_indexes": signatures[1],
            "same_definition": signatures[0] == signatures[1],
        }
    return out


def bench_queries(
    target: Target, workload: Workload, args: argparse.Namespace, captured: bool
) -> dict[str, Any]:
    if captured:
        where = "the repository of the last capture run"
    else:
        log(f"{target.engine}: capturing once (not measured) for the queries")
        run_capture(target, workload, 0)
        where = "a repository captured for the queries (capture not measured in this run)"
    statistics_note = prepare_statistics(target.url, analyze=not args.no_analyze)
    log(f"{target.engine}: {statistics_note}")
    runs: list[dict[str, Any]] = []
    for r in range(1, args.repeat + 1):
        log(f"{target.engine}: query run {r}/{args.repeat}")
        lat = run_queries(
            target.url,
            seed=args.seed * 1000 + r,
            pallets=args.pallets,
            contents_calls=args.contents_calls,
            history_calls=args.history_calls,
        )
        runs.append({k: v.to_dict() for k, v in lat.items()})
        log(
            f"{target.engine}: query run {r}: contents p99"
            f" {lat['pallet_contents'].p99_ms:.3f} ms, history p99"
            f" {lat['unit_history'].p99_ms:.3f} ms"
        )
    median = {
        name: median_of([run[name] for run in runs], ["p50_ms", "p99_ms", "max_ms", "mean_ms"])
        for name in ("pallet_contents", "unit_history")
    }
    return {
        "repository": f"{where}, `{target.display}`",
        "statistics": statistics_note,
        "runs": runs,
        "median": median,
    }


# ------------------------------------------------------------------------- targets
def evaluate_targets(engines: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets, each with what was measured and pass/miss."""
    out: list[dict[str, Any]] = []

    def add(target: str, engine: str, measured: float, goal: float, op: str, unit: str) -> None:
        ok = {">=": measured >= goal, "<=": measured <= goal, "<": measured < goal}[op]
        digits = 3 if unit in ("ms", "×") else 0
        symbol = {">=": "≥", "<=": "≤", "<": "<"}[op]
        out.append(
            {
                "target": target,
                "engine": engine,
                "measured": measured,
                "goal": goal,
                "op": op,
                "unit": unit,
                "measured_text": f"{measured:,.{digits}f} {unit}",
                "goal_text": f"{symbol} {goal:,.{digits}f} {unit}",
                "pass": ok,
            }
        )

    epc_goal = {"sqlite": 100_000.0, "postgresql": 50_000.0}
    for engine, data in engines.items():
        cap = data.get("capture")
        if cap and "capture" in data["sections"]:
            add(
                "capture throughput",
                engine,
                cap["median"]["epcs_per_s"],
                epc_goal[engine],
                ">=",
                "EPC refs/s",
            )
        peer = data.get("peer")
        if peer and engine == "sqlite":
            add("capture vs raw insert (units/s ÷ rows/s)", engine, peer["ratio"], 0.5, ">=", "×")
        q = data.get("queries")
        if q:
            add(
                "pallet contents p99",
                engine,
                q["median"]["pallet_contents"]["p99_ms"],
                10.0,
                "<=",
                "ms",
            )
            add("unit history p99", engine, q["median"]["unit_history"]["p99_ms"], 2.0, "<=", "ms")
        if cap and "memory" in data["sections"]:
            add(
                "capture peak RSS",
                engine,
                max(r["peak_rss_mib"] for r in cap["runs"]),
                1024.0,
                "<",
                "MiB",
            )
    return out


# ------------------------------------------------------------------------- main
def run(args: argparse.Namespace) -> dict[str, Any]:
    out_dir: Path = args.out.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    workdir = out_dir / "db"
    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    results_file = out_dir / f"results-{stamp}.json"
    machine = machine_info(args.engines, pg_server(args.pg_url))
    workload = ensure_workload(out_dir, args.units, args.seed)
    log(
        f"workload {workload.folder}: {len(workload.files)} files, {workload.bytes:,} bytes,"
        f" {workload.epc_references:,} EPC references"
    )
    engines: dict[str, dict[str, Any]] = {}
    for engine in args.engines:
        target, peer_target = _targets_for(engine, args, workdir)
        data: dict[str, Any] = {"sections": list(args.only), "target": target.display}
        try:
            captured = False
            if "capture" in args.only or "memory" in args.only:
                data.update(bench_capture(target, peer_target, workload, args))
                captured = True
            if "queries" in args.only:
                data["queries"] = bench_queries(target, workload, args, captured)
            if args.profile:
                from profile_capture import profile_capture

                log(f"{engine}: profiling one capture (not measured)")
                data["profile"] = profile_capture(target, workload, out_dir)
        finally:
            if not args.keep_db:
                target.drop()
                peer_target.drop()
        engines[engine] = data
    machine["load_average_end"] = list(os.getloadavg())
    results: dict[str, Any] = {
        "format": RESULTS_FORMAT,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "results_file": str(results_file),
        "options": {
            "units": args.units,
            "seed": args.seed,
            "engines": args.engines,
            "repeat": args.repeat,
            "only": args.only,
            "pallets": args.pallets,
            "contents_calls": args.contents_calls,
            "history_calls": args.history_calls,
            "warmup": WARMUP,
            "analyze": not args.no_analyze,
        },
        "machine": machine,
        "workload": workload.to_dict(),
        "engines": engines,
        "targets": evaluate_targets(engines),
    }
    results_file.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return results


def main(argv: list[str] | None = None) -> int:
    return bench_main("bench", parse_args(argv), run, render)


if __name__ == "__main__":
    sys.exit(main())
