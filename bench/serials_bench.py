"""Serial pool benchmark: what allocating a million serials costs (issue: ≤ 5 s on
SQLite; PostgreSQL reported), and what keeping the serials in the log costs.

Per engine and run, on a fresh repository (one admin) with a pool of the default
alphabet and length sized for 100 million serials:

* ``allocate 1M (empty pool)`` — ``app.serials.allocate`` of 1,000,000 serials with
  ``--out FILE.csv``: the draw (``secrets``), the set-based check against the pool, the
  ``serials.allocation`` record holding every serial, its projection rows, the line's
  CSV — the command without its process start-up;
* ``allocate 1M (pool holding 2M)`` — the same, third in a row: the uniqueness check
  and the inserts now meet two million rows of the GTIN;
* ``rebuild (3M serials)`` — ``rebuild`` of the repository after the three allocations:
  what the serials in the log cost a replay (restore, ``rebuild --check``);
* the allocation record's size in the log.

Usage: ``.venv/bin/python bench/serials_bench.py [--count 1000000] [--repeat 3]
[--engines sqlite,postgresql] [--pg-server URL]``; prints a Markdown table of medians
(and min–max) for BENCHMARKS.md. PostgreSQL uses a database of its own
(``sv_bench_serials``), created and dropped.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import csv_choice, positive
from targets import DEFAULT_PG_SERVER, PgTarget, SqliteTarget, pg_server

from serialvault.app.identity import create_account
from serialvault.app.serials import allocate, create_pool
from serialvault.identity.auth import authenticate, login
from serialvault.settings import Settings
from serialvault.store.integrity import rebuild
from serialvault.store.repository import Repository

GTIN = "00307420101127"
PASSWORD = "benchmark-serials-secret"
LIMIT_S = 5.0


def _repository(url: str, home: Path) -> Settings:
    repo = Repository.open(url, must_exist=False)
    repo.init("ada")
    create_account(
        repo,
        "ada",
        user_id="ada",
        name="Ada Admin",
        roles=["admin"],
        password=PASSWORD,
        reason="bench",
    )
    login(repo, home, "ada", PASSWORD)
    settings = Settings(db=url, home=home)
    create_pool(settings, url, GTIN, expected=100_000_000)
    return settings


def _run(url: str, tmp: Path, count: int) -> dict[str, float]:
    home = tmp / f"home-{time.monotonic_ns()}"
    settings = _repository(url, home)
    out: dict[str, float] = {}
    times = []
    for i in range(3):
        t0 = time.perf_counter()
        done = allocate(settings, url, GTIN, count, to=f"line-{i}", out=[tmp / f"a{i}.csv"])
        times.append(time.perf_counter() - t0)
    out["allocate (empty pool)"] = times[0]
    out["allocate (pool holding 2x)"] = times[2]
    repo = Repository.open(url)
    with repo.read() as conn:
        size = conn.exec_driver_sql(
            f"SELECT length(body) FROM log WHERE seq = {int(done.seq)}"
        ).scalar_one()
    out["record MB"] = int(size) / 1e6
    who = authenticate(repo, home)
    t0 = time.perf_counter()
    rebuild(repo, actor=who.actor)
    out["rebuild (3 allocations)"] = time.perf_counter() - t0
    repo.engine.dispose()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(prog="bench/serials_bench.py", description=__doc__)
    ap.add_argument("--count", type=positive, default=1_000_000)
    ap.add_argument("--repeat", type=positive, default=3)
    ap.add_argument(
        "--engines", type=csv_choice(("sqlite", "postgresql")), default=["sqlite", "postgresql"]
    )
    ap.add_argument("--pg-server", default=DEFAULT_PG_SERVER)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sv-serialsbench-"))
    results: dict[str, dict[str, list[float]]] = {}
    for engine in args.engines:
        rows: dict[str, list[float]] = {}
        for r in range(args.repeat):
            target: Any = (
                SqliteTarget(tmp / "serials.db")
                if engine == "sqlite"
                else PgTarget(pg_server(args.pg_server), "sv_bench_serials")
            )
            target.reset()
            try:
                for k, v in _run(target.url, tmp, args.count).items():
                    rows.setdefault(k, []).append(v)
            finally:
                target.drop()
            print(f"[serials] {engine} run {r + 1} done", file=sys.stderr, flush=True)
        results[engine] = rows
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"serial pool benchmark: {args.count:,} serials per allocation, {args.repeat} runs"
        f" per engine, {when}, load average {load}"
    )
    print("| engine | measure | median | min–max | target |")
    print("| --- | --- | --- | --- | --- |")
    for engine, rows in results.items():
        for name, vals in rows.items():
            med = statistics.median(vals)
            unit = "" if name.endswith("MB") else " s"
            goal = ""
            if name.startswith("allocate") and engine == "sqlite":
                goal = "≤ 5 s: " + ("yes" if med <= LIMIT_S else "**no**")
            print(
                f"| {engine} | {name} | {med:.2f}{unit} | {min(vals):.2f}–{max(vals):.2f}{unit}"
                f" | {goal} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
