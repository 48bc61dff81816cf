"""Drill benchmark: backup/restore drills and reconciliation on the reference workload.

Measures what the drill issue sets targets for, on the reference workload (the
pharmaceutical packaging site of ``serialvault.demo.generator``), captured once into a
fresh repository per engine:

1. **drill** — ``serialvault drill new --scenario primary-loss`` writes a plan whose
   ``[restore] target`` is then pointed at a scratch database of the same engine (SQLite:
   a file in the work folder; PostgreSQL: a database ``svdbench_restore``, created empty
   before each run); ``serialvault drill run PLAN --db URL --to file://COPY --workdir RUNS
   --json`` runs ``--repeat`` times against the same copy. The first run also takes the
   full backup inside its ``backup`` phase (the later ones an incremental of the few
   records the drills themselves add): it is reported on its own, and the medians are
   taken over every run and over runs 2..N. From the command's JSON: ``verdict``,
   ``measured.rto_s`` (fault + restore + reconcile) and each phase's ``seconds``;
   targets: RTO ≤ 30 s (SQLite), ≤ 60 s (PostgreSQL), verdict pass;
2. **reconcile** — ``serialvault baseline --out B.json``, then ``serialvault reconcile
   --against B.json --json`` ``--repeat`` times: the command's ``seconds``, ``units``
   and ``units_per_s``, and the wall time around the process; target ≥ 250,000 units/s
   (the command's own figure);
3. **bad-change** — one drill of ``drill new --scenario bad-change`` with ``before_seq``
   = ``head_seq`` (``serialvault status --json``) − 100, restored into the same scratch
   database: its RTO and its ``expected state`` phase (the live log replayed to the
   recovery point), once, for information.

Every command runs as a child process, as a user runs it, from the work folder (no
stray ``serialvault.toml`` is picked up); the copy is a ``file://`` folder on the same
disk, encrypted and signed with keys from ``serialvault keys generate``. Prints a
Markdown report and writes the same numbers to ``<out>/drill-results-<timestamp>.json``
(and ``.md``). Exit code 0 when every step ran (with ``--fail-on-miss``: 3 when a target
is missed), 1 when a step failed.

Usage: ``.venv/bin/python bench/drill_bench.py --units 1000000 --repeat 3``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from capture_bench import BenchError, approve_drafts, count_units, init_repository
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
    targets_table,
)
from run import machine_info
from targets import DEFAULT_PG_SERVER, PgTarget, SqliteTarget, Target, pg_server
from workload import Workload, ensure_workload

log = logger("drill-bench")


RESULTS_FORMAT = "serialvault.bench.drill-results/1"
BENCH_DIR = Path(__file__).resolve().parent
ENGINES = ("sqlite", "postgresql")
SECTIONS = ("drill", "reconcile", "bad-change")
#: The databases this benchmark creates and drops on the PostgreSQL server.
PG_DB = "svdbench_drill"
PG_RESTORE_DB = "svdbench_restore"
#: The drill's phases, in the order they run.
PHASES = ("baseline", "backup", "fault", "expected state", "restore", "reconcile")
RESTORE_PHASES = ("fetch", "verify", "load", "replay", "check")
#: bad-change: the bad change is this many records before the head.
BAD_CHANGE_BACK = 100
#: Targets of the issue.
RTO_GOALS_S = {"sqlite": 30.0, "postgresql": 60.0}
RECONCILE_GOAL = 250_000.0
#: Exit codes of ``drill run`` that still print its result (pass, fail, inconclusive).
DRILL_CODES = (0, 8, 13)


# ------------------------------------------------------------------------- options
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/drill_bench.py",
        description="Benchmark serialvault backup/restore drills (primary-loss, bad-change)"
        " and reconciliation on SQLite and PostgreSQL.",
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
        help="drill,reconcile,bad-change",
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
def _toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML for these)."""
    return json.dumps(text, ensure_ascii=False)


