"""``serialvault product add|list|show`` — product master data."""

from __future__ import annotations

from typing import Annotated

import typer

from serialvault.app import products as ops
from serialvault.cli.common import (
    DbOpt,
    JsonOpt,
    ReasonOpt,
    handled,
    kv,
    make_app,
    out,
    print_json,
    settings,
    table,
)

app = make_app("Product master data (GTIN, NDC, name, dosage form, packaging).")


@app.command("add")
def add(
    name: Annotated[str, typer.Option("--name", help="Regulated product name.")],
    gtin: Annotated[str | None, typer.Option("--gtin", help="GTIN-8/12/13/14.")] = None,
    ndc: Annotated[
        str | None, typer.Option("--ndc", help="US NDC, hyphenated (4-4-2, 5-3-2, 5-4-1).")
    ] = None,
    indicator: Annotated[
        int, typer.Option("--indicator", help="GTIN-14 indicator digit when derived from --ndc.")
    ] = 0,
    form: Annotated[str | None, typer.Option("--form", help="Dosage form (e.g. TABLET).")] = None,
    strength: Annotated[str | None, typer.Option("--strength")] = None,
    net_content: Annotated[str | None, typer.Option("--net-content")] = None,
    manufacturer: Annotated[str | None, typer.Option("--manufacturer")] = None,
    level: Annotated[
        str | None, typer.Option("--level", help="Packaging level of this GTIN: each, pack, case.")
    ] = None,
    units_per_case: Annotated[int | None, typer.Option("--units-per-case")] = None,
    cases_per_pallet: Annotated[int | None, typer.Option("--cases-per-pallet")] = None,
    update: Annotated[
        bool, typer.Option("--update", help="Record a new version of an existing product.")
    ] = False,
    db: DbOpt = None,
    reason: ReasonOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Add a product (or, with --update and --reason, record a new version of it)."""
    with handled(json_out):
        product = ops.ProductInput(
            name=name,
            gtin=gtin,
            ndc=ndc,
            indicator=indicator,
            form=form,
            strength=strength,
            net_content=net_content,
            manufacturer=manufacturer,
            packaging={
                "packagingLevel": level,
                "unitsPerCase": units_per_case,
                "casesPerPallet": cases_per_pallet,
            },
        )
        change = ops.add(settings(), db, product, reason=reason, update=update)
        if json_out:
            print_json(change.to_dict())
        else:
            out.print(
                f"product {change.gtin}: {change.outcome} (version {change.version}"
                + (f", seq {change.seq}" if change.seq else "")
                + ")"
            )


@app.command("list")
def list_cmd(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """List products."""
    with handled(json_out):
        rows = ops.products(settings(), db)
        if json_out:
            print_json(rows)
            return
        table(
            "products",
            ["GTIN", "NDC", "name", "form", "strength", "version"],
            [
                [r["gtin"], r["ndc"], r["name"], r["form"], r["strength"], r["version"]]
                for r in rows
            ],
        )


@app.command("show")
def show(
    gtin: Annotated[str, typer.Argument(help="GTIN of the product.")],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show one product with all its attributes."""
    with handled(json_out):
        p = ops.product(settings(), db, gtin)
        if json_out:
            print_json(p)
            return
        items = [(k, v) for k, v in p.items() if k != "attributes"]
        items += [(f"  {k}", v) for k, v in p["attributes"].items()]
        kv(f"product {p['gtin']}", items)
