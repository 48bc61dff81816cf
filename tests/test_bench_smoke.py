"""Smoke test of the benchmark harness (``bench/run.py``), so that ``make bench`` cannot rot.

Runs the harness end to end on a tiny site (2,400 units, one run, SQLite; fewer query
calls than the real benchmark so the test stays fast) and checks that the report has
every section and that the numbers are positive and consistent with the workload. The
harness's helpers (workload cache, percentile, argument checks) are tested directly.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT

BENCH = PROJECT_ROOT / "bench"
RUN = BENCH / "run.py"
SECTIONS = (
    "## Machine",
    "## Workload",
    "## Capture",
    "## Peer: raw bulk insert of the same unit rows",
    "## Memory",
    "## Queries",
    "## Targets",
)


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUN), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=PROJECT_ROOT,
    )


def _table_rows(report: str, heading: str) -> list[list[str]]:
    """Data rows of the first Markdown table after ``heading``."""
    section = report.split(heading, 1)[1].split("\n## ", 1)[0]
    lines = [ln for ln in section.splitlines() if ln.startswith("|")]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]


def _number(cell: str) -> float:
    m = re.match(r"^(-?[\d,]+(?:\.\d+)?)", cell)
    assert m, f"no number in table cell {cell!r}"
    return float(m.group(1).replace(",", ""))


def _results(out: Path) -> dict[str, Any]:
    files = sorted(out.glob("results-*.json"))
    assert len(files) == 1, files
    data: dict[str, Any] = json.loads(files[0].read_text(encoding="utf-8"))
    return data


def _check_engine(data: dict[str, Any], workload: dict[str, Any]) -> None:
    cap = data["capture"]
    (run,) = cap["runs"]
    for key in (
        "wall_s",
        "units_per_s",
        "epcs_per_s",
        "events_per_s",
        "peak_rss_mib",
        "largest_process_rss_mib",
        "tree_rss_mib",
        "tree_pss_mib",
        "cpu_s",
    ):
        assert cap["median"][key] > 0, key
        assert run[key] == cap["median"][key], key  # one run: the median is that run
    # Units counted in the repository match what the generator made.
    assert run["sgtin"] == workload["units_commissioned"]
    assert run["sscc"] == workload["cases"] + workload["pallets"]
    assert run["epc_references"] == workload["epc_references"]
    assert run["events"] == workload["events"] == run["recorded"]
    assert run["peak_rss_mib"] < 4096
    assert run["tree_pss_mib"] <= run["tree_rss_mib"]  # PSS splits what RSS counts whole
    assert run["processes"] >= 1

    peer = data["peer"]
    assert peer["rows"] == run["units"]  # sgtin + sscc; the demo site has no 'other' ids
    assert peer["median"]["rows_per_s"] > 0
    assert peer["ratio"] == pytest.approx(
        cap["median"]["units_per_s"] / peer["median"]["rows_per_s"]
    )
    assert peer["same_definition"], (peer["capture_indexes"], peer["peer_indexes"])

    for name in ("pallet_contents", "unit_history"):
        lat = data["queries"]["runs"][0][name]
        assert 0 < lat["p50_ms"] <= lat["p99_ms"] <= lat["max_ms"], lat
        assert lat["rows_min"] > 0
    contents = data["queries"]["runs"][0]["pallet_contents"]
    # The only pallet holds every case and every packed unit.
    assert contents["rows_max"] > workload["cases"]


def test_bench_smoke_sqlite(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _run(
        "--units",
        "2400",
        "--repeat",
        "1",
        "--engines",
        "sqlite",
        "--out",
        str(out),
        "--contents-calls",
        "100",
        "--history-calls",
        "1000",
    )
    assert proc.returncode == 0, proc.stderr
    report = proc.stdout
    for heading in SECTIONS:
        assert heading in report, heading

    # Every median in the capture, memory, peer and query tables is a positive number.
    for heading, column in (
        ("## Capture", 2),
        ("## Memory", 2),
        ("## Peer: raw bulk insert of the same unit rows", 4),
        ("## Queries", 5),
        ("## Queries", 6),
    ):
        rows = _table_rows(report, heading)
        assert rows, heading
        for row in rows:
            assert _number(row[column]) > 0, (heading, row)
    targets = _table_rows(report, "## Targets")
    assert {r[0] for r in targets} == {
        "capture throughput",
        "capture vs raw insert (units/s ÷ rows/s)",
        "pallet contents p99",
        "unit history p99",
        "capture peak RSS",
    }
    assert all(r[4] in ("pass", "**miss**") for r in targets)

    results = _results(out)
    assert results["format"] == "serialvault.bench.results/1"
    workload = results["workload"]
    for key in ("bytes", "events", "epc_references", "units_commissioned", "files"):
        assert workload[key] > 0, key
    assert not workload["reused"]
    assert (out / "site-2400" / "workload.done").is_file()
    _check_engine(results["engines"]["sqlite"], workload)
    # The Markdown report is also stored next to the JSON, identical to stdout.
    assert Path(results["results_file"]).with_suffix(".md").read_text(encoding="utf-8") == report
    # Databases are dropped unless --keep-db.
    assert not list((out / "db").glob("*.db"))


@pytest.mark.postgres
def test_bench_smoke_postgresql(tmp_path: Path) -> None:
    from tests.pg import PG_URL, require_pg

    require_pg()
    db = f"sv_bench_t{uuid.uuid4().hex[:8]}"
    proc = _run(
        "--units",
        "2400",
        "--repeat",
        "1",
        "--engines",
        "postgresql",
        "--pg-url",
        PG_URL,
        "--pg-db",
        db,
        "--out",
        str(tmp_path),
        "--contents-calls",
        "50",
        "--history-calls",
        "500",
    )
    assert proc.returncode == 0, proc.stderr
    results = _results(tmp_path)
    _check_engine(results["engines"]["postgresql"], results["workload"])
    assert results["engines"]["postgresql"]["peer"]["method"].startswith("COPY units FROM STDIN")
    assert "PostgreSQL" in proc.stdout


# ------------------------------------------------------------------------ helpers
@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], ModuleType]:
    """Imports a harness module (they import each other as siblings of ``bench/``)."""
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module


def test_workload_is_cached_and_regenerated_when_damaged(
    tmp_path: Path, bench: Callable[[str], ModuleType]
) -> None:
    wl = bench("workload")
    first = wl.ensure_workload(tmp_path, 240, 7)
    assert not first.reused
    assert first.path == tmp_path / "site-240-seed7"
    again = wl.ensure_workload(tmp_path, 240, 7)
    assert again.reused
    assert again.files == first.files
    assert again.bytes == first.bytes
    # A truncated document invalidates the cache: the site is generated again, identically.
    doc = first.path / first.files[0]
    original = doc.read_bytes()
    doc.write_bytes(original[:100])
    redone = wl.ensure_workload(tmp_path, 240, 7)
    assert not redone.reused
    assert doc.read_bytes() == original
    # A folder without its marker (interrupted generation) is not reused either.
    (first.path / wl.MARKER).unlink()
    assert not wl.ensure_workload(tmp_path, 240, 7).reused


def test_percentile_is_nearest_rank(bench: Callable[[str], ModuleType]) -> None:
    percentile = bench("query_bench").percentile
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 0.50) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile([7], 0.99) == 7
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--engines", "mysql"], "'mysql': choose from sqlite, postgresql"),
        (["--only", "capture,speed"], "'capture,speed': choose from capture, queries, memory"),
        (["--units", "0"], "'0': must be at least 1"),
        (["--repeat", "three"], "'three' is not a whole number"),
    ],
)
def test_bad_options_are_refused(args: list[str], message: str) -> None:
    proc = _run(*args, timeout=60)
    assert proc.returncode == 2
    assert message in proc.stderr


def test_identity_bench_smoke() -> None:
    """The log-in and signature benchmark runs and reports every measure."""
    out = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "bench" / "identity_bench.py"), "--repeat", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=PROJECT_ROOT,
    )
    assert out.returncode == 0, out.stderr
    for measure in ("login (command)", "login (library)", "signature (library)", "argon2id"):
        assert f"| {measure}" in out.stdout


def test_review_bench_smoke() -> None:
    """The audit-trail review benchmark builds its log and reports both measures."""
    out = subprocess.run(
        [
            sys.executable,
            str(PROJECT_ROOT / "bench" / "review_bench.py"),
            "--records",
            "3000",
            "--repeat",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=PROJECT_ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert "| audit review (whole" in out.stdout
    assert "| streaming pass alone" in out.stdout
