"""Backup benchmark: full, incremental, restore, the machine's budget, and continuous mode.

Measures what the backup issue sets targets for, on the reference workload (the
pharmaceutical packaging site of ``serialvault.demo.generator``), on each engine, each
figure against a peer measured in the same run:

1. **full** — ``serialvault backup full --db URL --to file://DIR --json`` into a fresh
   folder: wall time, bytes stored, plain bytes; peer: ``sqlite3 SRC ".backup DST"`` then
   ``zstd -1 -T0`` (SQLite), ``pg_dump -Fc`` (PostgreSQL);
2. **incr** — after that full, the held-back ~1 % of the workload is captured and
   ``serialvault backup incr`` taken, with the state fingerprint (the default) and with
   ``--no-fingerprint``: time and size as fractions of the full's (targets ≤ 3 %, ≤ 2 %);
3. **restore** — ``serialvault restore --from file://DIR --backup FULL --into NEW --force
   --json`` of the full (every object, the chain and the fingerprint checked) into a
   fresh database;
   peer: a file copy plus ``PRAGMA integrity_check`` (SQLite), ``pg_restore -j2`` of the
   ``pg_dump`` file into a fresh database (PostgreSQL); target ≤ 1.5× the peer;
4. **budget** — this machine's compress + hash + encrypt + fsync'd write rate, measured
   in this process on the engine's own data (2 threads, 32 MiB chunks, zstd 3, SHA-256,
   AES-256-GCM), with raw primitives and with the product's ``Sealer`` and
   ``ObjectWriter``; target: the full backup's plain bytes/s ≥ 0.7× the budget;
5. **follow** — ``serialvault backup follow --interval 1s --json`` as a child while this
   process captures small documents at ≈ 40 events/s (≈ 1,000 EPCs/s); per-record lag
   = ``done_at`` of the shipment that carried the record − its ``recorded_at``; target
   p99 ≤ 1 s.

Every command runs as a child process, as a user runs it (so the wall time includes
interpreter start-up); the command's own ``duration_s`` / ``phases_s`` are recorded too.
Each repeat starts from a pristine copy of the repository captured once (the workload
less the held-back ~1 %). Prints a Markdown report (medians of ``--repeat`` runs, and every
run) and writes the same numbers to ``<out>/backup-results-<timestamp>.json`` (and
``.md``). Exit code 0 when every step ran (with ``--fail-on-miss``: 3 when a target is
missed), 1 when a step failed.

Usage: ``.venv/bin/python bench/backup_bench.py --units 200000 --repeat 3``
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import math
import os
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg
import sqlalchemy as sa
import zstandard
from capture_bench import (
    ACTOR,
    BENCH_HOME,
    BenchError,
    count_units,
    init_repository,
    serialvault_command,
)
from common import (
    ENGINE_NAMES,
    bench_main,
    cli_floor,
    csv_choice,
    logger,
    machine_table,
    make_keys,
    md_table,
    median_of,
    n,
    positive,
    sv,
    tail,
    targets_table,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg import sql
from run import machine_info
from targets import DEFAULT_PG_SERVER, PgTarget, SqliteTarget, Target, pg_server
from workload import Workload, ensure_workload

from serialvault.backup.crypto import EncryptionKey, Sealer, load_encryption_key, object_name
from serialvault.backup.objects import CopyState, ObjectWriter
from serialvault.backup.take import SNAPSHOT_CHUNK
from serialvault.backup.targets import FileTarget
from serialvault.demo.generator import SiteConfig, SiteGenerator
from serialvault.store import schema
from serialvault.store.capture import Capturer
from serialvault.store.export import PG_SNAPSHOT_TABLES
from serialvault.store.repository import Repository

log = logger("backup-bench")

RESULTS_FORMAT = "serialvault.bench.backup-results/1"
BENCH_DIR = Path(__file__).resolve().parent
ENGINES = ("sqlite", "postgresql")
SECTIONS = ("full", "incr", "restore", "budget", "follow")
PG_DB = "svbench_backup"
#: Share of the workload's units held back from the base capture for the incremental.
HELD_BACK = 0.01
#: Budget: how much of the engine's data is pushed through the pipeline, in what pieces.
BUDGET_BYTES = 512 << 20
BUDGET_CHUNK = SNAPSHOT_CHUNK
BUDGET_WORKERS = 2
BUDGET_LEVEL = 3
#: Continuous mode: the load generator's rate and document shape.
FOLLOW_EVENTS_PER_S = 40.0
FOLLOW_UNITS_PER_CASE = 42  # ≈ 25 EPC references per event with the site's other events
FOLLOW_MAX_EPCS = 50  # EPC references per document: ≈ 3 events, one document per case
FOLLOW_SSCC_START = 9_000_000_000  # clear of the workload's case and pallet serials
FOLLOW_INTERVAL = "1s"
#: Targets of the issue.
INCR_TIME_GOAL = 0.03
INCR_SIZE_GOAL = 0.02
RESTORE_GOAL = 1.5
BUDGET_GOAL = 0.7
LAG_GOAL_S = 1.0


# ------------------------------------------------------------------------- options
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/backup_bench.py",
        description="Benchmark serialvault backups (full, incremental, restore, budget,"
        " continuous mode) on SQLite and PostgreSQL against peers measured in the same run.",
    )
    p.add_argument("--units", type=positive, default=1_000_000, help="site size (units)")
    p.add_argument("--seed", type=int, default=1, help="workload seed (default 1)")
    p.add_argument(
        "--engines", type=csv_choice(ENGINES), default=list(ENGINES), help="sqlite,postgresql"
    )
    p.add_argument("--repeat", type=positive, default=3, help="runs per measurement")
    p.add_argument(
        "--sections",
        type=csv_choice(SECTIONS),
        default=list(SECTIONS),
        help="full,incr,restore,budget,follow",
    )
    p.add_argument(
        "--follow-seconds",
        type=positive,
        default=60,
        help="how long the load generator runs against the follower",
    )
    p.add_argument("--out", type=Path, default=BENCH_DIR / "out", help="workload cache and results")
    p.add_argument(
        "--pg-server",
        "--pg-url",
        dest="pg_server",
        default=os.environ.get("SERIALVAULT_BENCH_PG", DEFAULT_PG_SERVER),
        help="PostgreSQL server (postgresql://user@host:port)",
    )
    p.add_argument(
        "--keep", action="store_true", help="keep the databases and the work folder afterwards"
    )
    p.add_argument("--fail-on-miss", action="store_true", help="exit 3 when a target is missed")
    return p.parse_args(argv)


# ------------------------------------------------------------------------- helpers
def _pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..1) of a non-empty list."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(q * len(s)) - 1))]


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def _event_epcs(ev: dict[str, Any]) -> int:
    """EPC references of an event, counted as the generator counts them."""
    return (
        len(ev.get("epcList", [])) + len(ev.get("childEPCs", [])) + (1 if ev.get("parentID") else 0)
    )


def _event_units(ev: dict[str, Any]) -> int:
    """Units (SGTIN) an event commissions."""
    if ev.get("bizStep") != "commissioning":
        return 0
    return sum(1 for e in ev.get("epcList", []) if str(e).startswith("urn:epc:id:sgtin:"))


def check_tools(engines: list[str], sections: list[str]) -> dict[str, str]:
    """The peers' command-line tools, found on PATH, or a clear error naming the missing one."""
    needed: dict[str, str] = {}
    peer = {"full", "restore"} & set(sections)
    if "sqlite" in engines and peer:
        needed["sqlite3"] = "the SQLite peer (sqlite3 SRC '.backup DST'; apt-get install sqlite3)"
        needed["zstd"] = "the SQLite peer (zstd -1 -T0 of the .backup copy; apt-get install zstd)"
    if "postgresql" in engines and peer:
        needed["pg_dump"] = "the PostgreSQL peer (pg_dump -Fc; apt-get install postgresql-client)"
    if "postgresql" in engines and "restore" in sections:
        needed["pg_restore"] = (
            "the PostgreSQL restore peer (pg_restore -j2; apt-get install postgresql-client)"
        )
    found: dict[str, str] = {}
    for name, why in needed.items():
        path = shutil.which(name)
        if path is None:
            raise BenchError(f"`{name}` is not on PATH: it is needed for {why}")
        found[name] = path
    return found