def edit_plan(path: Path, edits: dict[tuple[str, str], str]) -> None:
    """Set ``key = value`` lines of a plan in place: ``edits[(table, key)]`` is the TOML
    value. The line must exist in that table (the template's line; its comment is kept)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    table = ""
    done: set[tuple[str, str]] = set()
    header = re.compile(r"^\s*\[([^\]]+)\]\s*(#.*)?$")
    for i, line in enumerate(lines):
        m = header.match(line)
        if m:
            table = m.group(1).strip()
            continue
        for (tbl, key), value in edits.items():
            km = re.match(rf"^(\s*){re.escape(key)}\s*=\s*(.*?)(\s+#.*)?$", line.rstrip("\n"))
            if tbl == table and km and (tbl, key) not in done:
                comment = km.group(3) or ""
                lines[i] = f"{km.group(1)}{key} = {value}{comment}\n"
                done.add((tbl, key))
    missing = [f"[{t}] {k}" for (t, k) in edits if (t, k) not in done]
    if missing:
        raise BenchError(f"{path}: no line {', '.join(missing)} to edit in the plan template")
    path.write_text("".join(lines), encoding="utf-8")


def _phase_seconds(doc: dict[str, Any]) -> dict[str, float]:
    """``phases[].seconds`` of a drill result by phase name (summed if a name repeats)."""
    out: dict[str, float] = {}
    for p in doc.get("phases", []):
        out[p["phase"]] = out.get(p["phase"], 0.0) + float(p["seconds"])
    return out


def _phase_key(name: str) -> str:
    return "phase_" + name.replace(" ", "_") + "_s"


# ------------------------------------------------------------------------- one engine
class EngineBench:
    """Every section on one engine: the workload captured once into a live repository,
    drills restoring into a scratch database of the same engine."""

    def __init__(
        self, engine: str, args: argparse.Namespace, workdir: Path, workload: Workload
    ) -> None:
        self.engine = engine
        self.args = args
        self.sections: list[str] = args.sections
        self.workload = workload
        self.dir = workdir / engine
        self.cwd = workdir  # children run here: no stray serialvault.toml is picked up
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.copy = self.dir / "copy"
        self.runs_dir = self.dir / "runs"
        self.live: Target
        self.scratch: Target
        if engine == "sqlite":
            self.live = SqliteTarget(self.dir / "live.db")
            self.scratch = SqliteTarget(self.dir / "restored.db")
        else:
            server = pg_server(args.pg_server)
            self.live = PgTarget(server, PG_DB)
            self.scratch = PgTarget(server, PG_RESTORE_DB)

    # ------------------------------------------------------------------ repository
    def setup(self) -> dict[str, Any]:
        """``init`` + ``capture`` of the whole workload into a fresh live repository."""
        log(f"{self.engine}: capturing the workload ({len(self.workload.files)} documents)")
        init_repository(self.live, self.workload.path / self.workload.files[0])
        seconds, out, _ = sv(
            [
                "capture",
                self.workload.folder,
                "--db",
                self.live.url,
                "--json",
            ],
            self.cwd,
        )
        if out.get("rejected"):
            raise BenchError(f"capture of the workload rejected documents: {out['rejected']}")
        if isinstance(self.live, SqliteTarget):
            con = sqlite3.connect(self.live.path)
            try:
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                con.close()
        kinds = count_units(self.live.url)
        head = self.head_seq()
        info: dict[str, Any] = {
            "repository": self.live.display,
            "restore_target": self.scratch.display,
            "copy": self.copy.as_uri(),
            "capture_s": seconds,
            "documents": len(out["captured"]),
            "events": sum(int(c["events"]) for c in out["captured"]),
            "sgtin": kinds.get("sgtin", 0),
            "sscc": kinds.get("sscc", 0),
            "log_records": head,
            "db_bytes": self.live.size_bytes(),
        }
        log(
            f"{self.engine}: {head:,} log records, {info['sgtin']:,} SGTIN,"
            f" {info['db_bytes'] / 2**20:,.1f} MiB (captured in {seconds:.1f} s)"
        )
        return info

    def head_seq(self) -> int:
        """``serialvault status --db URL --json``: its ``head_seq``."""
        _, doc, _ = sv(["status", "--db", self.live.url, "--json"], self.cwd)
        return int(doc["head_seq"])

    def reset_scratch(self) -> None:
        """The restore target empty (SQLite: no file; PostgreSQL: an empty database)."""
        self.scratch.reset()
        if isinstance(self.live, PgTarget):
            with psycopg.connect(
                f"{pg_server(self.args.pg_server)}/postgres", autocommit=True
            ) as conn:
                conn.execute("CHECKPOINT")
        os.sync()  # earlier writes are not left to slow down what is measured next

    def drop_all(self) -> None:
        for t in (self.scratch, self.live):
            try:
                t.drop()
            except psycopg.Error as exc:  # pragma: no cover - cleanup is best effort
                log(f"could not drop {t.display}: {exc}")

    # ------------------------------------------------------------------ plans
    def new_plan(self, scenario: str, path: Path) -> dict[str, Any]:
        _, doc, _ = sv(
            [
                "drill",
                "new",
                "--scenario",
                scenario,
                "--out",
                str(path),
                "--force",
                "--db",
                self.live.url,
                "--json",
            ],
            self.cwd,
        )
        return dict(doc)

    def point_plan(self, path: Path, extra: dict[tuple[str, str], str] | None = None) -> None:
        """The plan's restore target → the scratch database; checked with ``drill validate``."""
        edits = {("restore", "target"): _toml_string(self.scratch.url), **(extra or {})}
        edit_plan(path, edits)
        _, doc, _ = sv(["drill", "validate", str(path), "--json"], self.cwd)
        if doc.get("restore_target") != self.scratch.url:
            raise BenchError(
                f"{path}: the plan restores into {doc.get('restore_target')!r} after the edit,"
                f" not {self.scratch.url!r}"
            )
        # change control: the drafted template, then the edited text, each approved by
        # the benchmark's second person before a drill may run it
        approve_drafts(self.live.url)
        sv(
            [
                "drill",
                "record",
                str(path),
                "--db",
                self.live.url,
                "--reason",
                "benchmark",
                "--json",
            ],
            self.cwd,
        )
        approve_drafts(self.live.url)

    # ------------------------------------------------------------------ one drill
    def run_drill(self, plan: Path, label: str) -> dict[str, Any]:
        """``drill run PLAN`` into an empty scratch database; the figures of its JSON."""
        self.reset_scratch()
        wall, doc, code = sv(
            [
                "drill",
                "run",
                str(plan),
                "--db",
                self.live.url,
                "--to",
                self.copy.as_uri(),
                "--workdir",
                str(self.runs_dir),
                "--json",
            ],
            self.cwd,
            DRILL_CODES,
        )
        phases = _phase_seconds(doc)
        restore: dict[str, Any] = doc.get("restore") or {}
        rplan: dict[str, Any] = restore.get("plan") or {}
        measured = doc.get("measured") or {}
        row: dict[str, Any] = {
            "drill_id": doc.get("drill_id"),
            "exit_code": code,
            "verdict": doc.get("verdict"),
            "pass": 1.0 if doc.get("verdict") == "pass" else 0.0,
            "wall_s": wall,
            "rto_s": measured.get("rto_s"),
            "rpo_records": measured.get("rpo_records"),
            "rpo_s": measured.get("rpo_s"),
            "phases_total_s": sum(phases.values()),
            "outside_phases_s": wall - sum(phases.values()),
            "phases": {k: round(v, 3) for k, v in phases.items()},
            "restore_total_s": restore.get("total_s"),
            "restore_phases_s": restore.get("phases_s") or {},
            "restore_backups": rplan.get("backups") or [],
            "restore_objects": rplan.get("objects"),
            "restore_bytes": rplan.get("bytes"),
            "restore_snapshot": rplan.get("snapshot"),
            "replay_from_seq": rplan.get("replay_from_seq"),
            "point_seq": rplan.get("point_seq"),
            "restored_head_seq": restore.get("head_seq"),
            "baseline_head_seq": (doc.get("baseline") or {}).get("head_seq"),
            "units": (doc.get("baseline") or {}).get("units"),
            "reconcile_units_per_s": (doc.get("reconciliation") or {}).get("units_per_s"),
            "criteria": [
                {k: c[k] for k in ("criterion", "measured", "status")}
                for c in doc.get("criteria", [])
            ],
            "failed": [
                f"{c['criterion']}: {c['measured']}"
                for c in doc.get("criteria", [])
                if c.get("status") != "pass"
            ],
            "findings": list(doc.get("findings", [])),
            "phase_details": {
                p["phase"]: p["detail"] for p in doc.get("phases", []) if p.get("detail")
            },
        }
        for name, seconds in phases.items():
            row[_phase_key(name)] = seconds
        for name, seconds in row["restore_phases_s"].items():
            row[f"restore_{name}_s"] = float(seconds)
        shown = ", ".join(f"{k} {v:.2f}" for k, v in phases.items())
        rto = "-" if row["rto_s"] is None else f"{row['rto_s']:.2f} s"
        log(
            f"{self.engine} {label}: {row['verdict']} (exit {code}), RTO {rto},"
            f" wall {wall:.2f} s ({shown})"
            + (f"; not passed: {'; '.join(row['failed'])}" if row["failed"] else "")
        )
        if not self.args.keep and row["drill_id"]:
            shutil.rmtree(self.runs_dir / str(row["drill_id"]), ignore_errors=True)
        return row

    # ------------------------------------------------------------------ sections
    def drill(self) -> dict[str, Any]:
        plan = self.dir / "primary-loss.toml"
        self.new_plan("primary-loss", plan)
        self.point_plan(plan)
        shutil.rmtree(self.copy, ignore_errors=True)
        runs: list[dict[str, Any]] = []
        for r in range(1, self.args.repeat + 1):
            log(f"{self.engine}: primary-loss drill {r}/{self.args.repeat}")
            runs.append({"run": r, **self.run_drill(plan, f"drill r{r}")})
        keys = [
            "rto_s",
            "wall_s",
            "phases_total_s",
            "outside_phases_s",
            *(_phase_key(p) for p in PHASES),
            "restore_total_s",
            *(f"restore_{p}_s" for p in RESTORE_PHASES),
            "restore_objects",
            "restore_bytes",
            "pass",
        ]
        for row in runs:  # a phase a run did not have took no time in it
            for p in RESTORE_PHASES:
                row.setdefault(f"restore_{p}_s", 0.0)
        return {
            "plan": str(plan),
            "runs": runs,
            "median": median_of(runs, keys),
            "median_after_first": median_of(runs[1:], keys) if len(runs) > 1 else {},
            "first": runs[0],
            "passed": sum(1 for r in runs if r["verdict"] == "pass"),
        }

    def reconcile(self) -> dict[str, Any]:
        baseline = self.dir / "baseline.json"
        b_wall, b_doc, _ = sv(
            ["baseline", "--db", self.live.url, "--out", str(baseline), "--json"], self.cwd
        )
        log(
            f"{self.engine}: baseline at seq {b_doc['head_seq']:,}, {b_doc['units']:,} units"
            f" in {b_wall:.2f} s"
        )
        runs: list[dict[str, Any]] = []
        for r in range(1, self.args.repeat + 1):
            os.sync()
            wall, doc, code = sv(
                ["reconcile", "--db", self.live.url, "--against", str(baseline), "--json"],
                self.cwd,
                (0, 8),
            )
            seconds = float(doc["seconds"])
            units = int(doc["units"])
            row = {
                "run": r,
                "exit_code": code,
                "verdict": doc["verdict"],
                "head_seq": doc["head_seq"],
                "units": units,
                "seconds": seconds,
                "units_per_s": doc.get("units_per_s"),
                "wall_s": wall,
                "wall_units_per_s": units / wall,
                "outside_s": wall - seconds,
                "rules": {x["rule"]: x["status"] for x in doc.get("rules", [])},
                "not_passed": [
                    f"{x['rule']}: {x.get('message') or x['status']}"
                    for x in doc.get("rules", [])
                    if x["status"] != "pass"
                ],
            }
            runs.append(row)
            log(
                f"{self.engine}: reconcile r{r}: {row['verdict']}, {units:,} units in"
                f" {seconds:.3f} s ({row['units_per_s']:,} units/s), wall {wall:.2f} s"
                + (f"; not passed: {'; '.join(row['not_passed'])}" if row["not_passed"] else "")
            )
        return {
            "baseline": {
                "file": str(baseline),
                "wall_s": b_wall,
                "head_seq": b_doc["head_seq"],
                "units": b_doc["units"],
                "groups": b_doc["groups"],
            },
            "runs": runs,
            "median": median_of(
                runs,
                ["units", "seconds", "units_per_s", "wall_s", "wall_units_per_s", "outside_s"],
            ),
            "passed": sum(1 for r in runs if r["verdict"] == "pass"),
        }

    def bad_change(self) -> dict[str, Any]:
        plan = self.dir / "bad-change.toml"
        self.new_plan("bad-change", plan)
        head = self.head_seq()
        before = head - BAD_CHANGE_BACK
        if before < 2:
            raise BenchError(f"the repository has {head} records: too few for a bad change")
        self.point_plan(plan, {("scenario", "before_seq"): str(before)})
        log(f"{self.engine}: bad-change drill, before_seq {before:,} (head {head:,})")
        row = self.run_drill(plan, "bad-change")
        row.update(plan=str(plan), status_head_seq=head, before_seq=before)
        return row

    def run(self) -> dict[str, Any]:
        data: dict[str, Any] = {"setup": self.setup()}
        if "drill" in self.sections:
            data["drill"] = self.drill()
        if "reconcile" in self.sections:
            data["reconcile"] = self.reconcile()
        if "bad-change" in self.sections:
            data["bad_change"] = self.bad_change()
        return data


