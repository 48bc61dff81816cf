"""The benchmark report in Markdown, rendered from the results dictionary alone.

The JSON results file and this report carry the same numbers: the report is a pure
function of the results, so a stored results file can be re-rendered later.
"""

from __future__ import annotations

import statistics
from typing import Any

from common import ENGINE_NAMES, machine_table, md_table, n, targets_table


def _runs(values: list[float], digits: int = 0) -> str:
    return " / ".join(n(v, digits) for v in values)


def _machine(results: dict[str, Any]) -> list[str]:
    return ["## Machine", "", *machine_table(results["machine"])]


def _workload(results: dict[str, Any]) -> list[str]:
    w = results["workload"]
    origin = (
        "reused from the cache" if w["reused"] else f"generated in {w['generate_seconds']:.2f} s"
    )
    rows = [
        ["folder", f"`{w['folder']}` ({origin})"],
        ["units requested (--units, --seed)", f"{n(w['units_requested'])} (seed {w['seed']})"],
        ["units commissioned (SGTIN)", n(w["units_commissioned"])],
        [
            "units decommissioned / reworked",
            f"{n(w['units_decommissioned'])} / {n(w['units_reworked'])}",
        ],
        ["cases / pallets (SSCC)", f"{n(w['cases'])} / {n(w['pallets'])}"],
        ["pallets shipped", n(w["pallets_shipped"])],
        ["files", n(w["files"])],
        ["bytes", f"{n(w['bytes'])} ({w['bytes'] / 2**20:,.1f} MiB)"],
        ["events", n(w["events"])],
        ["EPC references", n(w["epc_references"])],
    ]
    return ["## Workload", "", *md_table(["measure", "value"], rows)]


_CAPTURE_METRICS = (
    ("wall time (s)", "wall_s", 2),
    ("units/s (sgtin + sscc rows)", "units_per_s", 0),
    ("EPC references/s", "epcs_per_s", 0),
    ("events/s", "events_per_s", 0),
    ("CPU user + sys (s)", "cpu_s", 2),
    ("in-library capture time (s)", "library_s", 2),
    ("repository size (MiB)", "db_mib", 1),
)


def _capture(results: dict[str, Any]) -> list[str]:
    lines = ["## Capture", ""]
    rows: list[list[str]] = []
    for engine, data in results["engines"].items():
        cap = data.get("capture")
        if not cap:
            continue
        lines.append(f"{ENGINE_NAMES[engine]}: `{cap['command']}`")
        lines.append("")
        first = cap["runs"][0]
        rows.append(
            [
                ENGINE_NAMES[engine],
                "units in repository (sgtin + sscc)",
                n(first["units"]),
                f"sgtin {n(first['sgtin'])}, sscc {n(first['sscc'])}",
            ]
        )
        for label, key, digits in _CAPTURE_METRICS:
            values = [r[key] for r in cap["runs"]]
            rows.append(
                [ENGINE_NAMES[engine], label, n(cap["median"][key], digits), _runs(values, digits)]
            )
    if not rows:
        return []
    lines += md_table(["engine", "metric", "median", "runs"], rows)
    lines += [
        "",
        "Wall time is the child process's (interpreter start-up, imports, reading the files,"
        " every commit), measured around it by the rusage wrapper; `init` is not included."
        " In-library time is the sum of the per-document `seconds` that capture reports.",
    ]
    return lines


def _peer(results: dict[str, Any]) -> list[str]:
    rows: list[list[str]] = []
    notes: list[str] = []
    for engine, data in results["engines"].items():
        peer = data.get("peer")
        if not peer:
            continue
        rows.append(
            [
                ENGINE_NAMES[engine],
                peer["method"],
                n(peer["rows"]),
                n(peer["median"]["seconds"], 2),
                n(peer["median"]["rows_per_s"]),
                _runs([r["rows_per_s"] for r in peer["runs"]]),
                n(data["capture"]["median"]["units_per_s"]),
                f"{peer['ratio']:.3f}×",
            ]
        )
        same = "identical" if peer["same_definition"] else "DIFFERENT"
        notes.append(
            f"{ENGINE_NAMES[engine]}: {peer['settings']}; `units` keys and indexes {same}"
            f" to the captured repository's ({'; '.join(peer['peer_indexes'])})."
        )
    if not rows:
        return []
    header = [
        "engine",
        "method",
        "rows",
        "median s",
        "rows/s median",
        "rows/s runs",
        "capture units/s",
        "capture ÷ raw",
    ]
    return [
        "## Peer: raw bulk insert of the same unit rows",
        "",
        *md_table(header, rows),
        "",
        "Rows are read back from the captured repository before the clock starts; the insert"
        " goes into a fresh database whose `units` table is created from"
        " `serialvault.store.schema.units`; time includes the commit.",
        "",
        *(f"* {n}" for n in notes),
    ]