def _tool_version(path: str) -> str:
    try:
        proc = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    except OSError:
        return "unknown"
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def run_tool(cmd: list[str], what: str, cwd: Path | None = None) -> float:
    """Run a peer's command; its wall time, or a :class:`BenchError` with its output."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, check=False, cwd=cwd)
    except FileNotFoundError:
        raise BenchError(f"{what}: `{cmd[0]}` was not found") from None
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise BenchError(
            f"{what}: `{shlex.join(cmd)}` failed (exit {proc.returncode}):"
            f" {tail(proc.stderr or proc.stdout)}"
        )
    return seconds


# ------------------------------------------------------------------------- workload split
@dataclass(frozen=True, slots=True)
class Split:
    """The workload in capture order, cut at an event boundary: base, then held back."""

    base_files: tuple[str, ...]
    held_files: tuple[str, ...]
    cut_file: str | None
    cut_event: int
    base_events: int
    held_events: int
    held_units: int
    held_epcs: int
    units_commissioned: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "base_files": len(self.base_files),
            "held_files": len(self.held_files),
            "cut_file": self.cut_file,
            "cut_event": self.cut_event,
            "base_events": self.base_events,
            "held_events": self.held_events,
            "held_units": self.held_units,
            "held_epcs": self.held_epcs,
            "held_unit_share": self.held_units / max(1, self.units_commissioned),
        }


def split_workload(w: Workload, folder: Path, fraction: float) -> Split:
    """Hold back the last events of the workload, ``fraction`` of its units (SGTIN
    commissioned): whole files from the end, and the tail of the file where the cut falls
    (written as two documents into ``folder``; the first keeps any header)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = sorted(w.files)
    goal = max(1, round(w.units_commissioned * fraction))
    held_units = held_events = held_epcs = 0
    k, j = len(names), 0
    doc: dict[str, Any] = {}
    while k > 0 and held_units < goal:
        k -= 1
        doc = orjson.loads((w.path / names[k]).read_bytes())
        events = doc["epcisBody"]["eventList"]
        j = len(events)
        while j > 0 and held_units < goal:
            j -= 1
            held_units += _event_units(events[j])
            held_events += 1
            held_epcs += _event_epcs(events[j])
    if k == 0 and j == 0:
        raise BenchError(f"the workload {w.folder} is too small to hold back {fraction:.0%}")
    base = [str(w.path / n) for n in names[:k]]
    held = [str(w.path / n) for n in names[k + 1 :]]
    cut_file: str | None = None
    events = doc["epcisBody"]["eventList"]
    if j == 0:  # the cut falls on a file boundary
        held.insert(0, str(w.path / names[k]))
    else:
        cut_file = names[k]
        stem = Path(names[k]).name.removesuffix(".jsonld")
        head = {**doc, "epcisBody": {"eventList": events[:j]}}
        tail = {key: v for key, v in doc.items() if key != "epcisHeader"}
        tail["epcisBody"] = {"eventList": events[j:]}
        head_path = folder / f"{stem}.head.jsonld"
        tail_path = folder / f"{stem}.tail.jsonld"
        head_path.write_bytes(orjson.dumps(head))
        tail_path.write_bytes(orjson.dumps(tail))
        base.append(str(head_path))
        held.insert(0, str(tail_path))
    return Split(
        base_files=tuple(base),
        held_files=tuple(held),
        cut_file=cut_file,
        cut_event=j,
        base_events=w.events - held_events,
        held_events=held_events,
        held_units=held_units,
        held_epcs=held_epcs,
        units_commissioned=w.units_commissioned,
    )


@dataclass(frozen=True, slots=True)
class LoadDoc:
    name: str
    data: bytes
    events: int
    epcs: int


def follow_documents(seconds: int, seed: int) -> list[LoadDoc]:
    """Small documents for the follower's load: one site's worth, enough for ``seconds`` at
    the target rate (and a margin); no header (the products are already recorded, with the
    workload's packaging), case and pallet serials clear of the workload's."""
    need = int(FOLLOW_EVENTS_PER_S * seconds * 1.25) + 100
    gen = SiteGenerator(
        SiteConfig(
            units=max(2000, need * 14),
            seed=seed,
            units_per_case=FOLLOW_UNITS_PER_CASE,
            max_epcs=FOLLOW_MAX_EPCS,
        )
    )
    gen.next_sscc = FOLLOW_SSCC_START
    docs: list[LoadDoc] = []
    for name, doc in gen.run():
        doc.pop("epcisHeader", None)
        events = doc["epcisBody"]["eventList"]
        docs.append(
            LoadDoc(
                f"follow-{name}",
                orjson.dumps(doc),
                len(events),
                sum(_event_epcs(e) for e in events),
            )
        )
    if sum(d.events for d in docs) < need * 0.8:  # pragma: no cover - generator changed
        raise BenchError("the follow load generator made fewer events than needed")
    return docs


