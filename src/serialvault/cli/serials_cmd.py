"""``serialvault serials …`` — serial number pools (EU FMD Delegated Regulation (EU)
2016/161 Art. 4): create a pool, allocate to a line, return unused serials, status,
and the capture policy for serials no pool handed out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from serialvault.app import serials as ops
from serialvault.cli.common import (
    DbOpt,
    JsonOpt,
    ReasonOpt,
    err,
    handled,
    kv,
    make_app,
    out,
    print_json,
    settings,
    table,
)
from serialvault.domain.serials import DEFAULT_ALPHABET, DEFAULT_LENGTH

app = make_app(
    "Serial number pools (EU FMD): pool create/list, allocate, return, status, export, policy."
)
pool_app = make_app("A GTIN's serial number pool: its alphabet, length and expected volume.")
policy_app = make_app("What capture does with a commissioned serial no pool handed out.")
app.add_typer(pool_app, name="pool")
app.add_typer(policy_app, name="policy")

_ALLOCATION_COLUMNS = ("id", "to", "at", "count", "allocated", "commissioned", "returned")
GtinArg = Annotated[str, typer.Argument(help="The product's GTIN (8, 12, 13 or 14 digits).")]


@pool_app.command("create")
def pool_create(
    gtin: GtinArg,
    expected: Annotated[
        int,
        typer.Option(
            "--expected",
            help="How many serials the pool will ever have in use: the EU FMD guessing"
            " bound (below 1 in 10,000) is checked for this volume, and no more is handed out.",
        ),
    ],
    length: Annotated[
        int, typer.Option("--length", help="Characters per serial (1-20).")
    ] = DEFAULT_LENGTH,
    alphabet: Annotated[
        str,
        typer.Option(
            "--alphabet",
            help="The symbols (letters, digits, ' - . ; = _); default: digits and upper-case"
            " letters without 0, O, 1, I.",
        ),
    ] = DEFAULT_ALPHABET,
    low_stock: Annotated[
        int | None,
        typer.Option("--low-stock", help="Warn when this few remain [default: a tenth]."),
    ] = None,
    update: Annotated[
        bool,
        typer.Option("--update", help="A new version of an existing pool (volume, threshold)."),
    ] = False,
    db: DbOpt = None,
    reason: ReasonOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a GTIN's serial number pool (qa or admin), refused when its alphabet and
    length cannot keep the probability of guessing a serial below 1 in 10,000."""
    with handled(json_out):
        done = ops.create_pool(
            settings(),
            db,
            gtin,
            expected=expected,
            length=length,
            alphabet=alphabet,
            low_stock=low_stock,
            update=update,
            reason=reason,
        )
        if json_out:
            print_json(done.to_dict())
            return
        p = done.pool
        what = "unchanged" if done.seq is None else f"version {p.version} recorded (seq {done.seq})"
        out.print(
            f"pool of GTIN {p.gtin}: {what}; {len(p.alphabet)}^{p.length} = {p.space:,} serials"
            f" for {p.expected:,} expected: a guess hits one with a probability of"
            f" {p.to_dict()['guess_odds']} (EU FMD: below 1 in 10,000)"
        )


