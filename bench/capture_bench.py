"""Capture benchmark: what a user runs, ``serialvault capture DIR --db URL --json``.

The command runs in a child process (under ``rusage_run.py``, a fresh wrapper process per
run) so the figure includes interpreter start-up, imports, reading the files and the
commit of every document — the whole user-visible cost — and so the child's peak RSS can
be read without the harness's own memory mixed in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from targets import Target
from workload import Workload

from serialvault.store import schema
from serialvault.store.repository import Repository

RUSAGE_RUN = Path(__file__).with_name("rusage_run.py")
#: The benchmark's own user: created with each repository, logged in before any change
#: (every change in serialvault is made by an authenticated user with the role for it).
ACTOR = "bench"
BENCH_PASSWORD = "measured-and-timed-passphrase"
#: Session files of the benchmark's user: its own home, never the person's running it.
BENCH_HOME = Path(tempfile.mkdtemp(prefix="sv-bench-home-"))
os.environ["SERIALVAULT_HOME"] = str(BENCH_HOME)


class BenchError(Exception):
    """A benchmark step failed; the message says which and shows the tool's output."""


def serialvault_command() -> list[str]:
    """The ``serialvault`` console script of this environment (as a user runs it)."""
    script = Path(sys.executable).with_name("serialvault")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "serialvault.cli.main"]


def display_command(workload: Workload, target: Target) -> str:
    return f"serialvault capture {workload.folder} --db {target.display} --json"


@dataclass(frozen=True, slots=True)
class CaptureRun:
    """One measured capture of the whole workload into a fresh repository."""

    run: int
    wall_s: float
    init_s: float
    library_s: float
    documents: int
    events: int
    recorded: int
    duplicates: int
    epc_references: int
    sgtin: int
    sscc: int
    peak_rss_kib: int
    tree_peak_rss_kib: int
    tree_peak_pss_kib: int
    processes: int
    user_s: float
    sys_s: float
    db_bytes: int
    head_seq: int
    head_chain: str

    @property
    def units(self) -> int:
        return self.sgtin + self.sscc

    @property
    def peak_memory_kib(self) -> int:
        """The capture's peak memory, conservatively: the larger of the exact peak of its
        largest process and the sampled peak RSS summed over all its processes."""
        return max(self.peak_rss_kib, self.tree_peak_rss_kib)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(
            units=self.units,
            units_per_s=self.units / self.wall_s,
            epcs_per_s=self.epc_references / self.wall_s,
            events_per_s=self.events / self.wall_s,
            peak_rss_mib=self.peak_memory_kib / 1024,
            largest_process_rss_mib=self.peak_rss_kib / 1024,
            tree_rss_mib=self.tree_peak_rss_kib / 1024,
            tree_pss_mib=self.tree_peak_pss_kib / 1024,
            db_mib=self.db_bytes / 2**20,
            cpu_s=self.user_s + self.sys_s,
        )
        return out


def _tail(text: bytes | str, limit: int = 2000) -> str:
    s = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return s[-limit:].strip()


def _sv(args: list[str], what: str) -> None:
    proc = subprocess.run([*serialvault_command(), *args], capture_output=True, check=False)
    if proc.returncode != 0:
        raise BenchError(
            f"serialvault {what} failed (exit {proc.returncode}):"
            f" {_tail(proc.stdout + proc.stderr)}"
        )


def init_repository(target: Target, master_data: Path | str | None = None) -> float:
    """Create a fresh repository with the benchmark's user (admin, granted operator and
    qa) logged in, and — from ``master_data`` (a workload document whose header carries
    the site's products) — its products imported and approved, as a site does before
    its lines send events; returns the seconds ``init`` took."""
    target.reset()
    pw = BENCH_HOME / "password.txt"
    pw.write_text(BENCH_PASSWORD + "\n", encoding="utf-8")
    t0 = time.perf_counter()
    _sv(
        [
            "init",
            "--db",
            target.url,
            "--admin",
            ACTOR,
            "--admin-name",
            "Benchmark Runner",
            "--password-file",
            str(pw),
            "--json",
        ],
        f"init --db {target.display}",
    )
    seconds = time.perf_counter() - t0
    _sv(["login", ACTOR, "--db", target.url, "--password-file", str(pw)], "login")
    _sv(
        ["user", "roles", ACTOR, "--add", "operator", "--add", "qa", "--db", target.url],
        "user roles",
    )
    if master_data is not None:
        _sv(["masterdata", "import", str(master_data), "--db", target.url], "masterdata import")
        approve_drafts(target.url)
    return seconds


