"""Where capture time goes: one extra, unmeasured capture under a sampling profiler.

Runs in-process (``Capturer.capture_bytes`` on each document, exactly what the CLI does
per file) under pyinstrument (a dev dependency) and summarises the samples two ways:

* **by pipeline step** — time of the functions called directly by the capture entry
  points (``capture_bytes`` and whatever it delegates to), and of their callees above
  1 % of the total (wrappers that pass nearly all their time to one callee are followed
  down to where the work splits), so the table follows the code as it is, whatever the
  steps are called after a refactor;
* **by function self time** — the hottest leaves, wherever they are.

The full text profile is written next to the results. This run is never one of the
timed runs: sampling adds overhead.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capture_bench import ACTOR, init_repository
from targets import Target
from workload import Workload

from serialvault.store.capture import Capturer
from serialvault.store.repository import Repository

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


@dataclass(slots=True)
class _Node:
    """A call-tree node merged by label: one per function and caller path."""

    time: float = 0.0
    children: dict[str, _Node] = field(default_factory=dict)


def _merge(into: _Node, frame: Any) -> None:
    into.time += float(frame.time)
    for child in frame.children:
        if not child.is_synthetic:
            _merge(into.children.setdefault(_label(child), _Node()), child)


def _passthrough(label: str, node: _Node) -> tuple[_Node, list[str]]:
    """Follow wrappers (one callee taking >= 90 % of the time) down to real work."""
    chain = [label]
    while True:
        big = [(k, c) for k, c in node.children.items() if c.time >= 0.9 * node.time]
        if len(big) != 1 or not big[0][1].children:
            return node, chain
        label, node = big[0]
        chain.append(label)


def profile_capture(
    target: Target, workload: Workload, out_dir: Path, top: int = 15, min_share: float = 0.01
) -> dict[str, Any]:
    """Capture the workload once under pyinstrument; returns the two summaries."""
    from pyinstrument import Profiler

    init_repository(target, workload.path / workload.files[0])
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
    steps = _Node()
    leaves: dict[str, float] = defaultdict(float)
    sampled = float(root.time) if root is not None else 0.0
    for f in _walk(root) if root is not None else []:
        if f.is_synthetic:  # pyinstrument's "[self]" pseudo-frames, counted in their parent
            continue
        leaves[_label(f)] += float(f.total_self_time)
        if f.function in _ENTRY_POINTS:
            for child in f.children:
                if not child.is_synthetic and child.function not in _ENTRY_POINTS:
                    _merge(steps.children.setdefault(_label(child), _Node()), child)

    def share(v: float) -> float:
        return v / sampled if sampled else 0.0

    by_step: list[dict[str, Any]] = []
    for label, node in sorted(steps.children.items(), key=lambda kv: -kv[1].time):
        inner, chain = _passthrough(label, node)
        by_step.append(
            {"where": " → ".join(chain), "seconds": node.time, "share": share(node.time)}
        )
        for sub, child in sorted(inner.children.items(), key=lambda kv: -kv[1].time):
            if share(child.time) >= min_share:
                by_step.append(
                    {"where": f"  › {sub}", "seconds": child.time, "share": share(child.time)}
                )
    top_self = sorted(leaves.items(), key=lambda kv: -kv[1])[:top]
    return {
        "engine": target.engine,
        "wall_s": wall,
        "sampled_s": sampled,
        "by_step": by_step,
        "by_self_time": [{"where": k, "seconds": v, "share": share(v)} for k, v in top_self],
        "text_file": str(text_file),
    }
