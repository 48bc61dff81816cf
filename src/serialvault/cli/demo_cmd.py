"""``serialvault demo generate`` — the reference workload."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from serialvault.app import demo as ops
from serialvault.cli.common import JsonOpt, handled, kv, make_app, print_json

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
        res = ops.generate(out_dir, units=units, seed=seed, max_epcs=max_epcs, force=force)
        s, size, data_out = res.summary, res.bytes, res.to_dict()
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