def count_units(url: str) -> dict[str, int]:
    """Rows of ``units`` by kind (the benchmark counts ``sgtin`` and ``sscc``)."""
    repo = Repository.open(url)
    try:
        with repo.read() as conn:
            u = schema.units
            rows = conn.execute(
                sa.select(u.c.kind, sa.func.count().label("n")).group_by(u.c.kind)
            ).all()
        return {str(r.kind): int(r.n) for r in rows}
    finally:
        repo.engine.dispose()


def run_capture(target: Target, workload: Workload, run: int) -> CaptureRun:
    """Capture every document of ``workload`` into a fresh repository at ``target``."""
    init_s = init_repository(target, workload.path / workload.files[0])
    cmd = [
        *serialvault_command(),
        "capture",
        workload.folder,
        "--db",
        target.url,
        "--json",
    ]
    with tempfile.TemporaryDirectory(prefix="sv-bench-") as tmp:
        stats_file = Path(tmp) / "rusage.json"
        proc = subprocess.run(
            [sys.executable, str(RUSAGE_RUN), str(stats_file), *cmd],
            capture_output=True,
            check=False,
        )
        if not stats_file.is_file():
            raise BenchError(f"the rusage wrapper failed: {_tail(proc.stderr)}")
        stats = json.loads(stats_file.read_text(encoding="utf-8"))
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        raise BenchError(
            f"{display_command(workload, target)} printed no JSON (exit {proc.returncode}):"
            f" {_tail(proc.stderr or proc.stdout)}"
        ) from None
    if proc.returncode != 0 or out.get("rejected"):
        raise BenchError(
            f"{display_command(workload, target)} failed (exit {proc.returncode}):"
            f" {_tail(json.dumps(out.get('rejected') or out))}"
        )
    captured: list[dict[str, Any]] = out["captured"]
    if len(captured) != len(workload.files):
        raise BenchError(
            f"captured {len(captured)} documents but the workload has {len(workload.files)}"
        )
    kinds = count_units(target.url)
    last = captured[-1]
    return CaptureRun(
        run=run,
        wall_s=stats["wall_ns"] / 1e9,
        init_s=init_s,
        library_s=sum(float(c["seconds"]) for c in captured),
        documents=len(captured),
        events=sum(int(c["events"]) for c in captured),
        recorded=sum(int(c["recorded"]) for c in captured),
        duplicates=sum(int(c["duplicates"]) for c in captured),
        epc_references=sum(int(c["epcs"]) for c in captured),
        sgtin=kinds.get("sgtin", 0),
        sscc=kinds.get("sscc", 0),
        peak_rss_kib=int(stats["maxrss_kib"]),
        tree_peak_rss_kib=int(stats["tree_peak_rss_kib"]),
        tree_peak_pss_kib=int(stats["tree_peak_pss_kib"]),
        processes=int(stats["tree_peak_processes"]),
        user_s=float(stats["user_s"]),
        sys_s=float(stats["sys_s"]),
        db_bytes=target.size_bytes(),
        head_seq=int(last["head_seq"]),
        head_chain=str(last["head_chain"]),
    )


QA_HOME = BENCH_HOME / "qa"


def approve_drafts(url: str) -> list[str]:
    """Approve every draft change as the benchmark's second person (``bench.qa``, role
    qa; created on first use): change control needs an approver other than the author."""
    pw = BENCH_HOME / "password.txt"
    env = {**os.environ, "SERIALVAULT_HOME": str(QA_HOME)}

    def run(
        args: list[str], who: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [*serialvault_command(), *args, "--db", url],
            capture_output=True,
            check=False,
            env=who or os.environ.copy(),
        )

    if run(["whoami"], env).returncode != 0:
        # the admin hands a first password; the reviewer's first log-in replaces it
        temp = BENCH_HOME / "handed-over.txt"
        temp.write_text("handed-over-by-bench-admin\n", encoding="utf-8")
        run(
            [
                "user",
                "add",
                "bench.qa",
                "--name",
                "Benchmark Reviewer",
                "--role",
                "qa",
                "--password-file",
                str(temp),
            ]
        )
        logged = run(
            ["login", "bench.qa", "--password-file", str(temp), "--new-password-file", str(pw)],
            env,
        )
        if logged.returncode != 0:
            raise BenchError(f"login bench.qa failed: {_tail(logged.stdout + logged.stderr)}")
    listed = run(["change", "list", "--status", "draft", "--json"], env)
    ids = [c["id"] for c in json.loads(listed.stdout or b"[]")]
    if ids:  # one act of signing over all the drafts
        done = run(
            ["change", "approve", *ids, "--user", "bench.qa", "--password-file", str(pw)], env
        )
        if done.returncode != 0:
            raise BenchError(f"change approve failed: {_tail(done.stdout + done.stderr)}")
    return ids
