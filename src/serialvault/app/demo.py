"""The reference workload: a realistic packaging site written as EPCIS 2.0 JSON-LD
(commissioning with lot and expiry, cases and pallets, shipping, decommissioning and
rework), the same bytes for the same seed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from serialvault.app.files import make_folder
from serialvault.demo.generator import SiteConfig, SiteGenerator, Summary
from serialvault.errors import InputError


@dataclass(frozen=True)
class Generated:
    out: Path
    bytes: int
    summary: Summary

    def to_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "bytes": self.bytes, **self.summary.to_dict()}


def generate(
    out: Path, *, units: int, seed: int = 1, max_epcs: int = 50_000, force: bool = False
) -> Generated:
    """Write the site's documents, in capture order, to ``out`` (``force`` replaces the
    ``.jsonld`` documents already there)."""
    if units < 1:
        raise InputError("--units must be at least 1")
    make_folder(out, "output folder")
    existing = sorted(out.glob("*.jsonld"))
    if existing and not force:
        raise InputError(
            f"{out} already holds {len(existing)} .jsonld documents: use --force to replace them"
        )
    for f in existing:
        f.unlink()
    gen = SiteGenerator(SiteConfig(units=units, seed=seed, max_epcs=max_epcs))
    size = 0
    for name, doc in gen.run():
        data = orjson.dumps(doc)
        (out / name).write_bytes(data)
        size += len(data)
    return Generated(out, size, gen.summary)
