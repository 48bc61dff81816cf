"""The benchmark workload: the reference site, generated once per (units, seed).

Generating a million-unit site takes about a minute, so the documents are cached under
the output folder and reused. A marker file is written *last*, after every document: a
folder without a valid marker (an interrupted generation) is regenerated from scratch,
never half-reused. The marker's suffix is not one ``serialvault capture`` reads, so the
folder can be captured as it is.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from serialvault.demo.generator import SiteConfig, SiteGenerator

MARKER = "workload.done"
FORMAT = "serialvault.bench.workload/1"


@dataclass(frozen=True, slots=True)
class Workload:
    """A generated site on disk and what it holds."""

    folder: str
    units_requested: int
    seed: int
    files: tuple[str, ...]
    bytes: int
    events: int
    epc_references: int
    units_commissioned: int
    units_decommissioned: int
    units_reworked: int
    cases: int
    pallets: int
    pallets_shipped: int
    generate_seconds: float
    reused: bool

    @property
    def path(self) -> Path:
        return Path(self.folder)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["files"] = len(self.files)
        return out


def workload_folder(out: Path, units: int, seed: int) -> Path:
    """``site-<units>`` for the default seed, ``site-<units>-seed<seed>`` otherwise."""
    return out / (f"site-{units}" if seed == 1 else f"site-{units}-seed{seed}")


def _load_marker(folder: Path, units: int, seed: int) -> Workload | None:
    """The cached workload if its marker is valid and every listed file is intact."""
    marker = folder / MARKER
    if not marker.is_file():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("format") != FORMAT or data.get("units") != units or data.get("seed") != seed:
        return None
    sizes: dict[str, int] = data.get("sizes", {})
    for name, size in sizes.items():
        f = folder / name
        if not f.is_file() or f.stat().st_size != size:
            return None
    s = data["summary"]
    return Workload(
        folder=str(folder),
        units_requested=units,
        seed=seed,
        files=tuple(sizes),
        bytes=sum(sizes.values()),
        events=s["events"],
        epc_references=s["epc_references"],
        units_commissioned=s["units_commissioned"],
        units_decommissioned=s["units_decommissioned"],
        units_reworked=s["units_reworked"],
        cases=s["cases"],
        pallets=s["pallets"],
        pallets_shipped=s["pallets_shipped"],
        generate_seconds=float(data.get("generate_seconds", 0.0)),
        reused=True,
    )


def ensure_workload(out: Path, units: int, seed: int) -> Workload:
    """Reuse the cached site for ``(units, seed)`` or generate it."""
    folder = workload_folder(out, units, seed)
    cached = _load_marker(folder, units, seed)
    if cached is not None:
        return cached
    folder.mkdir(parents=True, exist_ok=True)
    for stale in [folder / MARKER, *folder.glob("*.jsonld")]:
        stale.unlink(missing_ok=True)
    print(f"[workload] generating {units} units (seed {seed}) into {folder}", file=sys.stderr)
    t0 = time.perf_counter()
    gen = SiteGenerator(SiteConfig(units=units, seed=seed))
    sizes: dict[str, int] = {}
    for name, doc in gen.run():
        data = orjson.dumps(doc)
        (folder / name).write_bytes(data)
        sizes[name] = len(data)
    seconds = time.perf_counter() - t0
    summary = gen.summary.to_dict()
    summary.pop("files", None)
    marker = {
        "format": FORMAT,
        "units": units,
        "seed": seed,
        "generate_seconds": seconds,
        "sizes": sizes,
        "summary": summary,
    }
    tmp = folder / (MARKER + ".tmp")
    tmp.write_text(json.dumps(marker, indent=1), encoding="utf-8")
    tmp.replace(folder / MARKER)
    loaded = _load_marker(folder, units, seed)
    if loaded is None:  # pragma: no cover - the files were just written
        raise RuntimeError(f"workload in {folder} is incomplete right after generation")
    return replace(loaded, reused=False)