def _memory(results: dict[str, Any]) -> list[str]:
    rows: list[list[str]] = []
    method = ""
    for engine, data in results["engines"].items():
        cap = data.get("capture")
        if not cap:
            continue
        method = cap["rss_method"]
        for label, key in (
            ("peak (target figure)", "peak_rss_mib"),
            ("largest process, exact (getrusage)", "largest_process_rss_mib"),
            ("process tree RSS sum, sampled", "tree_rss_mib"),
            ("process tree PSS sum, sampled", "tree_pss_mib"),
        ):
            values = [r[key] for r in cap["runs"]]
            rows.append(
                [
                    ENGINE_NAMES[engine],
                    label,
                    n(cap["median"][key], 1),
                    _runs(values, 1),
                    n(max(values), 1),
                ]
            )
        procs = [r["processes"] for r in cap["runs"]]
        rows.append(
            [
                ENGINE_NAMES[engine],
                "processes at the peak",
                n(statistics.median(procs)),
                _runs(procs),
                n(max(procs)),
            ]
        )
    if not rows:
        return []
    return [
        "## Memory",
        "",
        *md_table(["engine", "capture memory, MiB", "median", "runs", "max"], rows),
        "",
        f"Method: {method}.",
    ]


def _queries(results: dict[str, Any]) -> list[str]:
    rows: list[list[str]] = []
    for engine, data in results["engines"].items():
        q = data.get("queries")
        if not q:
            continue
        for name, label in (
            ("pallet_contents", "pallet contents"),
            ("unit_history", "unit history"),
        ):
            med = q["median"][name]
            first = q["runs"][0][name]
            rows.append(
                [
                    ENGINE_NAMES[engine],
                    label,
                    f"{n(first['calls'])} × {len(q['runs'])}",
                    n(first["distinct_keys"]),
                    f"{n(first['rows_mean'], 1)} ({first['rows_min']}–{first['rows_max']})",
                    n(med["p50_ms"], 3),
                    n(med["p99_ms"], 3),
                    n(med["max_ms"], 3),
                    _runs([r[name]["p99_ms"] for r in q["runs"]], 3),
                ]
            )
    if not rows:
        return []
    header = [
        "engine",
        "query",
        "calls × runs",
        "distinct keys",
        "rows per call (min–max)",
        "p50 ms",
        "p99 ms",
        "max ms",
        "p99 ms runs",
    ]
    setup = [
        f"* {ENGINE_NAMES[e]}: {d['queries']['repository']}; {d['queries']['statistics']}"
        for e, d in results["engines"].items()
        if d.get("queries")
    ]
    return [
        "## Queries",
        "",
        *md_table(header, rows),
        "",
        "One persistent connection; `time.perf_counter_ns` around each library call"
        " (`queries.contents`, `queries.unit_history`), rows fetched and converted included;"
        f" {results['options']['warmup']} warm-up calls per query not counted; the garbage"
        " collector stays on, with the harness's own objects frozen (`gc.freeze`) so its"
        " pauses reflect what the queries allocate; medians over runs.",
        "",
        *setup,
    ]


def _targets(results: dict[str, Any]) -> list[str]:
    if not results["targets"]:
        return []
    return [
        "## Targets",
        "",
        *targets_table(results["targets"], ("pass", "**miss**"), "measured"),
        "",
        "Throughput and latency are medians over the runs; peak RSS is the largest run.",
    ]


def _profile(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for engine, data in results["engines"].items():
        prof = data.get("profile")
        if not prof:
            continue
        cli = data.get("capture", {}).get("median", {}).get("wall_s")
        lines += [
            f"### {ENGINE_NAMES[engine]}: capture in-process under pyinstrument",
            "",
            f"{prof['wall_s']:.1f} s wall under the profiler"
            + (f" (the unprofiled CLI capture: {cli:.1f} s median)" if cli else "")
            + f"; full profile `{prof['text_file']}`. Every document goes through"
            " `Capturer.capture_bytes` in this one process, so all the work is visible;"
            " the CLI may overlap steps in more than one process (see Memory: processes).",
            "",
            *md_table(
                ["pipeline step (callee of the capture entry points)", "s", "share"],
                [
                    [f"`{r['where']}`", f"{r['seconds']:.2f}", f"{r['share']:.1%}"]
                    for r in prof["by_step"]
                ],
            ),
            "",
            *md_table(
                ["function (self time)", "s", "share"],
                [
                    [f"`{r['where']}`", f"{r['seconds']:.2f}", f"{r['share']:.1%}"]
                    for r in prof["by_self_time"]
                ],
            ),
            "",
        ]
    if not lines:
        return []
    return ["## Profile", "", *lines]


def render(results: dict[str, Any]) -> str:
    """The whole report."""
    opts = results["options"]
    lines = [
        f"# serialvault benchmark — {results['started_at']}",
        "",
        f"`bench/run.py --units {opts['units']} --engines {','.join(opts['engines'])}"
        f" --repeat {opts['repeat']} --only {','.join(opts['only'])}`"
        f" (finished {results['finished_at']}; results `{results['results_file']}`)",
        "",
    ]
    for section in (_machine, _workload, _capture, _peer, _memory, _queries, _targets, _profile):
        part = section(results)
        if part:
            lines += [*part, ""]
    return "\n".join(lines).rstrip() + "\n"
