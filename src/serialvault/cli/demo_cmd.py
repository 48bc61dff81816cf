"""``serialvault demo generate`` — the reference workload."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from serialvault.cli.common import JsonOpt, handled, kv, make_app, print_json
from serialvault.demo.generator import SiteConfig, SiteGenerator
from serialvault.errors import InputError

app = make_app("The reference workload (a realistic packaging site as EPCIS 2.0 JSON-LD).")


@app.command("generate")
def generate(
    units: Annotated[
        int, typer.Option("--units", help="Saleable units to pack (rounded up to whole cases).")
    ],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the generated documents.")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same bytes.")] = 1,
    max_epcs: Annotated[
        int, typer.Option("--max-epcs", help="EPC references per file (bounds the file size).")
    ] = 50_000,
    force: Annotated[
        bool, typer.Option("--force", help="Replace documents already in the folder.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Write the site's EPCIS documents, in capture order, to --out."""
    with handled(json_out):
        if units < 1:
            raise InputError("--units must be at least 1")
        out_dir.mkdir(parents=True, exist_ok=True)
        existing = sorted(out_dir.glob("*.jsonld"))
        if existing and not force:
            raise InputError(
                f"{out_dir} already holds {len(existing)} .jsonld documents:"
                " use --force to replace them"
            )
        for f in existing:
            f.unlink()
        gen = SiteGenerator(SiteConfig(units=units, seed=seed, max_epcs=max_epcs))
        size = 0
        for name, doc in gen.run():
            data = orjson.dumps(doc)
            (out_dir / name).write_bytes(data)
            size += len(data)
        s = gen.summary
        data_out = {"out": str(out_dir), "bytes": size, **s.to_dict()}
        if json_out:
            print_json(data_out)
        else:
            kv(
                f"generated {out_dir}",
                [
                    ("files", len(s.files)),
                    ("bytes", size),
                    ("events", s.events),
                    ("products", s.products),
                    ("lots", s.lots),
                    ("units commissioned", s.units_commissioned),
                    ("units decommissioned", s.units_decommissioned),
                    ("units reworked", s.units_reworked),
                    ("cases (SSCC)", s.cases),
                    ("pallets (SSCC)", s.pallets),
                    ("pallets shipped", s.pallets_shipped),
                ],
            )