# ------------------------------------------------------------------------- one engine
class EngineBench:
    """Every section on one engine: a base repository captured once, reset per repeat."""

    def __init__(
        self,
        engine: str,
        args: argparse.Namespace,
        workdir: Path,
        split: Split,
        keys: dict[str, str],
        load: list[LoadDoc] | None,
    ) -> None:
        self.engine = engine
        self.args = args
        self.sections: list[str] = args.sections
        self.split = split
        self.keys = keys
        self.load = load
        self.dir = workdir / engine
        self.cwd = workdir  # children run here: no stray serialvault.toml is picked up
        self.dir.mkdir(parents=True, exist_ok=True)
        self.base: Target
        self.work: Target
        self.restored: PgTarget | None = None
        self.peer_restored: PgTarget | None = None
        if engine == "sqlite":
            self.base = SqliteTarget(self.dir / "base.db")
            self.work = SqliteTarget(self.dir / "work.db")
        else:
            server = pg_server(args.pg_server)
            self.base = PgTarget(server, f"{PG_DB}_base")
            self.work = PgTarget(server, PG_DB)
            self.restored = PgTarget(server, f"{PG_DB}_restored")
            self.peer_restored = PgTarget(server, f"{PG_DB}_peer")

    # ------------------------------------------------------------------ repositories
    def setup(self) -> dict[str, Any]:
        """``init`` + ``capture`` of the base files into the pristine base repository."""
        log(f"{self.engine}: capturing the base ({len(self.split.base_files)} documents)")
        init_repository(self.base, self.split.base_files[0])
        seconds, out, _ = sv(
            [
                "capture",
                *self.split.base_files,
                "--db",
                self.base.url,
                "--json",
            ],
            self.cwd,
        )
        if out.get("rejected"):
            raise BenchError(f"capture of the base rejected documents: {out['rejected']}")
        if isinstance(self.base, SqliteTarget):
            con = sqlite3.connect(self.base.path)
            try:
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                con.close()
        kinds = count_units(self.base.url)
        head = self._head_seq(self.base.url)
        info: dict[str, Any] = {
            "repository": self.work.display,
            "base": self.base.display,
            "capture_s": seconds,
            "documents": len(out["captured"]),
            "events": sum(int(c["events"]) for c in out["captured"]),
            "sgtin": kinds.get("sgtin", 0),
            "sscc": kinds.get("sscc", 0),
            "log_records": head,
            "db_bytes": self.base.size_bytes(),
        }
        log(
            f"{self.engine}: base has {head:,} log records, {info['sgtin']:,} SGTIN,"
            f" {info['db_bytes'] / 2**20:,.1f} MiB (captured in {seconds:.1f} s)"
        )
        return info

    @staticmethod
    def _head_seq(url: str) -> int:
        repo = Repository.open(url)
        try:
            return repo.head().seq
        finally:
            repo.engine.dispose()

    def reset_work(self) -> None:
        """The working repository back to the base (the held-back part not captured)."""
        if isinstance(self.work, SqliteTarget) and isinstance(self.base, SqliteTarget):
            self.work.reset()
            shutil.copyfile(self.base.path, self.work.path)
        elif isinstance(self.work, PgTarget) and isinstance(self.base, PgTarget):
            with psycopg.connect(
                f"{pg_server(self.args.pg_server)}/postgres", autocommit=True
            ) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(self.work.name)
                    )
                )
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                        sql.Identifier(self.work.name), sql.Identifier(self.base.name)
                    )
                )
                conn.execute("CHECKPOINT")
        os.sync()  # the copy's writes are not left to slow down what is measured next

    def drop_all(self) -> None:
        for t in (self.work, self.base, self.restored, self.peer_restored):
            if t is not None:
                t.drop()

    # ------------------------------------------------------------------ one repeat
    def repeat(self, r: int) -> dict[str, Any]:
        rdir = self.dir / f"r{r}"
        shutil.rmtree(rdir, ignore_errors=True)
        rdir.mkdir(parents=True)
        self.reset_work()
        # each repeat is a fresh site: the reset repository must not meet the checkpoints
        # the previous repeat's backups left in its witness (it would be a truncation)
        os.environ["SERIALVAULT_WITNESS"] = str(rdir / "witness")
        out: dict[str, Any] = {}
        full_dir = rdir / "full"
        peer = {"full", "restore"} & set(self.sections)
        ours_first = r % 2 == 1  # alternate which goes first, so neither always gets warm caches
        steps: list[Callable[[], None]] = [lambda: out.update(full=self.ours_full(full_dir))]
        if peer:
            steps.append(lambda: out.update(peer_full=self.peer_full(rdir)))
        for step in steps if ours_first else reversed(steps):
            step()
        full = out["full"]
        if peer:
            p = out["peer_full"]
            full.update(
                peer_s=p["seconds"],
                peer_bytes=p["bytes"],
                peer_steps=p["steps"],
                time_ratio=full["wall_s"] / p["seconds"],
                size_ratio=full["copy_bytes"] / p["bytes"],
            )
        log(
            f"{self.engine} r{r}: full {full['wall_s']:.2f} s (command {full['duration_s']:.2f} s),"
            f" {full['copy_bytes']:,} bytes"
            + (f"; peer {full['peer_s']:.2f} s, {full['peer_bytes']:,} bytes" if peer else "")
        )
        follow_copy = full_dir
        if "incr" in self.sections:
            out["incr"] = self.incr(rdir, full_dir, full, ours_first)
            follow_copy = rdir / "incr-fp"
        if "restore" in self.sections:
            out["restore"] = self.restore(rdir, full_dir, full["id"], ours_first)
        if "follow" in self.sections and self.load is not None:
            out["follow"] = self.follow(rdir, follow_copy, r)
        if not self.args.keep:
            shutil.rmtree(rdir, ignore_errors=True)
        return out

    # ------------------------------------------------------------------ full
    def ours_full(self, folder: Path) -> dict[str, Any]:
        wall, doc, _ = sv(
            ["backup", "full", "--db", self.work.url, "--to", folder.as_uri(), "--json"],
            self.cwd,
        )
        if not doc.get("ok") or doc.get("type") != "full":
            raise BenchError(f"backup full did not report a full backup: {doc}")
        return {
            "wall_s": wall,
            "duration_s": float(doc["duration_s"]),
            "bytes_stored": int(doc["bytes_stored"]),
            "bytes_plain": int(doc["bytes_plain"]),
            "copy_bytes": _folder_bytes(folder),
            "objects": int(doc["objects"]),
            "records": int(doc["records"]),
            "plain_mb_per_s": int(doc["bytes_plain"]) / wall / 1e6,
            "plain_mb_per_s_command": int(doc["bytes_plain"]) / float(doc["duration_s"]) / 1e6,
            "fingerprint": doc["fingerprint"],
            "id": doc["id"],
        }

    def peer_full(self, rdir: Path) -> dict[str, Any]:
        if isinstance(self.work, SqliteTarget):
            copy = rdir / "peer.db"
            t1 = run_tool(
                ["sqlite3", str(self.work.path), f".backup '{copy}'"], "SQLite peer backup"
            )
            t2 = run_tool(["zstd", "-1", "-T0", "-q", str(copy)], "SQLite peer compression")
            zst = Path(f"{copy}.zst")
            return {
                "seconds": t1 + t2,
                "bytes": zst.stat().st_size,
                "steps": {"sqlite3_backup_s": t1, "zstd_s": t2, "plain_bytes": copy.stat().st_size},
            }
        dump = rdir / "peer.dump"
        t = run_tool(
            ["pg_dump", "-Fc", "-f", str(dump), "-d", self.work.url], "PostgreSQL peer backup"
        )
        return {"seconds": t, "bytes": dump.stat().st_size, "steps": {"pg_dump_s": t}}

    # ------------------------------------------------------------------ incremental
    def incr(
        self, rdir: Path, full_dir: Path, full: dict[str, Any], ours_first: bool
    ) -> dict[str, Any]:
        fp_dir, nofp_dir = rdir / "incr-fp", rdir / "incr-nofp"
        shutil.copytree(full_dir, fp_dir)
        shutil.copytree(full_dir, nofp_dir)
        before = self._head_seq(self.work.url)
        held_s, out, _ = sv(
            ["capture", *self.split.held_files, "--db", self.work.url, "--json"],
            self.cwd,
        )
        if out.get("rejected"):
            raise BenchError(f"capture of the held-back part rejected documents: {out['rejected']}")
        held_records = self._head_seq(self.work.url) - before
        runs: dict[str, dict[str, Any]] = {}

        def one(kind: str, folder: Path, extra: list[str]) -> None:
            size0 = _folder_bytes(folder)
            wall, doc, _ = sv(
                [
                    "backup",
                    "incr",
                    "--db",
                    self.work.url,
                    "--to",
                    folder.as_uri(),
                    *extra,
                    "--json",
                ],
                self.cwd,
            )
            if isinstance(doc, list):
                doc = doc[0]
            if not doc.get("ok") or doc.get("type") != "incr":
                raise BenchError(f"backup incr did not report an incremental: {doc}")
            runs[kind] = {
                "wall_s": wall,
                "duration_s": float(doc["duration_s"]),
                "bytes_stored": int(doc["bytes_stored"]),
                "copy_bytes": _folder_bytes(folder) - size0,
                "records": int(doc["records"]),
                "fingerprint": doc["fingerprint"],
            }

        order = [("fp", fp_dir, ["--fingerprint"]), ("nofp", nofp_dir, ["--no-fingerprint"])]
        for kind, folder, extra in order if ours_first else reversed(order):
            one(kind, folder, extra)
        row: dict[str, Any] = {
            "held_capture_s": held_s,
            "held_records": held_records,
            "full_wall_s": full["wall_s"],
            "full_duration_s": full["duration_s"],
            "full_copy_bytes": full["copy_bytes"],
        }
        for kind, res in runs.items():
            row.update({f"{kind}_{k}": v for k, v in res.items()})
            row[f"{kind}_time_frac"] = res["wall_s"] / full["wall_s"]
            row[f"{kind}_time_frac_command"] = res["duration_s"] / full["duration_s"]
            row[f"{kind}_size_frac"] = res["copy_bytes"] / full["copy_bytes"]
        row["fingerprint_s"] = runs["fp"]["duration_s"] - runs["nofp"]["duration_s"]
        if runs["fp"]["records"] != held_records or not runs["fp"]["fingerprint"]:
            raise BenchError(
                f"the incremental carried {runs['fp']['records']} records, {held_records} were"
                " captured (or it has no fingerprint)"
            )
        log(
            f"{self.engine}: incr {runs['fp']['wall_s']:.2f} s"
            f" ({row['fp_time_frac']:.1%} of the full), --no-fingerprint"
            f" {runs['nofp']['wall_s']:.2f} s ({row['nofp_time_frac']:.1%}),"
            f" {runs['fp']['copy_bytes']:,} bytes ({row['fp_size_frac']:.2%})"
        )
        return row

    # ------------------------------------------------------------------ restore
    def restore(self, rdir: Path, full_dir: Path, full_id: str, ours_first: bool) -> dict[str, Any]:
        res: dict[str, Any] = {}

        def ours() -> None:
            if self.restored is not None:
                self.restored.reset()
                into = self.restored.url
            else:
                into = str(rdir / "restored.db")
            wall, doc, _ = sv(
                # this full, named: the witness knows of the incrementals taken after it (on
                # the other folders), so restore would otherwise refuse the older point
                [
                    "restore",
                    "--from",
                    full_dir.as_uri(),
                    "--backup",
                    full_id,
                    "--into",
                    into,
                    "--force",
                    "--json",
                    # the restoring admin, checked against the accounts in the backup
                    "--as",
                    ACTOR,
                    "--password-file",
                    str(BENCH_HOME / "password.txt"),
                ],
                self.cwd,
            )
            if not doc.get("ok") or doc.get("fingerprint") != doc.get(
                "fingerprint_checked_against"
            ):
                raise BenchError(f"restore did not check out: {doc}")
            res.update(
                wall_s=wall,
                total_s=float(doc["total_s"]),
                phases_s={k: float(v) for k, v in doc["phases_s"].items()},
                head_seq=int(doc["head_seq"]),
                objects=int(doc["plan"]["objects"]),
                fingerprint=doc["fingerprint"],
            )
            if self.restored is not None:
                self.restored.drop()
            else:
                SqliteTarget(rdir / "restored.db").drop()

        def peer() -> None:
            if self.peer_restored is not None:
                self.peer_restored.reset()
                t = run_tool(
                    [
                        "pg_restore",
                        "-j2",
                        "-d",
                        self.peer_restored.url,
                        str(rdir / "peer.dump"),
                    ],
                    "PostgreSQL peer restore",
                )
                res.update(peer_s=t, peer_steps={"pg_restore_s": t})
                self.peer_restored.drop()
                return
            src, dst = rdir / "peer.db", rdir / "peer-restored.db"
            t0 = time.perf_counter()
            shutil.copyfile(src, dst)
            t1 = time.perf_counter()
            con = sqlite3.connect(dst)
            try:
                row = con.execute("PRAGMA integrity_check").fetchone()
            finally:
                con.close()
            t2 = time.perf_counter()
            if not row or row[0] != "ok":
                raise BenchError(f"SQLite peer restore: integrity_check says {row}")
            res.update(peer_s=t2 - t0, peer_steps={"copy_s": t1 - t0, "integrity_check_s": t2 - t1})
            dst.unlink()

        steps: list[Callable[[], None]] = [ours, peer]
        for step in steps if ours_first else reversed(steps):
            step()
        res["ratio"] = res["wall_s"] / res["peer_s"]
        res["ratio_command"] = res["total_s"] / res["peer_s"]
        res["outside_phases_s"] = res["wall_s"] - res["total_s"]
        phases = ", ".join(f"{k} {v:.2f}" for k, v in res["phases_s"].items())
        log(
            f"{self.engine}: restore {res['wall_s']:.2f} s ({phases}); peer"
            f" {res['peer_s']:.2f} s: {res['ratio']:.2f}×"
        )
        return res

    # ------------------------------------------------------------------ follow
    def follow(self, rdir: Path, copy: Path, r: int) -> dict[str, Any]:
        assert self.load is not None
        status = rdir / "follow-status.json"
        out_path, err_path = rdir / "follow.jsonl", rdir / "follow.err"
        cmd = [
            *serialvault_command(),
            "backup",
            "follow",
            "--db",
            self.work.url,
            "--to",
            copy.as_uri(),
            "--interval",
            FOLLOW_INTERVAL,
            "--json",
            "--status",
            str(status),
        ]
        repo = Repository.open(self.work.url)
        try:
            start_seq = repo.head().seq
            with out_path.open("wb") as out_fh, err_path.open("wb") as err_fh:
                proc = subprocess.Popen(cmd, cwd=self.cwd, stdout=out_fh, stderr=err_fh)
                try:
                    self._wait_ready(proc, status, err_path)
                    load = self._generate_load(repo, self.load, self.args.follow_seconds)
                    time.sleep(2.0)  # let the last records ship on their own deadline
                    proc.send_signal(signal.SIGTERM)
                    code = proc.wait(timeout=120)
                finally:
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
            end_seq = repo.head().seq
            with repo.read() as conn:
                rows = conn.execute(
                    sa.select(schema.log.c.seq, schema.log.c.recorded_at)
                    .where(schema.log.c.seq > start_seq)
                    .order_by(schema.log.c.seq)
                ).all()
        finally:
            repo.engine.dispose()
        if code != 0:
            raise BenchError(
                f"`serialvault backup follow` exited {code}: {tail(err_path.read_bytes())}"
            )
        lines = [json.loads(x) for x in out_path.read_text(encoding="utf-8").splitlines() if x]
        ships = sorted(
            (e for e in lines if e.get("event") == "shipment" and e.get("copies")),
            key=lambda e: int(e["seq"]["first"]),
        )
        errors = [e for e in lines if e.get("event") == "copy-error"]
        firsts = [int(e["seq"]["first"]) for e in ships]
        lags: list[float] = []
        unshipped = 0
        for row in rows:
            seq, recorded_at = int(str(row[0])), str(row[1])
            i = bisect.bisect_right(firsts, seq) - 1
            if i < 0 or int(ships[i]["seq"]["last"]) < seq:
                unshipped += 1
                continue
            lags.append(_epoch(ships[i]["done_at"]) - _epoch(recorded_at))
        incrs = [e for e in ships if e.get("type") == "incr"]
        if not lags:
            raise BenchError(f"the follower shipped none of the {len(rows)} new records")
        res = {
            **load,
            "records": len(rows),
            "records_expected": end_seq - start_seq,
            "shipments": len(incrs),
            "fulls": len(ships) - len(incrs),
            "records_per_shipment": len(rows) / max(1, len(incrs)),
            "bytes_stored": sum(int(e["bytes_stored"]) for e in incrs),
            "unshipped": unshipped,
            "copy_errors": len(errors),
            "lag_p50_s": _pct(lags, 0.50),
            "lag_p99_s": _pct(lags, 0.99),
            "lag_max_s": max(lags),
            "lag_mean_s": statistics.fmean(lags),
            "shipment_duration_p50_s": _pct([float(e["duration_s"]) for e in incrs], 0.5)
            if incrs
            else None,
            "shipment_duration_max_s": max((float(e["duration_s"]) for e in incrs), default=None),
        }
        log(
            f"{self.engine} r{r}: follow {res['events_per_s']:.1f} events/s,"
            f" {res['epcs_per_s']:,.0f} EPCs/s, {res['records']:,} records in"
            f" {res['shipments']} shipments; lag p50 {res['lag_p50_s']:.3f} s,"
            f" p99 {res['lag_p99_s']:.3f} s, max {res['lag_max_s']:.3f} s"
            + (f", {unshipped} NOT SHIPPED" if unshipped else "")
        )
        return res

    @staticmethod
    def _wait_ready(proc: subprocess.Popen[bytes], status: Path, err_path: Path) -> None:
        """Until the follower has found the copy's newest backup (its status file says so)."""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BenchError(
                    f"`serialvault backup follow` exited {proc.returncode} before it was ready:"
                    f" {tail(err_path.read_bytes())}"
                )
            try:
                st = json.loads(status.read_text(encoding="utf-8"))
                if st["copies"] and all(c.get("newest_backup") for c in st["copies"]):
                    return
            except (OSError, ValueError, KeyError, TypeError):
                pass
            time.sleep(0.05)
        raise BenchError("`serialvault backup follow` was not ready after 300 s")

    @staticmethod
    def _generate_load(repo: Repository, docs: list[LoadDoc], seconds: int) -> dict[str, Any]:
        """Capture ``docs`` in order, paced to ``FOLLOW_EVENTS_PER_S``, for ``seconds``."""
        capturer = Capturer(repo, actor=ACTOR, reason="backup benchmark load")
        latencies: list[float] = []
        events = epcs = n = 0
        t0 = time.perf_counter()
        end = t0
        for d in docs:
            due = t0 + events / FOLLOW_EVENTS_PER_S
            now = time.perf_counter()
            if due - t0 >= seconds:
                break
            if due > now:
                time.sleep(due - now)
            c0 = time.perf_counter()
            try:
                capturer.capture_bytes(d.data, d.name)
            except Exception as exc:
                raise BenchError(f"load generator: capture of {d.name} failed: {exc}") from None
            end = time.perf_counter()
            latencies.append(end - c0)
            events += d.events
            epcs += d.epcs
            n += 1
        else:
            raise BenchError("the follow load generator ran out of documents")
        elapsed = end - t0
        return {
            "seconds": elapsed,
            "documents": n,
            "events": events,
            "epcs": epcs,
            "events_per_s": events / elapsed,
            "epcs_per_s": epcs / elapsed,
            "epcs_per_event": epcs / max(1, events),
            "capture_p50_ms": _pct(latencies, 0.5) * 1000,
            "capture_p99_ms": _pct(latencies, 0.99) * 1000,
        }

    # ------------------------------------------------------------------ budget
    def budget_input(self) -> tuple[list[bytes], str]:
        """Up to ``BUDGET_BYTES`` of what a full backup of this engine seals, in chunks."""
        chunks: list[bytes] = []
        if isinstance(self.base, SqliteTarget):
            with self.base.path.open("rb") as fh:
                while sum(map(len, chunks)) < BUDGET_BYTES:
                    piece = fh.read(min(BUDGET_CHUNK, BUDGET_BYTES - sum(map(len, chunks))))
                    if not piece:
                        break
                    chunks.append(piece)
            return chunks, "the first bytes of the SQLite database file"
        total = 0
        buf = bytearray()
        with psycopg.connect(self.base.url) as conn:
            for table in PG_SNAPSHOT_TABLES:
                with (
                    conn.cursor() as cur,
                    cur.copy(f"COPY {table} TO STDOUT (FORMAT binary)") as cp,
                ):
                    for data in cp:
                        buf += data
                        if len(buf) >= BUDGET_CHUNK:
                            chunks.append(bytes(buf[:BUDGET_CHUNK]))
                            del buf[:BUDGET_CHUNK]
                            total += BUDGET_CHUNK
                            if total >= BUDGET_BYTES:
                                break
                if total >= BUDGET_BYTES:
                    break
        if buf and total < BUDGET_BYTES:
            chunks.append(bytes(buf))
        return chunks, "COPY … TO STDOUT (FORMAT binary) of the snapshot tables, in table order"

    def budget(self, full_runs: list[dict[str, Any]]) -> dict[str, Any]:
        chunks, what = self.budget_input()
        plain = sum(map(len, chunks))
        folder = self.dir / "budget"
        key = load_encryption_key(self.keys["encryption_key"])
        variants: list[tuple[str, Callable[[list[bytes], Path, bytes], tuple[float, int]]]] = [
            ("raw", _budget_raw),
            ("sealer", _budget_sealer),
            ("writer", _budget_writer),
        ]
        for _, fn in variants:  # warm-up, not measured: thread pools, compressors, buffers
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            fn(chunks[:1], folder, key.key)
        runs: list[dict[str, Any]] = []
        for r in range(1, self.args.repeat + 1):
            row: dict[str, Any] = {"run": r}
            for name, fn in variants:
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir(parents=True)
                seconds, stored = fn(chunks, folder, key.key)
                row[f"{name}_s"] = seconds
                row[f"{name}_mb_per_s"] = plain / seconds / 1e6
                row[f"{name}_stored_bytes"] = stored
            shutil.rmtree(folder, ignore_errors=True)
            runs.append(row)
            log(
                f"{self.engine}: budget run {r}: raw {row['raw_mb_per_s']:,.0f} MB/s,"
                f" Sealer {row['sealer_mb_per_s']:,.0f} MB/s, ObjectWriter"
                f" {row['writer_mb_per_s']:,.0f} MB/s"
            )
        median = median_of(
            runs,
            [
                "raw_s",
                "raw_mb_per_s",
                "sealer_s",
                "sealer_mb_per_s",
                "writer_s",
                "writer_mb_per_s",
                "raw_stored_bytes",
            ],
        )
        out: dict[str, Any] = {
            "input": what,
            "input_bytes": plain,
            "chunks": len(chunks),
            "chunk_bytes": BUDGET_CHUNK,
            "workers": BUDGET_WORKERS,
            "zstd_level": BUDGET_LEVEL,
            "compression_ratio": median["raw_stored_bytes"] / plain,
            "runs": runs,
            "median": median,
        }
        if full_runs:
            ours = statistics.median(x["plain_mb_per_s"] for x in full_runs)
            ours_cmd = statistics.median(x["plain_mb_per_s_command"] for x in full_runs)
            out.update(
                ours_mb_per_s=ours,
                ours_mb_per_s_command=ours_cmd,
                ratio=ours / median["raw_mb_per_s"],
                ratio_command=ours_cmd / median["raw_mb_per_s"],
                ratio_writer=ours / median["writer_mb_per_s"],
            )
        return out

    # ------------------------------------------------------------------ all of it
    def run(self) -> dict[str, Any]:
        data: dict[str, Any] = {"sections": self.sections, "setup": self.setup()}
        repeats: list[dict[str, Any]] = []
        for r in range(1, self.args.repeat + 1):  # every section needs the full backups
            log(f"{self.engine}: repeat {r}/{self.args.repeat}")
            repeats.append(self.repeat(r))
        full_runs = [{"run": i + 1, **x["full"]} for i, x in enumerate(repeats)]
        if "full" in self.sections:
            data["full"] = _section(
                full_runs,
                [
                    "wall_s",
                    "duration_s",
                    "bytes_stored",
                    "copy_bytes",
                    "bytes_plain",
                    "plain_mb_per_s",
                    "plain_mb_per_s_command",
                    "peer_s",
                    "peer_bytes",
                    "time_ratio",
                    "size_ratio",
                ],
            )
            data["full"]["peer"] = (
                'sqlite3 SRC ".backup DST" then zstd -1 -T0 DST (time of both, size of .zst)'
                if self.engine == "sqlite"
                else "pg_dump -Fc -f FILE"
            )
        if "incr" in self.sections:
            data["incr"] = _section(
                [{"run": i + 1, **x["incr"]} for i, x in enumerate(repeats)],
                [
                    "held_records",
                    "held_capture_s",
                    "fp_wall_s",
                    "fp_duration_s",
                    "fp_copy_bytes",
                    "fp_time_frac",
                    "fp_time_frac_command",
                    "fp_size_frac",
                    "nofp_wall_s",
                    "nofp_duration_s",
                    "nofp_copy_bytes",
                    "nofp_time_frac",
                    "nofp_time_frac_command",
                    "nofp_size_frac",
                    "fingerprint_s",
                    "full_wall_s",
                    "full_duration_s",
                    "full_copy_bytes",
                ],
            )
        if "restore" in self.sections:
            rows = [{"run": i + 1, **x["restore"]} for i, x in enumerate(repeats)]
            for row in rows:
                row.update({f"phase_{k}_s": v for k, v in row["phases_s"].items()})
            phase_keys = sorted(
                {k for row in rows for k in row if k.startswith("phase_")}, key=_phase_order
            )
            for row in rows:
                for k in phase_keys:
                    row.setdefault(k, 0.0)
            data["restore"] = _section(
                rows,
                [
                    "wall_s",
                    "total_s",
                    *phase_keys,
                    "outside_phases_s",
                    "peer_s",
                    "ratio",
                    "ratio_command",
                ],
            )
            data["restore"]["peer"] = (
                "copy of the peer's .backup file + PRAGMA integrity_check"
                if self.engine == "sqlite"
                else "pg_restore -j2 -d NEWDB FILE (the pg_dump file, into a fresh database)"
            )
        if "budget" in self.sections:
            log(f"{self.engine}: measuring the compress + hash + encrypt + write budget")
            data["budget"] = self.budget(full_runs)
        if "follow" in self.sections:
            data["follow"] = _section(
                [{"run": i + 1, **x["follow"]} for i, x in enumerate(repeats)],
                [
                    "seconds",
                    "documents",
                    "events",
                    "epcs",
                    "events_per_s",
                    "epcs_per_s",
                    "epcs_per_event",
                    "capture_p50_ms",
                    "capture_p99_ms",
                    "records",
                    "shipments",
                    "records_per_shipment",
                    "bytes_stored",
                    "unshipped",
                    "lag_p50_s",
                    "lag_p99_s",
                    "lag_max_s",
                    "shipment_duration_p50_s",
                    "shipment_duration_max_s",
                ],
            )
        return data


