"""Repository commands: init, capture, status, exceptions, fingerprint, rebuild, audit."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from serialvault.cli.common import (
    ActorOpt,
    DbOpt,
    JsonOpt,
    ReasonOpt,
    actor_name,
    err,
    handled,
    kv,
    make_app,
    open_repo,
    out,
    print_json,
    progress,
    settings,
    table,
)
from serialvault.errors import InputError, SerialvaultError
from serialvault.settings import input_limits, load_extra_schemas
from serialvault.store import queries
from serialvault.store.capture import Capturer, CaptureResult
from serialvault.store.fingerprint import fingerprint
from serialvault.store.integrity import rebuild
from serialvault.store.repository import Repository

audit_app = make_app("Audit trail: verify the hash-chained log.")

DOC_SUFFIXES = (".json", ".jsonld", ".xml")


def init(db: DbOpt = None, actor: ActorOpt = None, json_out: JsonOpt = False) -> None:
    """Create the repository (or bring its schema up to date). Safe to run again."""
    with handled(json_out):
        repo = Repository.open(db, must_exist=False)
        created, head = repo.init(actor_name(actor))
        data = {
            "db": repo.display_url,
            "created": created,
            "head_seq": head.seq,
            "head_chain": head.chain_hash,
        }
        if json_out:
            print_json(data)
        else:
            what = "initialised" if created else "already initialised (schema up to date)"
            out.print(f"{repo.display_url}: {what}; head seq {head.seq}")


def _inputs(paths: list[str]) -> list[tuple[str, Path | None]]:
    found: list[tuple[str, Path | None]] = []
    for p in paths:
        if p == "-":
            found.append(("-", None))
            continue
        path = Path(p)
        if path.is_dir():
            files = sorted(
                f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in DOC_SUFFIXES
            )
            if not files:
                raise InputError(f"{p}: no .json, .jsonld or .xml documents in this folder")
            found += [(str(f), f) for f in files]
        elif path.is_file():
            found.append((p, path))
        else:
            raise InputError(f"{p}: no such file or folder")
    return found


def _outcomes(
    capturer: Capturer, inputs: list[tuple[str, Path | None]]
) -> Iterator[tuple[str, CaptureResult | SerialvaultError]]:
    """Capture outcomes in input order: files through the two-process pipeline, stdin inline."""
    files: list[Path] = []
    for name, path in inputs:
        if path is not None:
            files.append(path)
            continue
        yield from ((str(f), o) for f, o in capturer.capture_files(files))
        files = []
        try:
            yield name, capturer.capture_stream(sys.stdin.buffer, name)
        except SerialvaultError as exc:
            yield name, exc
    yield from ((str(f), o) for f, o in capturer.capture_files(files))


def capture(
    paths: Annotated[
        list[str], typer.Argument(help="EPCIS documents, folders of them, or - for stdin.")
    ],
    db: DbOpt = None,
    actor: ActorOpt = None,
    reason: ReasonOpt = None,
    keep_going: Annotated[
        bool,
        typer.Option("--keep-going", help="Continue with the next document after a rejection."),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Capture EPCIS documents (JSON-LD or XML, EPCIS 2.0 or 1.2), each all-or-nothing."""
    results: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    exit_code = 0
    with handled(json_out):
        inputs = _inputs(paths)
        repo = open_repo(db)
        capturer = Capturer(
            repo,
            actor=actor_name(actor),
            reason=reason or "EPCIS capture",
            extra_schemas=load_extra_schemas(),
            limits=input_limits(),
        )
        with progress(json_out) as bar:
            task = bar.add_task("capturing", total=len(inputs))
            for name, outcome in _outcomes(capturer, inputs):
                if isinstance(outcome, SerialvaultError):
                    exit_code = exit_code or outcome.exit_code
                    failures.append({"document": name, **outcome.to_dict()})
                    if not json_out:
                        err.print(Text.assemble(("rejected: ", "bold red"), outcome.message))
                    bar.advance(task)
                    if not keep_going:
                        break
                    continue
                res = outcome
                results.append(res.to_dict())
                if not json_out:
                    out.print(
                        f"{name}: {res.recorded} events recorded"
                        + (f", {res.duplicates} duplicates skipped" if res.duplicates else "")
                        + (f", {res.products_added} products added" if res.products_added else "")
                        + f" ({res.epcs} EPCs, {res.seconds:.2f}s) head seq {res.head_seq}"
                    )
                    for w in res.warnings:
                        err.print(f"[yellow]warning:[/] {w}")
                bar.advance(task)
    if results:
        repo.refresh_statistics()
    if json_out:
        print_json({"captured": results, "rejected": failures})
    elif len(inputs) > 1:
        out.print(
            f"{len(results)} of {len(inputs)} documents captured"
            + (f", {len(failures)} rejected" if failures else "")
        )
    if exit_code:
        raise typer.Exit(exit_code)