@pool_app.command("list")
def pool_list(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Every pool and how it stands."""
    with handled(json_out):
        rows = ops.list_pools(settings(), db)
        if json_out:
            print_json(rows)
            return
        table(
            "serial number pools",
            ["GTIN", "alphabet", "length", "expected", "issued", "remaining", "guess", "low"],
            [
                [
                    r["pool"]["gtin"],
                    r["pool"]["alphabet"],
                    r["pool"]["length"],
                    f"{r['pool']['expected']:,}",
                    f"{r['issued']:,}",
                    f"{r['remaining']:,}",
                    r["pool"]["guess_odds"],
                    "LOW" if r["low_stock"] else "",
                ]
                for r in rows
            ],
        )


@app.command("allocate")
def allocate(
    gtin: GtinArg,
    count: Annotated[int, typer.Option("--count", help="How many serials.")],
    to: Annotated[str, typer.Option("--to", help="The line or order they go to.")],
    out_files: Annotated[
        list[Path] | None,
        typer.Option(
            "--out",
            help="Write the list: FILE.csv (serial, element string, Digital Link, EPC URN)"
            " or FILE.json (the EPCIS-ready epcList); repeatable.",
        ),
    ] = None,
    db: DbOpt = None,
    reason: ReasonOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Hand out new serials of a GTIN's pool to a line or order (operator, service, admin)."""
    with handled(json_out):
        done = ops.allocate(settings(), db, gtin, count, to=to, out=out_files, reason=reason)
        if json_out:
            print_json(done.to_dict(with_serials=not out_files))
        else:
            files = f", written to {', '.join(done.files)}" if done.files else ""
            out.print(
                f"{done.allocation_id}: {len(done.serials):,} serials of GTIN {done.gtin} to"
                f" {done.to}{files}; {done.remaining:,} remain in the pool"
            )
            if not out_files:
                out.print("\n".join(done.serials), soft_wrap=True)
        warning = done.warning()
        if warning:
            err.print(f"warning: {warning}")


@app.command("return")
def return_cmd(
    allocation: Annotated[str, typer.Argument(help="The allocation (AL-…).")],
    reason: Annotated[str, typer.Option("--reason", help="Why they were not used.")],
    serial: Annotated[
        list[str] | None, typer.Option("--serial", help="A serial to return (repeatable).")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Serials to return: one a line, or an allocation's CSV."),
    ] = None,
    all_unused: Annotated[
        bool, typer.Option("--all-unused", help="Every serial of it not yet commissioned.")
    ] = False,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Return unused serials of an allocation; they are never handed out again."""
    with handled(json_out):
        named = list(serial or []) + (ops.read_serials(file) if file is not None else [])
        done = ops.return_serials(
            settings(), db, allocation, serials=named, all_unused=all_unused, reason=reason
        )
        if json_out:
            print_json(done.to_dict())
            return
        out.print(
            f"{len(done.serials):,} serials of {done.allocation_id} (GTIN {done.gtin}) returned"
            f" (seq {done.seq}); returned serials are never handed out again"
        )


@app.command("status")
def status(gtin: GtinArg, db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """A pool: its serials by state, what remains, the low-stock warning, its allocations."""
    with handled(json_out):
        s = ops.status(settings(), db, gtin)
        if json_out:
            print_json(s)
            return
        p = s["pool"]
        kv(
            f"serial pool of GTIN {p['gtin']} (version {p['version']})",
            [
                ("alphabet", p["alphabet"]),
                ("length", p["length"]),
                ("space", f"{int(p['space']):,}"),
                ("expected", f"{p['expected']:,}"),
                ("guess probability", p["guess_odds"]),
                ("allocated (unused)", f"{s['allocated']:,}"),
                ("commissioned", f"{s['commissioned']:,}"),
                ("returned", f"{s['returned']:,}"),
                ("commissioned, never allocated", f"{s['unallocated']:,}"),
                ("remaining", f"{s['remaining']:,}"),
                ("low-stock threshold", f"{p['low_stock']:,}"),
            ],
        )
        if s["allocations"]:
            table(
                "allocations",
                ["id", "to", "at", "count", "unused", "commissioned", "returned"],
                [[a[k] for k in _ALLOCATION_COLUMNS] for a in s["allocations"]],
            )
        if s["warning"]:
            err.print(f"warning: {s['warning']}")


@app.command("export")
def export(
    allocation: Annotated[str, typer.Argument(help="The allocation (AL-…).")],
    out_files: Annotated[
        list[Path], typer.Option("--out", help="FILE.csv or FILE.json (repeatable).")
    ],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Write an allocation's list again, with the serials it still holds unused."""
    with handled(json_out):
        files = ops.export(settings(), db, allocation, out_files)
        if json_out:
            print_json({"files": files})
        else:
            out.print(f"written: {', '.join(files)}")


@policy_app.command("show")
def policy_show(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """The serial policy in force."""
    with handled(json_out):
        p = ops.policy(settings(), db)
        if json_out:
            print_json(p)
            return
        source = "default (no approved version)" if p["default"] else p["change"]
        kv(
            "serial policy",
            [
                ("unallocated", p["policy"]["unallocated"]),
                ("in force from", source),
                ("drafts", ", ".join(p["drafts"]) or "none"),
            ],
        )


@policy_app.command("set")
def policy_set(
    unallocated: Annotated[
        str,
        typer.Option(
            "--unallocated",
            help="reject: refuse the document; flag: capture it with one exception.",
        ),
    ],
    db: DbOpt = None,
    reason: ReasonOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Propose the serial policy (admin): a draft change a qa user approves."""
    with handled(json_out):
        c = ops.set_policy(settings(), db, unallocated, reason=reason)
        if json_out:
            print_json(c.to_dict(c.created_at))
            return
        out.print(
            f"serial policy version {c.version} drafted as {c.change_id}; it is in force once"
            f" a qa user approves it (`serialvault change approve {c.change_id}`)"
        )