# ------------------------------------------------------------------------- targets
def evaluate_targets(engines: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(
        target: str, engine: str, measured: float, goal: float, op: str, m_text: str, g_text: str
    ) -> None:
        ok = measured <= goal if op == "<=" else measured >= goal
        out.append(
            {
                "target": target,
                "engine": engine,
                "measured": measured,
                "goal": goal,
                "op": op,
                "measured_text": m_text,
                "goal_text": g_text,
                "pass": ok,
            }
        )

    for engine, data in engines.items():
        d = data.get("drill")
        if d and "rto_s" in d["median"]:
            goal = RTO_GOALS_S[engine]
            rto = d["median"]["rto_s"]
            add("primary-loss drill RTO", engine, rto, goal, "<=", f"{rto:.2f} s", f"≤ {goal:g} s")
            n = len(d["runs"])
            add(
                "primary-loss drill verdict",
                engine,
                d["passed"],
                n,
                ">=",
                f"pass in {d['passed']} of {n} runs",
                f"pass in {n} of {n}",
            )
        rc = data.get("reconcile")
        if rc and "units_per_s" in rc["median"]:
            ups = rc["median"]["units_per_s"]
            add(
                "reconcile units/s (the command's own figure)",
                engine,
                ups,
                RECONCILE_GOAL,
                ">=",
                f"{ups:,.0f} units/s (wall: {rc['median']['wall_units_per_s']:,.0f})",
                f"≥ {RECONCILE_GOAL:,.0f} units/s",
            )
    return out


# ------------------------------------------------------------------------- Markdown
def _fmt(value: Any, digits: int) -> str:
    return "-" if value is None else n(float(value), digits)


def _drill_metrics() -> list[tuple[str, str, int]]:
    return [
        ("RTO, `measured.rto_s` (s)", "rto_s", 2),
        *((f"phase {p} (s)", _phase_key(p), 3) for p in PHASES),
        ("sum of the phases (s)", "phases_total_s", 2),
        ("wall time of `drill run` (s)", "wall_s", 2),
        ("outside the phases: start-up, plan, evidence (wall − phases, s)", "outside_phases_s", 2),
        ("restore: `total_s`", "restore_total_s", 3),
        *((f"restore: {p} (s)", f"restore_{p}_s", 3) for p in RESTORE_PHASES),
        ("restore: objects read", "restore_objects", 0),
        ("restore: bytes read", "restore_bytes", 0),
    ]


def render(results: dict[str, Any]) -> str:
    o = results["options"]
    m = results["machine"]
    w = results["workload"]
    engines: dict[str, dict[str, Any]] = results["engines"]
    lines = [
        "# serialvault drill benchmark",
        "",
        f"Started {results['started_at']}, finished {results['finished_at']}. Options: units"
        f" {n(o['units'])}, seed {o['seed']}, engines {', '.join(o['engines'])}, repeat"
        f" {o['repeat']}, sections {', '.join(o['sections'])}. Medians of the runs; every run"
        " is listed (run 1 / run 2 / …).",
        "",
        "## Machine",
        "",
        *machine_table(m),
        "",
        "## Workload",
        "",
        *md_table(
            ["measure", "value"],
            [
                ["folder", f"`{w['folder']}`"],
                ["units commissioned (SGTIN)", n(w["units_commissioned"])],
                [
                    "files / events / EPC references",
                    f"{w['files']} / {n(w['events'])} / {n(w['epc_references'])}",
                ],
            ],
        ),
        "",
        "Live repository (the whole workload captured once per engine; the drills add their"
        " own records to it):",
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

    drows: list[list[str]] = []
    for engine, data in engines.items():
        d = data.get("drill")
        if not d:
            continue
        e = ENGINE_NAMES[engine]
        first, rest, med = d["first"], d["median_after_first"], d["median"]
        drows.append(
            [
                e,
                "verdict",
                str(first["verdict"]),
                f"pass in {sum(1 for r in d['runs'][1:] if r['verdict'] == 'pass')}"
                f" of {len(d['runs']) - 1}"
                if len(d["runs"]) > 1
                else "-",
                f"pass in {d['passed']} of {len(d['runs'])}",
                " / ".join(str(r["verdict"]) for r in d["runs"]),
            ]
        )
        for label, key, digits in _drill_metrics():
            if key not in med:
                continue
            drows.append(
                [
                    e,
                    label,
                    _fmt(first.get(key), digits),
                    _fmt(rest.get(key), digits) if rest else "-",
                    _fmt(med[key], digits),
                    " / ".join(_fmt(r.get(key), digits) for r in d["runs"]),
                ]
            )
        chains = [len(r["restore_backups"]) for r in d["runs"]]
        drows.append(
            [
                e,
                "backups the restore read (full + incrementals)",
                str(chains[0]),
                n(statistics.median(chains[1:])) if len(chains) > 1 else "-",
                n(statistics.median(chains)),
                " / ".join(str(c) for c in chains),
            ]
        )
    if drows:
        lines += ["", "## Drill: primary-loss (restore into a scratch database)", ""]
        lines += md_table(
            [
                "engine",
                "metric",
                "run 1 (takes the full backup)",
                "median, runs 2..N",
                "median, all runs",
                "runs",
            ],
            drows,
        )
        lines += [
            "",
            "RTO = fault + restore + reconcile (the drill's own figure). The first run's"
            " `backup` phase is the full backup of the repository to the copy; the later"
            " runs' is an incremental of the records the previous drills added to the log"
            " (their run records), and their restore reads the full plus those incrementals."
            " A restore phase a run does not report (run 1 has nothing to replay after the"
            " snapshot) counts as 0.",
        ]

    rrows: list[list[str]] = []
    for engine, data in engines.items():
        rc = data.get("reconcile")
        if not rc:
            continue
        e = ENGINE_NAMES[engine]
        b = rc["baseline"]
        rrows.append(
            [
                e,
                "`baseline` wall time (s)",
                f"{b['wall_s']:.2f}",
                f"seq {n(b['head_seq'])}, {n(b['units'])} units, {b['groups']} groups",
            ]
        )
        rrows.append(
            [
                e,
                "verdict",
                f"pass in {rc['passed']} of {len(rc['runs'])}",
                " / ".join(r["verdict"] for r in rc["runs"]),
            ]
        )
        for label, key, digits in [
            ("units checked", "units", 0),
            ("command's `seconds`", "seconds", 3),
            ("command's `units_per_s`", "units_per_s", 0),
            ("wall time of `reconcile` (s)", "wall_s", 2),
            ("units / wall time", "wall_units_per_s", 0),
            ("outside the command's figure (wall − seconds)", "outside_s", 2),
        ]:
            if key in rc["median"]:
                rrows.append(
                    [
                        e,
                        label,
                        n(rc["median"][key], digits),
                        " / ".join(_fmt(r.get(key), digits) for r in rc["runs"]),
                    ]
                )
    if rrows:
        lines += ["", "## Reconcile against a baseline (R1, R2, R4, R5, R6)", ""]
        lines += md_table(["engine", "metric", "median", "runs"], rrows)

    brows: list[list[str]] = []
    for engine, data in engines.items():
        bc = data.get("bad_change")
        if not bc:
            continue
        e = ENGINE_NAMES[engine]
        brows += [
            [e, "verdict", f"{bc['verdict']} (exit {bc['exit_code']})"],
            [
                e,
                "bad change at seq (`before_seq`)",
                f"{n(bc['before_seq'])} (head {n(bc['status_head_seq'])} − {BAD_CHANGE_BACK})",
            ],
            [
                e,
                "restored to seq / records lost (by design)",
                f"{_fmt(bc['restored_head_seq'], 0)} / {_fmt(bc['rpo_records'], 0)}",
            ],
            [
                e,
                "restore from",
                f"snapshot {bc['restore_snapshot']}"
                if bc.get("restore_snapshot")
                else f"no snapshot at or before the point: the log replayed from seq"
                f" {_fmt(bc.get('replay_from_seq'), 0)}",
            ],
            [e, "RTO, `measured.rto_s` (s)", _fmt(bc["rto_s"], 2)],
        ]
        for p in PHASES:
            if _phase_key(p) in bc:
                brows.append([e, f"phase {p} (s)", _fmt(bc[_phase_key(p)], 3)])
        for p in RESTORE_PHASES:
            if f"restore_{p}_s" in bc:
                brows.append([e, f"restore: {p} (s)", _fmt(bc[f"restore_{p}_s"], 3)])
        brows += [
            [e, "wall time of `drill run` (s)", _fmt(bc["wall_s"], 2)],
            [e, "outside the phases (wall − phases, s)", _fmt(bc["outside_phases_s"], 2)],
        ]
    if brows:
        lines += ["", "## Drill: bad-change (once, for information)", ""]
        lines += md_table(["engine", "metric", "value"], brows)
        lines += [
            "",
            "`expected state` = the live log replayed to the recovery point into a sandbox"
            " (what the restored data is reconciled against); it is the drill's own work and"
            " not part of the RTO. Records lost = the drill's baseline head (the status head"
            " plus the edited plan's record) − the restored head.",
        ]
        if any(
            d.get("bad_change") and not d["bad_change"].get("restore_snapshot")
            for d in engines.values()
        ):
            lines += [
                "",
                "No full backup on the copy has its snapshot at or before the recovery point"
                " (the copy's full was taken after it), so the restore replays the log from"
                " genesis: its `replay` phase is most of this RTO.",
            ]

    notes: list[str] = []
    for engine, data in engines.items():
        e = ENGINE_NAMES[engine]
        runs = [(f"primary-loss run {r['run']}", r) for r in data.get("drill", {}).get("runs", [])]
        if data.get("bad_change"):
            runs.append(("bad-change", data["bad_change"]))
        for label, r in runs:
            for f in r["failed"]:
                notes.append(f"{e}, {label}: criterion not passed — {f}")
            for f in r["findings"]:
                notes.append(f"{e}, {label}: finding — {f}")
        for r in data.get("reconcile", {}).get("runs", []):
            for f in r["not_passed"]:
                notes.append(f"{e}, reconcile run {r['run']}: {f}")
    if notes:
        lines += ["", "## Findings", "", *(f"* {x}" for x in notes)]
    lines += [
        "",
        "## Method",
        "",
        "Every serialvault command runs as a child process (`… --json`) from the work folder,"
        " timed around the process (wall, including interpreter start-up); the figures named"
        " in backquotes are the command's own. The drills run `serialvault drill run PLAN"
        " --db LIVE --to file://COPY --workdir RUNS --json` with the plan of `serialvault"
        " drill new` whose `[restore] target` is set to a scratch database of the same engine"
        f" (SQLite: a file next to the live one; PostgreSQL: `{PG_RESTORE_DB}`, created empty"
        " before each run), then `os.sync()`. The plan's own objectives (RTO 4 h) are left as"
        " the template writes them: the verdict is the plan's, the RTO targets are this"
        " benchmark's. Backups are encrypted (keys from `serialvault keys generate`) and go"
        " to a `file://` copy on the same disk as the database.",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------- main
def run(args: argparse.Namespace) -> dict[str, Any]:
    out_dir: Path = args.out.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    workdir = out_dir / "drill-work"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    # Children see no policy and no default database: the copy is named with --to, the
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
    results_file = out_dir / f"drill-results-{stamp}.json"
    machine = machine_info(args.engines, pg_server(args.pg_server))
    machine["cli_floor_s"] = cli_floor(workdir)
    workload = ensure_workload(out_dir, args.units, args.seed)
    log(
        f"workload {workload.folder}: {len(workload.files)} files, {workload.bytes:,} bytes,"
        f" {workload.units_commissioned:,} units"
    )
    make_keys(workdir / "keys", workdir)
    engines: dict[str, dict[str, Any]] = {}
    for engine in args.engines:
        bench = EngineBench(engine, args, workdir, workload)
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
            "bad_change_back": BAD_CHANGE_BACK,
        },
        "machine": machine,
        "workload": workload.to_dict(),
        "engines": engines,
        "targets": evaluate_targets(engines),
    }
    results_file.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return results


def main(argv: list[str] | None = None) -> int:
    return bench_main("drill-bench", parse_args(argv), run, render)


if __name__ == "__main__":
    sys.exit(main())
