"""Run one command and record its resource usage: wall time and peak resident set size.

Started as a fresh process for every measured run, so that ``RUSAGE_CHILDREN`` covers
exactly one child — the command under test — and its ``ru_maxrss`` is that child's peak
RSS (getrusage(2): for RUSAGE_CHILDREN, the resident set size of the largest child, in
kilobytes on Linux). The command inherits stdout and stderr, so its output reaches the
caller unchanged.

Usage: ``python rusage_run.py STATS.json COMMAND [ARG ...]``; exits with the command's
exit code and writes ``{"returncode", "wall_ns", "maxrss_kib", "user_s", "sys_s", …}``.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        sys.stderr.write("usage: rusage_run.py STATS.json COMMAND [ARG ...]\n")
        return 2
    stats_path, command = argv[0], argv[1:]
    t0 = time.perf_counter_ns()
    proc = subprocess.run(command, check=False)
    wall_ns = time.perf_counter_ns() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    stats = {
        "returncode": proc.returncode,
        "wall_ns": wall_ns,
        "maxrss_kib": ru.ru_maxrss,
        "user_s": ru.ru_utime,
        "sys_s": ru.ru_stime,
        "major_faults": ru.ru_majflt,
        "minor_faults": ru.ru_minflt,
        "blocks_in": ru.ru_inblock,
        "blocks_out": ru.ru_oublock,
        "voluntary_switches": ru.ru_nvcsw,
        "involuntary_switches": ru.ru_nivcsw,
    }
    with open(stats_path, "w", encoding="utf-8") as fh:
        json.dump(stats, fh)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
