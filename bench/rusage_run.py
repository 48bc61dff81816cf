"""Run one command and record its resource usage: wall time and peak memory.

Started as a fresh process for every measured run, so that ``RUSAGE_CHILDREN`` covers
exactly one child — the command under test — and its descendants. Two memory figures,
because capture may work in more than one process (it prepares the next document in a
worker while the current one is written):

* ``maxrss_kib`` — ``ru_maxrss`` of ``getrusage(RUSAGE_CHILDREN)``: exact, but the peak of
  the *largest single* process among the command and its waited-for descendants
  (getrusage(2)), in KiB on Linux;
* ``tree_peak_rss_kib`` / ``tree_peak_pss_kib`` — the largest *sum* over the command's
  process tree, sampled every ``SAMPLE_S`` from ``/proc/<pid>/smaps_rollup`` (proc(5)).
  RSS counts pages shared by a forked worker once per process (an upper bound); PSS
  splits shared pages between the processes that map them (the fair total). Sampling
  can miss a spike shorter than the interval; the exact single-process peak covers the
  common case of one process.

The command inherits stdout and stderr, so its output reaches the caller unchanged.

Usage: ``python rusage_run.py STATS.json COMMAND [ARG ...]``; exits with the command's
exit code and writes the figures above plus wall time and CPU time to ``STATS.json``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time

SAMPLE_S = 0.1


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (every thread's), or [] if it is gone."""
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as fh:
                out += [int(x) for x in fh.read().split()]
        except OSError:
            continue
    return out


def _memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB; (0, 0) when it has exited."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        return 0, 0
    return rss, pss


class TreeSampler(threading.Thread):
    """Samples the summed RSS and PSS of a process and all its descendants."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.stop = threading.Event()
        self.peak_rss = self.peak_pss = self.peak_processes = self.samples = 0

    def sample(self) -> None:
        pids, stack = [], [self.pid]
        while stack:
            p = stack.pop()
            pids.append(p)
            stack += _children(p)
        rss = pss = alive = 0
        for p in pids:
            r, s = _memory_kib(p)
            rss, pss, alive = rss + r, pss + s, alive + (r > 0)
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)
        self.peak_processes = max(self.peak_processes, alive)
        self.samples += 1

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(SAMPLE_S)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        sys.stderr.write("usage: rusage_run.py STATS.json COMMAND [ARG ...]\n")
        return 2
    stats_path, command = argv[0], argv[1:]
    t0 = time.perf_counter_ns()
    proc = subprocess.Popen(command)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    returncode = proc.wait()
    wall_ns = time.perf_counter_ns() - t0
    sampler.stop.set()
    sampler.join()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    stats = {
        "returncode": returncode,
        "wall_ns": wall_ns,
        "maxrss_kib": ru.ru_maxrss,
        "tree_peak_rss_kib": sampler.peak_rss,
        "tree_peak_pss_kib": sampler.peak_pss,
        "tree_peak_processes": sampler.peak_processes,
        "tree_samples": sampler.samples,
        "sample_interval_s": SAMPLE_S,
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
    return returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