def _phase_order(key: str) -> tuple[int, str]:
    """Restore phases in the order they run (``phase_<name>_s`` keys)."""
    name = key.removeprefix("phase_").removesuffix("_s")
    order = ("fetch", "verify", "load", "replay", "check")
    return (order.index(name) if name in order else len(order), name)


def _section(rows: list[dict[str, Any]], keys: list[str]) -> dict[str, Any]:
    return {"runs": rows, "median": median_of(rows, keys)}


# ------------------------------------------------------------------------- budget bodies
def _write_synced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _budget_raw(chunks: list[bytes], folder: Path, key: bytes) -> tuple[float, int]:
    """zstd, SHA-256 of the frame, AES-256-GCM of the frame, write + fsync; 2 threads."""
    aead = AESGCM(key)
    local = threading.local()

    def one(i: int) -> int:
        zc = getattr(local, "zc", None)
        if zc is None:
            zc = local.zc = zstandard.ZstdCompressor(level=BUDGET_LEVEL)
        frame = zc.compress(chunks[i])
        hashlib.sha256(frame).hexdigest()
        nonce = os.urandom(12)
        sealed = aead.encrypt(nonce, frame, None)
        _write_synced(folder / f"raw-{i}", nonce + sealed)
        return len(frame)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(BUDGET_WORKERS) as pool:
        stored = sum(pool.map(one, range(len(chunks))))
    return time.perf_counter() - t0, stored


