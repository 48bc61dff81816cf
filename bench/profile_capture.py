"""Where capture time goes: one extra, unmeasured capture under a sampling profiler.

Runs in-process (``Capturer.capture_bytes`` on each document, exactly what the CLI does
per file) under pyinstrument (a dev dependency) and summarises the samples two ways:

* **by pipeline step** — time of the functions called directly by the capture entry
  points (``capture_bytes`` → ``capture_document`` → ``_capture``), so the table follows
  the code as it is, whatever the steps are called after a refactor;
* **by function self time** — the hottest leaves, wherever they are.

The full text profile is written next to the results. This run is never one of the
timed runs: sampling adds overhead.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from serialvault.store.capture import Capturer
from serialvault.store.repository import Repository
from capture_bench import ACTOR, init_repository
from targets import Target
from workload import Workload

_ENTRY_POINTS = {"capture_bytes", "capture_document", "_capture"}


def _label(frame: Any) -> str:
    name = frame.function
    cls = frame.class_name
    where = os.path.basename(frame.file_path or "?")
    return f"{cls + '.' if cls else ''}{name} ({where}:{frame.line_no})"


def _walk(frame: Any) -> list[Any]:
    out, stack = [], [frame]
    while stack:
        f = stack.pop()
        out.append(f)
        stack.extend(f.children)
    return out


def profile_capture(target: Target, workload: Workload, out_dir: Path, top: int = 15) -> dict[str, Any]:
    """Capture the workload once under pyinstrument; returns the two summaries."""
    from pyinstrument import Profiler

    init_repository(target)
    repo = Repository.open(target.url)
    capturer = Capturer(repo, actor=ACTOR)
    profiler = Profiler(interval=0.001)
    t0 = time.perf_counter()
    profiler.start()
    try:
        for name in workload.files:
            path = workload.path / name
            capturer.capture_bytes(path.read_bytes(), str(path))
    finally:
        profiler.stop()
        repo.engine.dispose()
    wall = time.perf_counter() - t0
    text_file = out_dir / f"profile-{target.engine}-{workload.units_requested}.txt"
    text_file.write_text(profiler.output_text(unicode=False, color=False), encoding="utf-8")

    session = profiler.last_session
    root = session.root_frame() if session is not None else None
    steps: dict[str, float] = defaultdict(float)
    leaves: dict[str, float] = defaultdict(float)
    sampled = 0.0
    if root is not None:
        sampled = float(root.time)
        frames = _walk(root)
        for f in frames:
            leaves[_label(f)] += float(f.total_self_time)
            if f.function in _ENTRY_POINTS:
                for child in f.children:
                    if child.function not in _ENTRY_POINTS:
                        steps[_label(child)] += float(child.time)

    def ranked(d: dict[str, float]) -> list[dict[str, Any]]:
        items = sorted(d.items(), key=lambda kv: -kv[1])[:top]
        return [
            {"where": k, "seconds": v, "share": v / sampled if sampled else 0.0} for k, v in items
        ]

    return {
        "engine": target.engine,
        "wall_s": wall,
        "sampled_s": sampled,
        "by_step": ranked(steps),
        "by_self_time": ranked(leaves),
        "text_file": str(text_file),
    }