def status(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Summary: identifiers by kind and status, row counts, chain head, fingerprint."""
    with handled(json_out):
        repo = open_repo(db)
        with repo.read() as conn:
            counts = queries.counts(conn)
            units = queries.unit_summary(conn)
            fp = fingerprint(conn)
        head = repo.head()
        data = {
            "db": repo.display_url,
            "units": units,
            "counts": counts,
            "head_seq": head.seq,
            "head_chain": head.chain_hash,
            "head_recorded_at": head.recorded_at,
            "fingerprint": fp.value,
        }
        if json_out:
            print_json(data)
            return
        items: list[tuple[str, Any]] = [("repository", repo.display_url)]
        for kind, by_status in units.items():
            total = sum(by_status.values())
            detail = ", ".join(f"{s} {n}" for s, n in by_status.items())
            items.append((kind, f"{total} ({detail})"))
        items += [
            ("events", counts["events"]),
            ("products", counts["products"]),
            ("exceptions", counts["exceptions"]),
            ("log records", counts["log"]),
            ("chain head", f"seq {head.seq} {head.chain_hash}"),
            ("fingerprint", fp.value),
        ]
        kv("serialvault status", items)


def exceptions(
    db: DbOpt = None,
    status_filter: Annotated[
        str | None, typer.Option("--status", help="Only this status (e.g. open).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """List exception records (rejected input and other deviations)."""
    with handled(json_out):
        repo = open_repo(db)
        with repo.read() as conn:
            rows = queries.exceptions(conn, status_filter)
        if json_out:
            print_json(rows)
            return
        table(
            "exceptions",
            ["seq", "recorded at", "type", "status", "document", "reason"],
            [
                [
                    r["seq"],
                    r["recorded_at"],
                    r["type"],
                    r["status"],
                    r["document"],
                    r["reason"].splitlines()[0],
                ]
                for r in rows
            ],
        )


def fingerprint_cmd(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Print the order-independent digest of every projection (identical after rebuild/restore)."""
    with handled(json_out):
        repo = open_repo(db)
        with progress(json_out) as bar:
            task = bar.add_task("fingerprint", total=7)
            with repo.read() as conn:
                fp = fingerprint(conn, on_table=lambda _n: bar.advance(task))
        if json_out:
            print_json(fp.to_dict())
            return
        table(
            None,
            ["table", "rows", "sum"],
            [[k, v.rows, v.sum] for k, v in fp.tables.items()],
        )
        out.print(f"fingerprint {fp.value} (at seq {fp.head_seq})")


def rebuild_cmd(
    db: DbOpt = None,
    actor: ActorOpt = None,
    reason: ReasonOpt = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Only compare: replay the log into a scratch database and name every"
            " projection row that differs (R9); writes nothing, exit 8 on a difference.",
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Recreate every projection from the log; the fingerprint must not change."""
    with handled(json_out):
        repo = open_repo(db)
        if check:
            from serialvault.store.integrity import check_projections

            with repo.read() as conn:
                pc = check_projections(conn)
            if json_out:
                print_json(pc.to_dict())
            elif pc.ok:
                out.print(f"{pc.message} ({pc.rows_compared:,} rows, {pc.seconds:.2f}s)")
            else:
                err.print(f"[bold red]projections differ[/]: {pc.message}")
                for x in pc.examples:
                    err.print(f"  {x}")
            if not pc.ok:
                raise typer.Exit(8)
            return
        head = repo.head()
        with progress(json_out) as bar:
            task = bar.add_task("replaying log", total=head.seq)
            res = rebuild(
                repo,
                actor=actor_name(actor),
                reason=reason or "projections rebuilt from the log",
                on_progress=lambda s: bar.update(task, completed=s),
            )
        if json_out:
            print_json(res.to_dict())
        else:
            verdict = "identical" if res.identical else "DIFFERENT"
            out.print(
                f"replayed seq 1..{res.replayed_to} in {res.seconds:.2f}s;"
                f" fingerprint {verdict}: {res.after.value}"
            )
            if not res.identical:
                out.print(
                    f"before: {res.before.value};"
                    f" tables differing: {res.to_dict()['tables_differing']}"
                )
        if not res.identical:
            raise typer.Exit(8)


@audit_app.command("verify")
def audit_verify(
    db: DbOpt = None,
    policy: Annotated[
        str | None,
        typer.Option("--policy", help="Backup policy: its copies and keys give the anchors."),
    ] = None,
    public_key: Annotated[
        str | None,
        typer.Option("--public-key", help="Public key the checkpoints are checked with."),
    ] = None,
    copies: Annotated[
        bool,
        typer.Option(
            "--copies/--no-copies",
            help="Also compare with the manifests and checkpoints on the policy's copies.",
        ),
    ] = True,
    json_out: JsonOpt = False,
) -> None:
    """Walk the hash chain from genesis and compare it with the signed checkpoints kept
    outside the database (witness file, copies): names the first broken link, or the seq
    where history was rewritten or cut off."""
    from serialvault.backup.anchors import Witness, witness_path
    from serialvault.backup.copies import select_copies
    from serialvault.backup.guard import audit_log
    from serialvault.backup.policy import load_policy
    from serialvault.store.engine import sqlite_path

    with handled(json_out):
        repo = open_repo(db)
        pol = load_policy(policy, public_key=public_key, settings=settings())
        try:
            vk = pol.load_verify_key()
        except SerialvaultError:
            vk = None
        states = []
        if copies and pol.copies:
            states = [c.open() for c in select_copies(pol)]
        try:
            enc = pol.load_encryption_key()
        except SerialvaultError:
            enc = None
        rid = repo.meta().get("repository_id", "")
        witness = Witness(witness_path(sqlite_path(repo.url), rid, pol.witness))
        head = repo.head()
        with progress(json_out) as bar:
            task = bar.add_task("verifying chain", total=head.seq)
            res = audit_log(
                repo,
                verify=vk,
                witness=witness,
                states=states,
                key=enc,
                on_progress=lambda n: bar.update(task, completed=n),
            )
        a = res.audit
        if json_out:
            print_json(res.to_dict())
        elif res.ok:
            out.print(
                f"chain intact: {a.checked} records, head seq {a.head_seq} {a.head_chain}"
                f" ({a.seconds:.2f}s)"
            )
            rep = a.anchors
            if res.unanchored_reason:
                err.print(f"[yellow]not anchored[/]: {res.unanchored_reason}")
            elif rep is not None and rep.newest_agreeing is not None:
                out.print(
                    f"anchored: {rep.agreed} of {rep.anchors} checkpoint(s) agree, the newest"
                    f" at seq {rep.newest_agreeing.seq} ({rep.newest_agreeing.source});"
                    f" {', '.join(res.sources)}"
                )
        else:
            err.print(f"[bold red]audit trail NOT intact[/]: {a.problem or ''}")
            if res.first_difference:
                err.print(f"first difference from the backup: {res.first_difference}")
            for p in res.problems:
                err.print(f"  anchor problem: {p}")
        if not res.ok:
            raise typer.Exit(8)