def _budget_sealer(chunks: list[bytes], folder: Path, key: bytes) -> tuple[float, int]:
    """The product's ``Sealer.seal`` + ``object_name``, write + fsync; 2 threads."""
    sealer = Sealer(EncryptionKey(key, "budget"), BUDGET_LEVEL)

    def one(i: int) -> int:
        stored = sealer.seal(chunks[i])
        _write_synced(folder / object_name(stored), stored)
        return len(stored)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(BUDGET_WORKERS) as pool:
        stored = sum(pool.map(one, range(len(chunks))))
    return time.perf_counter() - t0, stored


def _budget_writer(chunks: list[bytes], folder: Path, key: bytes) -> tuple[float, int]:
    """The product's ``ObjectWriter`` (Sealer, 2 workers) to a ``file://`` target."""
    sealer = Sealer(EncryptionKey(key, "budget"), BUDGET_LEVEL)
    t0 = time.perf_counter()
    writer = ObjectWriter(sealer, [CopyState("budget", FileTarget(folder))])
    for i, c in enumerate(chunks):
        writer.add(c, kind="snapshot", part=f"file:{i}")
    refs = writer.finish()
    return time.perf_counter() - t0, sum(r.size for r in refs)


# ------------------------------------------------------------------------- targets
def evaluate_targets(engines: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(target: str, engine: str, measured: float, goal: float, op: str, unit: str) -> None:
        ok = measured <= goal if op == "<=" else measured >= goal
        symbol = "≤" if op == "<=" else "≥"
        if unit == "%":
            m_text, g_text = f"{measured * 100:.2f} %", f"{symbol} {goal * 100:.0f} %"
        elif unit == "×":
            m_text, g_text = f"{measured:.2f}×", f"{symbol} {goal:.2f}×"
        else:
            m_text, g_text = f"{measured:.3f} {unit}", f"{symbol} {goal:.3f} {unit}"
        out.append(
            {
                "target": target,
                "engine": engine,
                "measured": measured,
                "goal": goal,
                "op": op,
                "unit": unit,
                "measured_text": m_text,
                "goal_text": g_text,
                "pass": ok,
            }
        )

    for engine, data in engines.items():
        inc = data.get("incr")
        if inc:
            m = inc["median"]
            add(
                "incr time ÷ full time (wall)", engine, m["fp_time_frac"], INCR_TIME_GOAL, "<=", "%"
            )
            add(
                "incr time ÷ full time (commands' duration_s)",
                engine,
                m["fp_time_frac_command"],
                INCR_TIME_GOAL,
                "<=",
                "%",
            )
            add(
                "incr --no-fingerprint time ÷ full time (wall)",
                engine,
                m["nofp_time_frac"],
                INCR_TIME_GOAL,
                "<=",
                "%",
            )
            add(
                "incr --no-fingerprint time ÷ full time (duration_s)",
                engine,
                m["nofp_time_frac_command"],
                INCR_TIME_GOAL,
                "<=",
                "%",
            )
            add("incr size ÷ full size", engine, m["fp_size_frac"], INCR_SIZE_GOAL, "<=", "%")
        res = data.get("restore")
        if res:
            add(
                "restore time ÷ peer's (wall)",
                engine,
                res["median"]["ratio"],
                RESTORE_GOAL,
                "<=",
                "×",
            )
        bud = data.get("budget")
        if bud and "ratio" in bud:
            add(
                "full backup plain MB/s ÷ budget (wall)",
                engine,
                bud["ratio"],
                BUDGET_GOAL,
                ">=",
                "×",
            )
        fol = data.get("follow")
        if fol:
            add(
                "follow per-record lag p99",
                engine,
                fol["median"]["lag_p99_s"],
                LAG_GOAL_S,
                "<=",
                "s",
            )
    return out


# ------------------------------------------------------------------------- Markdown
def _metric_rows(
    engine: str, sec: dict[str, Any], metrics: list[tuple[str, str, int, float]]
) -> list[list[str]]:
    """[engine, label, median, runs] for each (label, key, digits, scale) present."""
    rows = []
    for label, key, digits, scale in metrics:
        if key not in sec["median"]:
            continue
        runs = " / ".join(n(float(r[key]) * scale, digits) for r in sec["runs"])
        rows.append([ENGINE_NAMES[engine], label, n(sec["median"][key] * scale, digits), runs])
    return rows


_FULL = [
    ("ours: wall time (s)", "wall_s", 2, 1.0),
    ("ours: command's duration_s", "duration_s", 2, 1.0),
    ("ours: bytes on the copy (objects + manifest)", "copy_bytes", 0, 1.0),
    ("ours: plain bytes (snapshot + log segments)", "bytes_plain", 0, 1.0),
    ("ours: plain MB/s (wall)", "plain_mb_per_s", 1, 1.0),
    ("peer: wall time (s)", "peer_s", 2, 1.0),
    ("peer: bytes", "peer_bytes", 0, 1.0),
    ("time ours ÷ peer", "time_ratio", 2, 1.0),
    ("size ours ÷ peer", "size_ratio", 2, 1.0),
]
_INCR = [
    ("held-back records captured", "held_records", 0, 1.0),
    ("full: wall time (s)", "full_wall_s", 2, 1.0),
    ("full: duration_s", "full_duration_s", 2, 1.0),
    ("full: bytes on the copy", "full_copy_bytes", 0, 1.0),
    ("incr: wall time (s)", "fp_wall_s", 3, 1.0),
    ("incr: duration_s", "fp_duration_s", 3, 1.0),
    ("incr: bytes added to the copy", "fp_copy_bytes", 0, 1.0),
    ("incr: time ÷ full, wall (%)", "fp_time_frac", 2, 100.0),
    ("incr: time ÷ full, duration_s (%)", "fp_time_frac_command", 2, 100.0),
    ("incr: size ÷ full (%)", "fp_size_frac", 3, 100.0),
    ("incr --no-fingerprint: wall time (s)", "nofp_wall_s", 3, 1.0),
    ("incr --no-fingerprint: duration_s", "nofp_duration_s", 3, 1.0),
    ("incr --no-fingerprint: time ÷ full, wall (%)", "nofp_time_frac", 2, 100.0),
    ("incr --no-fingerprint: time ÷ full, duration_s (%)", "nofp_time_frac_command", 2, 100.0),
    ("fingerprint (duration_s difference, s)", "fingerprint_s", 3, 1.0),
]
_FOLLOW = [
    ("load: seconds", "seconds", 1, 1.0),
    ("load: events/s achieved", "events_per_s", 1, 1.0),
    ("load: EPCs/s achieved", "epcs_per_s", 0, 1.0),
    ("load: EPCs per event", "epcs_per_event", 1, 1.0),
    ("load: documents", "documents", 0, 1.0),
    ("load: capture p50 (ms)", "capture_p50_ms", 1, 1.0),
    ("load: capture p99 (ms)", "capture_p99_ms", 1, 1.0),
    ("log records shipped", "records", 0, 1.0),
    ("records not shipped", "unshipped", 0, 1.0),
    ("incremental shipments", "shipments", 0, 1.0),
    ("records per shipment", "records_per_shipment", 1, 1.0),
    ("bytes shipped", "bytes_stored", 0, 1.0),
    ("shipment duration p50 (s)", "shipment_duration_p50_s", 3, 1.0),
    ("shipment duration max (s)", "shipment_duration_max_s", 3, 1.0),
    ("per-record lag p50 (s)", "lag_p50_s", 3, 1.0),
    ("per-record lag p99 (s)", "lag_p99_s", 3, 1.0),
    ("per-record lag max (s)", "lag_max_s", 3, 1.0),
]


def render(results: dict[str, Any]) -> str:
    o = results["options"]
    m = results["machine"]
    w = results["workload"]
    engines: dict[str, dict[str, Any]] = results["engines"]
    lines = [
        "# serialvault backup benchmark",
        "",
        f"Started {results['started_at']}, finished {results['finished_at']}. Options: units"
        f" {n(o['units'])}, seed {o['seed']}, engines {', '.join(o['engines'])}, repeat"
        f" {o['repeat']}, sections {', '.join(o['sections'])}, follow {o['follow_seconds']} s."
        " Medians of the runs; every run is listed (run 1 / run 2 / …).",
        "",
        "## Machine",
        "",
        *machine_table(m),
        "",
        "## Workload",
        "",
    ]
    sp = results["split"]
    lines += md_table(
        ["measure", "value"],
        [
            ["folder", f"`{w['folder']}`"],
            ["units commissioned (SGTIN)", n(w["units_commissioned"])],
            [
                "files / events / EPC references",
                f"{w['files']} / {n(w['events'])} / {n(w['epc_references'])}",
            ],
            [
                "held back for the incremental",
                f"{n(sp['held_units'])} units ({sp['held_unit_share']:.2%}),"
                f" {n(sp['held_events'])} events, {n(sp['held_epcs'])} EPC references"
                + (
                    f" (cut in {sp['cut_file']} at event {sp['cut_event']})"
                    if sp["cut_file"]
                    else ""
                ),
            ],
        ],
    )
    lines += [
        "",
        "Base repository (captured once per engine, reset from a pristine copy per run):",
        "",
    ]
    setup_rows = []
    for engine, data in engines.items():
        s = data["setup"]
        setup_rows.append(
            [
                ENGINE_NAMES[engine],
                n(s["sgtin"]),
                n(s["sscc"]),
                n(s["log_records"]),
                f"{s['db_bytes'] / 2**20:,.1f}",
                f"{s['capture_s']:.1f}",
            ]
        )
    lines += md_table(
        ["engine", "SGTIN", "SSCC", "log records", "database MiB", "capture s"], setup_rows
    )

    targets = results["targets"]
    if targets:
        lines += ["", "## Targets", ""]
        lines += targets_table(targets)

    def section(title: str, key: str, metrics: list[tuple[str, str, int, float]]) -> list[str]:
        rows: list[list[str]] = []
        for engine, data in engines.items():
            if key in data:
                rows += _metric_rows(engine, data[key], metrics)
        if not rows:
            return []
        return ["", f"## {title}", "", *md_table(["engine", "metric", "median", "runs"], rows)]

    lines += section("Full backup", "full", _FULL)
    peers = [f"{ENGINE_NAMES[e]}: {d['full']['peer']}" for e, d in engines.items() if "full" in d]
    if peers:
        lines += ["", "Peer — " + "; ".join(peers) + ". Ours is zstd 3 + AES-256-GCM, signed."]
    lines += section("Incremental backup (≈ 1 % of the units, after the full)", "incr", _INCR)

    restore_metrics: list[tuple[str, str, int, float]] = [
        ("ours: wall time (s)", "wall_s", 2, 1.0),
        ("ours: total_s (sum of phases)", "total_s", 2, 1.0),
    ]
    phase_keys = sorted(
        {
            k
            for d in engines.values()
            if "restore" in d
            for k in d["restore"]["median"]
            if k.startswith("phase_")
        },
        key=_phase_order,
    )
    for k in phase_keys:
        restore_metrics.append((f"ours: phase {k[6:-2]} (s)", k, 3, 1.0))
    restore_metrics += [
        (
            "ours: outside the phases (start-up, plan, ANALYZE…; wall − total_s)",
            "outside_phases_s",
            2,
            1.0,
        ),
        ("peer: wall time (s)", "peer_s", 2, 1.0),
        ("ours ÷ peer (wall)", "ratio", 2, 1.0),
        ("ours ÷ peer (total_s)", "ratio_command", 2, 1.0),
    ]
    lines += section("Restore (of the full, into a fresh database)", "restore", restore_metrics)
    peers = [
        f"{ENGINE_NAMES[e]}: {d['restore']['peer']}" for e, d in engines.items() if "restore" in d
    ]
    if peers:
        lines += ["", "Peer — " + "; ".join(peers) + "."]

    brows: list[list[str]] = []
    for engine, data in engines.items():
        if "budget" not in data:
            continue
        b: dict[str, Any] = data["budget"]
        e = ENGINE_NAMES[engine]

        def runs(key: str, b: dict[str, Any] = b) -> str:
            return " / ".join(n(r[key], 0) for r in b["runs"])

        brows += [
            [e, "input", f"{b['input_bytes'] / 2**20:,.0f} MiB: {b['input']}", ""],
            [e, "compressed ÷ plain (zstd 3)", f"{b['compression_ratio']:.3f}", ""],
            [
                e,
                "budget, raw primitives (MB/s)",
                n(b["median"]["raw_mb_per_s"]),
                runs("raw_mb_per_s"),
            ],
            [
                e,
                "budget, Sealer.seal + object_name (MB/s)",
                n(b["median"]["sealer_mb_per_s"]),
                runs("sealer_mb_per_s"),
            ],
            [
                e,
                "budget, ObjectWriter → file:// (MB/s)",
                n(b["median"]["writer_mb_per_s"]),
                runs("writer_mb_per_s"),
            ],
        ]
        if "ratio" in b:
            brows += [
                [e, "ours: full backup plain MB/s (wall)", n(b["ours_mb_per_s"], 1), ""],
                [
                    e,
                    "ours: full backup plain MB/s (duration_s)",
                    n(b["ours_mb_per_s_command"], 1),
                    "",
                ],
                [e, "ours ÷ raw budget (wall)", f"{b['ratio']:.2f}", ""],
                [e, "ours ÷ raw budget (duration_s)", f"{b['ratio_command']:.2f}", ""],
                [e, "ours ÷ ObjectWriter budget (wall)", f"{b['ratio_writer']:.2f}", ""],
            ]
    if brows:
        lines += ["", "## Compress + hash + encrypt + write budget", ""]
        lines += md_table(["engine", "metric", "median", "runs"], brows)
        lines += [
            "",
            f"In this process, {BUDGET_WORKERS} threads, {BUDGET_CHUNK >> 20} MiB chunks held in"
            " memory, each compressed (zstd 3), hashed (SHA-256), encrypted (AES-256-GCM) and"
            " written to its own file with fsync. MB = 10^6 bytes of plain input.",
        ]
    lines += section(
        f"Continuous mode (follow --interval {FOLLOW_INTERVAL}, load ≈"
        f" {FOLLOW_EVENTS_PER_S:.0f} events/s)",
        "follow",
        _FOLLOW,
    )
    if any("follow" in d for d in engines.values()):
        lines += [
            "",
            "Per-record lag = `done_at` of the shipment that carried the record − the record's"
            " `recorded_at` (log table). The load is captured in this process, one document"
            " per case (≈ 3 events), paced to the event rate; the follower runs as a child and"
            " is stopped with SIGTERM 2 s after the last capture.",
        ]
    lines += [
        "",
        "## Method",
        "",
        "Every serialvault command runs as a child process (`… --json`), timed around the"
        " process (wall, including interpreter start-up) and with its own `duration_s` /"
        " `phases_s`. Each run starts from a pristine copy of the base repository (SQLite:"
        " file copy; PostgreSQL: `CREATE DATABASE … TEMPLATE`), then `os.sync()`; ours and the"
        " peer alternate which goes first. Backups are encrypted (keys from `serialvault keys"
        " generate`) and go to `file://` copies on the same disk as the database.",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------- main
def run(args: argparse.Namespace) -> dict[str, Any]:
    tools = check_tools(args.engines, args.sections)
    out_dir: Path = args.out.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    workdir = out_dir / "backup-work"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    # Children see no policy and no default database: the copies are named with --to, the
    # keys by SERIALVAULT_BACKUP_KEY / SERIALVAULT_SIGNING_KEY (set by make_keys).
    for var in (
        "SERIALVAULT_POLICY",
        "SERIALVAULT_DB",
        "SERIALVAULT_BACKUP_KEY",
        "SERIALVAULT_SIGNING_KEY",
    ):
        os.environ.pop(var, None)
    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    results_file = out_dir / f"backup-results-{stamp}.json"
    machine = machine_info(args.engines, pg_server(args.pg_server))
    machine["tools"] = {name: _tool_version(path) for name, path in tools.items()}
    machine["cli_floor_s"] = cli_floor(workdir)
    workload = ensure_workload(out_dir, args.units, args.seed)
    log(
        f"workload {workload.folder}: {len(workload.files)} files, {workload.bytes:,} bytes,"
        f" {workload.units_commissioned:,} units"
    )
    split = split_workload(workload, workdir / "split", HELD_BACK)
    log(
        f"held back {split.held_units:,} units ({split.held_events:,} events) in"
        f" {len(split.held_files)} documents for the incremental"
    )
    keys = make_keys(workdir / "keys", workdir)
    load = None
    if "follow" in args.sections:
        load = follow_documents(args.follow_seconds, args.seed + 1000)
    engines: dict[str, dict[str, Any]] = {}
    for engine in args.engines:
        bench = EngineBench(engine, args, workdir, split, keys, load)
        try:
            engines[engine] = bench.run()
        finally:
            if not args.keep:
                bench.drop_all()
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
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
            "sections": args.sections,
            "follow_seconds": args.follow_seconds,
            "follow_events_per_s": FOLLOW_EVENTS_PER_S,
            "follow_interval": FOLLOW_INTERVAL,
            "held_back": HELD_BACK,
        },
        "machine": machine,
        "workload": workload.to_dict(),
        "split": split.to_dict(),
        "engines": engines,
        "targets": evaluate_targets(engines),
    }
    results_file.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return results


def main(argv: list[str] | None = None) -> int:
    return bench_main("backup-bench", parse_args(argv), run, render)


if __name__ == "__main__":
    sys.exit(main())
