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
    market: Annotated[
        list[str] | None,
        typer.Option("--market", help="ISO 3166 country code of a market (repeatable)."),
    ] = None,
    serial_format: Annotated[
        str | None,
        typer.Option("--serial-format", help="The serials' format, e.g. 'alphanumeric 1-20'."),
    ] = None,
    update: Annotated[
        bool, typer.Option("--update", help="Record a new version of an existing product.")
    ] = False,
    db: DbOpt = None,
    reason: ReasonOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Propose a product (or, with --update and --reason, a new version of it): a draft
    change that a qa user other than you approves (`change approve ID`)."""
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
                "markets": ",".join(m.strip().upper() for m in market) if market else None,
                "serialFormat": serial_format,
            },
        )
        change = ops.add(settings(), db, product, reason=reason, update=update)
        _show_draft(change, json_out)


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


def _show_draft(d: ops.ProductDraft, json_out: bool) -> None:
    if json_out:
        print_json(d.to_dict())
    elif d.change_id is None:
        out.print(f"product {d.gtin}: unchanged (version {d.version}); nothing to approve")
    else:
        out.print(
            f"product {d.gtin}: version {d.version} drafted as {d.change_id}; it takes effect"
            f" once a qa user approves it (`serialvault change approve {d.change_id}`)"
        )


@app.command("retire")
def retire(
    gtin: Annotated[str, typer.Argument(help="The product's GTIN.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it may no longer be made.")],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Propose that a product may no longer be commissioned (a draft change)."""
    with handled(json_out):
        _show_draft(ops.retire(settings(), db, gtin, reason=reason), json_out)


@app.command("history")
def history(
    gtin: Annotated[str, typer.Argument(help="The product's GTIN.")],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Every version and change of a product: drafted, approved (effective from),
    rejected, recorded before change control."""
    with handled(json_out):
        rows = ops.history(settings(), db, gtin)
        if json_out:
            print_json(rows)
            return
        table(
            f"product {gtin}",
            ["seq", "when", "what", "by", "reason", "decided by", "effective from"],
            [
                [
                    r["seq"],
                    r["recorded_at"],
                    r["what"],
                    r["by"],
                    r["reason"],
                    r.get("decided_by") or "",
                    r.get("effective_from") or "",
                ]
                for r in rows
            ],
        )
