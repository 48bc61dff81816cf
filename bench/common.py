"""What every benchmark script shares: option parsers, the ``serialvault --json`` child
process runner, keys, medians and the Markdown pieces (tables, the machine block)."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from capture_bench import BenchError, serialvault_command


# ------------------------------------------------------------------------- options
def csv_choice(allowed: tuple[str, ...]) -> Callable[[str], list[str]]:
    """An argparse type: a comma-separated subset of ``allowed``, in the order given."""

    def parse(text: str) -> list[str]:
        items = [x.strip() for x in text.split(",") if x.strip()]
        bad = [x for x in items if x not in allowed]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"{text!r}: choose from {', '.join(allowed)} (comma-separated)"
            )
        return list(dict.fromkeys(items))

    return parse


def positive(text: str) -> int:
    """An argparse type: a whole number ≥ 1 (``1_000_000`` allowed)."""
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least 1")
    return value


# ------------------------------------------------------------------------- running
def logger(prefix: str) -> Callable[[str], None]:
    """A progress logger to stderr (stdout carries the report)."""

    def log(message: str) -> None:
        print(f"[{prefix}] {message}", file=sys.stderr, flush=True)

    return log


def tail(text: bytes | str, limit: int = 2000) -> str:
    s = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return s[-limit:].strip()


def median_of(rows: list[dict[str, Any]], keys: list[str]) -> dict[str, float]:
    """Median of each key present (not None) in every row."""
    return {
        k: statistics.median(float(r[k]) for r in rows)
        for k in keys
        if rows and all(r.get(k) is not None for r in rows)
    }


def sv(args: list[str], cwd: Path, ok_codes: tuple[int, ...] = (0,)) -> tuple[float, Any, int]:
    """``serialvault ARGS`` (with ``--json``) in a child process: wall seconds, its JSON and
    its exit code (one of ``ok_codes``, else a :class:`BenchError` with its output)."""
    shown = "serialvault " + shlex.join(args)
    t0 = time.perf_counter()
    proc = subprocess.run([*serialvault_command(), *args], capture_output=True, cwd=cwd)
    seconds = time.perf_counter() - t0
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        raise BenchError(
            f"`{shown}` printed no JSON (exit {proc.returncode}):"
            f" {tail(proc.stderr or proc.stdout)}"
        ) from None
    if proc.returncode not in ok_codes:
        raise BenchError(
            f"`{shown}` failed (exit {proc.returncode}): {tail(json.dumps(doc))}"
            + (f"; stderr: {tail(proc.stderr, 600)}" if proc.stderr.strip() else "")
        )
    return seconds, doc, proc.returncode


def cli_floor(cwd: Path, runs: int = 3) -> float:
    """Median wall time of ``serialvault --version``: the start-up every command pays."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([*serialvault_command(), "--version"], capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def make_keys(folder: Path, cwd: Path) -> dict[str, str]:
    """``serialvault keys generate`` into ``folder``; the env of every child then names them."""
    _, keys, _ = sv(["keys", "generate", "--out", str(folder), "--json"], cwd)
    enc = str((cwd / keys["encryption_key"]).resolve())
    sig = str((cwd / keys["signing_key"]).resolve())
    os.environ["SERIALVAULT_BACKUP_KEY"] = enc
    os.environ["SERIALVAULT_SIGNING_KEY"] = sig
    return {"encryption_key": enc, "signing_key": sig}


# ------------------------------------------------------------------------- Markdown
def n(x: float, digits: int = 0) -> str:
    """A number with thousands separators."""
    return f"{x:,.{digits}f}"


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def machine_table(m: dict[str, Any]) -> list[str]:
    """The machine block every report opens with (``run.machine_info``), with the peer
    tools' versions and the CLI start-up time where the run measured them."""
    rows = [
        ["CPU", m["cpu_model"]],
        ["cores", f"{m['cores']} ({m['usable_cores']} usable by this process)"],
        ["memory", f"{m['memory_gib']:.1f} GiB"],
        [
            "load average (1/5/15 min) at start; at end",
            " / ".join(f"{x:.2f}" for x in m["load_average"])
            + "; "
            + " / ".join(f"{x:.2f}" for x in m.get("load_average_end", [])),
        ],
        ["OS", m["os"]],
        ["Python", m["python"]],
        ["SQLite", m["sqlite"]],
        ["PostgreSQL", m["postgresql"]],
        *[[f"peer tool `{k}`", v] for k, v in m.get("tools", {}).items()],
        ["serialvault", m["serialvault"]],
        ["commit", m["commit"]],
    ]
    if "cli_floor_s" in m:
        rows.append(["CLI start-up (`serialvault --version`, wall)", f"{m['cli_floor_s']:.3f} s"])
    return md_table(["item", "value"], rows)


ENGINE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def targets_table(
    targets: list[dict[str, Any]],
    words: tuple[str, str] = ("met", "**missed**"),
    measured: str = "measured (median)",
) -> list[str]:
    """The targets of a run: measured against goal, and ``words`` for met / missed."""
    return md_table(
        ["target", "engine", measured, "goal", "result"],
        [
            [
                t["target"],
                ENGINE_NAMES[t["engine"]],
                t["measured_text"],
                t["goal_text"],
                words[0] if t["pass"] else words[1],
            ]
            for t in targets
        ],
    )


# ------------------------------------------------------------------------- main
def bench_main(
    name: str,
    args: argparse.Namespace,
    run: Callable[[argparse.Namespace], dict[str, Any]],
    render: Callable[[dict[str, Any]], str],
) -> int:
    """Run, write ``<results>.md`` beside the JSON, print the report; exit 1 when a step
    failed, 3 when a target was missed and ``--fail-on-miss`` asked for it, else 0."""
    try:
        results = run(args)
    except (BenchError, ValueError, psycopg.Error) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    report = render(results)
    Path(results["results_file"]).with_suffix(".md").write_text(report, encoding="utf-8")
    sys.stdout.write(report)
    missed = [t for t in results["targets"] if not t["pass"]]
    return 3 if missed and args.fail_on_miss else 0
