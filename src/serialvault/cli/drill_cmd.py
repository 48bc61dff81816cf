"""``serialvault drill``: plans under change control (new, validate, record, plans)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from serialvault.cli.common import (
    ActorOpt,
    DbOpt,
    JsonOpt,
    ReasonOpt,
    actor_name,
    handled,
    kv,
    open_repo,
    out,
    print_json,
    settings,
    table,
    write_output,
)
from serialvault.domain.records import DRILL_SIGNOFF
from serialvault.drill import plan as plan_mod
from serialvault.drill.register import plan_history, record_plan
from serialvault.errors import (
    ConflictError,
    DrillInconclusive,
    InputError,
    IntegrityFailure,
    SerialvaultError,
)

app = typer.Typer(help="Backup/restore drills: plans under change control.", no_args_is_help=True)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read plan {path}: {exc.strerror or exc}") from None


@app.command("new")
def drill_new(
    scenario: Annotated[
        str, typer.Option("--scenario", help=f"One of: {', '.join(plan_mod.SCENARIOS)}.")
    ],
    out_file: Annotated[Path, typer.Option("--out", help="The plan file to write (TOML).")],
    plan_id: Annotated[
        str | None, typer.Option("--id", help="Plan id [default: the scenario name].")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    db: DbOpt = None,
    actor: ActorOpt = None,
    reason: ReasonOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Write a commented plan that runs as it is; record it in the log."""
    with handled(json_out):
        text = plan_mod.template(scenario, plan_id)
        plan = plan_mod.parse_plan(text, str(out_file))
        if out_file.exists() and not force:
            raise ConflictError(f"{out_file} exists: choose another --out, or --force")
        repo = open_repo(db)
        out_file.parent.mkdir(parents=True, exist_ok=True)
        write_output(out_file, text.encode("utf-8"))
        version, _new = record_plan(
            repo,
            plan,
            text,
            out_file.name,
            actor=actor_name(actor),
            reason=reason or "plan created",
        )
        d = {"plan": str(out_file), **version.to_dict()}
        if json_out:
            print_json(d)
        else:
            kv(f"plan {plan.id} written and recorded", list(d.items()))


@app.command("validate")
def drill_validate(
    plan_file: Annotated[Path, typer.Argument(help="The plan (TOML).")],
    json_out: JsonOpt = False,
) -> None:
    """Check a plan; every problem is named (field and what is wrong)."""
    with handled(json_out):
        plan = plan_mod.parse_plan(_read(plan_file), str(plan_file))
        if json_out:
            print_json(plan.to_dict())
        else:
            out.print(f"{plan_file}: plan {plan.id} ({plan.scenario.name}) is valid")


@app.command("record")
def drill_record(
    plan_file: Annotated[Path, typer.Argument(help="The plan (TOML).")],
    reason: Annotated[str, typer.Option("--reason", help="Why the plan changed (recorded).")],
    db: DbOpt = None,
    actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Record the plan's current text in the log (nothing new if it did not change)."""
    with handled(json_out):
        text = _read(plan_file)
        plan = plan_mod.parse_plan(text, str(plan_file))
        version, new = record_plan(
            open_repo(db), plan, text, plan_file.name, actor=actor_name(actor), reason=reason
        )
        d = {"recorded": new, **version.to_dict()}
        if json_out:
            print_json(d)
        elif new:
            kv(f"plan {plan.id} version {version.version} recorded", list(d.items()))
        else:
            out.print(
                f"plan {plan.id} unchanged since version {version.version} (seq {version.seq})"
            )


@app.command("plans")
def drill_plans(
    plan_id: Annotated[str | None, typer.Argument(help="One plan's versions.")] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Recorded plan versions: who recorded which text (SHA-256), when and why."""
    with handled(json_out):
        versions = plan_history(open_repo(db), plan_id)
        if json_out:
            print_json([v.to_dict() for v in versions])
            return
        table(
            "drill plans",
            ["plan", "version", "seq", "recorded at", "by", "reason", "sha256"],
            [
                [v.plan_id, v.version, v.seq, v.recorded_at, v.actor, v.reason, v.sha256[:16]]
                for v in versions
            ],
        )


@app.command("run")
def drill_run(
    plan_file: Annotated[Path, typer.Argument(help="The plan (TOML).")],
    db: DbOpt = None,
    policy: Annotated[
        str | None, typer.Option("--policy", help="Backup policy TOML [SERIALVAULT_POLICY].")
    ] = None,
    to: Annotated[
        list[str] | None, typer.Option("--to", help="A copy by URL (repeatable).")
    ] = None,
    key: Annotated[str | None, typer.Option("--key", help="Backup encryption key file.")] = None,
    signing_key: Annotated[
        str | None, typer.Option("--signing-key", help="Manifest signing key file.")
    ] = None,
    workdir: Annotated[
        Path, typer.Option("--workdir", help="Where runs keep their sandboxes and results.")
    ] = Path("drill-runs"),
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed for the random choices (faults).")
    ] = None,
    actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run a drill: baseline, backup, fault on sandboxes, restore, reconcile, verdict.

    Exit 0 only when every criterion passes; 8 when one fails; 13 when none fails but
    one is inconclusive.
    """
    from serialvault.backup.copies import select_copies
    from serialvault.backup.policy import load_policy
    from serialvault.drill.runner import run_drill

    with handled(json_out):
        text = _read(plan_file)
        plan = plan_mod.parse_plan(text, str(plan_file))
        pol = load_policy(policy, key=key, signing_key=signing_key, settings=settings())
        copies = select_copies(pol, [*plan.copies, *(to or [])])
        repo = open_repo(plan.source or db)
        who = actor_name(actor)
        record_plan(repo, plan, text, plan_file.name, actor=who, reason="used by drill run")

        def step(phase: str, message: str) -> None:
            if not json_out:
                out.print(f"[bold]{phase}[/bold]: {message}")

        result = run_drill(
            plan,
            plan_mod.plan_sha256(text),
            source=repo,
            policy=pol,
            copies=copies,
            verify_key=pol.load_verify_key(),
            key=pol.load_encryption_key(),
            workdir=workdir,
            actor=who,
            seed=seed,
            on_step=step,
        )
        from serialvault.drill.evidence import write_package

        doc = result.to_dict()
        folder = (workdir / result.drill_id).resolve()
        from serialvault.drill.register import drill_runs

        package, zipped = write_package(
            result, folder / "evidence", pol.load_signing_key(), drill_runs(repo, plan.id)[-50:]
        )
        (folder / "result.json").write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
        doc["result_file"] = str(folder / "result.json")
        doc["evidence"] = {
            "folder": str(package),
            "zip": str(zipped),
            "report_html": str(package / "report.html"),
            "report_pdf": str(package / "report.pdf"),
            "evidence_json": str(package / "evidence.json"),
        }
        if json_out:
            print_json(doc)
        else:
            table(
                f"drill {result.drill_id}: {result.verdict.upper()}",
                ["criterion", "objective", "measured", "result"],
                [[c.name, c.objective, c.measured, c.status] for c in result.criteria],
            )
            for f in result.findings:
                out.print(f"  finding: {f}")
            out.print(f"report: {package / 'report.html'} and {package / 'report.pdf'}")
            out.print(f"evidence package: {zipped}")
    code = {"pass": 0, "fail": IntegrityFailure.exit_code}.get(
        result.verdict, DrillInconclusive.exit_code
    )
    raise typer.Exit(code)


@app.command("list")
def drill_list(
    plan_id: Annotated[str | None, typer.Option("--plan", help="One plan's runs.")] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The drill register: every run, its plan, verdict, RTO and RPO, when and by whom."""
    from serialvault.drill.register import drill_runs

    with handled(json_out):
        runs = drill_runs(open_repo(db), plan_id)
        if json_out:
            print_json(runs)
            return
        table(
            "drill register",
            ["drill", "plan", "scenario", "verdict", "RTO s", "RPO records", "finished", "by"],
            [
                [
                    r["drill_id"],
                    r["plan"],
                    r["scenario"],
                    r["verdict"],
                    "-" if r["rto_s"] is None else f"{r['rto_s']:.2f}",
                    "-" if r["rpo_records"] is None else r["rpo_records"],
                    r["finished_at"],
                    r["actor"],
                ]
                for r in runs
            ],
        )


@app.command("show")
def drill_show(
    drill_id: Annotated[str, typer.Argument(help="A drill id (from drill list).")],
    db: DbOpt = None,
    workdir: Annotated[
        Path, typer.Option("--workdir", help="Where runs keep their results.")
    ] = Path("drill-runs"),
    json_out: JsonOpt = False,
) -> None:
    """One run: its log record, and its full result when the result file is here."""
    from serialvault.drill.register import drill_runs
    from serialvault.errors import NotFound

    with handled(json_out):
        found = [r for r in drill_runs(open_repo(db)) if r["drill_id"] == drill_id]
        if not found:
            raise NotFound(f"no drill {drill_id!r} in the register (see drill list)")
        doc: dict[str, object] = {"record": found[0]}
        result = workdir / drill_id / "result.json"  # written next to evidence/
        if result.is_file():
            doc["result"] = orjson.loads(result.read_bytes())
            doc["result_file"] = str(result.resolve())
        if json_out:
            print_json(doc)
            return
        kv(f"drill {drill_id}", list(found[0].items()))
        if "result" in doc:
            res = doc["result"]
            assert isinstance(res, dict)
            table(
                "criteria",
                ["criterion", "objective", "measured", "result"],
                [
                    [c["criterion"], c["objective"], c["measured"], c["status"]]
                    for c in res["criteria"]
                ],
            )
        else:
            out.print(f"(no result file at {result})")


@app.command("due")
def drill_due(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Plans overdue for their frequency, or never run (most overdue first)."""
    from serialvault.drill.register import due
    from serialvault.timefmt import now_utc

    with handled(json_out):
        rows = due(open_repo(db), now_utc())
        if json_out:
            print_json(rows)
            return
        if not rows:
            out.print("no drill is due")
            return
        table(
            "drills due",
            ["plan", "scenario", "every (days)", "last run", "verdict", "overdue (days)"],
            [
                [
                    r["plan"],
                    r["scenario"],
                    f"{r['frequency_s'] / 86400:g}",
                    r["last_run"] or "never",
                    r["last_verdict"] or "-",
                    "-" if r["overdue_s"] is None else f"{r['overdue_s'] / 86400:.1f}",
                ]
                for r in rows
            ],
        )


evidence_app = typer.Typer(
    help="Drill evidence packages: verify, sign off, reviewer keys.", no_args_is_help=True
)


@evidence_app.command("verify")
def evidence_verify(
    package: Annotated[Path, typer.Argument(help="An evidence folder or its zip.")],
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key", help="The signing public key [policy / SERIALVAULT_SIGNING_KEY]."
        ),
    ] = None,
    reviewer: Annotated[
        list[Path] | None,
        typer.Option("--reviewer-key", help="A reviewer's public key, to check sign-offs."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check every byte of a package against its signed checksums; exit 8 on a finding."""
    from serialvault.backup.crypto import load_verify_key
    from serialvault.backup.policy import load_policy
    from serialvault.drill.evidence import verify_package

    with handled(json_out):
        vk = (
            load_verify_key(public_key)
            if public_key
            else load_policy(None, settings=settings()).load_verify_key()
        )
        check = verify_package(package, vk, [load_verify_key(r) for r in (reviewer or [])])
        if json_out:
            print_json(check.to_dict())
        elif check.ok:
            out.print(
                f"{package}: [green]intact[/green] — drill {check.drill_id}, {check.files}"
                f" files, signature good; {len(check.signoffs)} sign-off(s)"
            )
            for so in check.signoffs:  # only sign-offs whose signature verified get here
                out.print(
                    f"  {so['meaning']} by {so['signer']} at {so['signed_at']}"
                    f" (signature verified with reviewer key {so['key_id']})"
                )
        else:
            out.print(f"{package}: [red]{len(check.findings)} finding(s)[/red]")
            for f in check.findings:
                out.print(f"  {f}")
    if not check.ok:
        raise typer.Exit(IntegrityFailure.exit_code)


def _passphrase(confirm: bool) -> bytes:
    import os

    env = os.environ.get("SERIALVAULT_REVIEWER_PASSPHRASE")
    if env:
        return env.encode()
    return str(typer.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm)).encode()


@evidence_app.command("reviewer-key")
def evidence_reviewer_key(
    out_file: Annotated[Path, typer.Option("--out", help="The reviewer's key file (PEM).")],
    json_out: JsonOpt = False,
) -> None:
    """Create a reviewer's own signing key, encrypted with their passphrase (mode 0600)."""
    from serialvault.drill.evidence import generate_reviewer_key

    with handled(json_out):
        pub = generate_reviewer_key(out_file, _passphrase(confirm=True))
        d = {
            "key": str(out_file),
            "public_key": str(out_file.with_suffix(".pub")),
            "key_id": pub.key_id,
        }
        if json_out:
            print_json(d)
        else:
            kv("reviewer key created", list(d.items()))


@evidence_app.command("sign-off")
def evidence_sign_off(
    package: Annotated[Path, typer.Argument(help="The evidence folder.")],
    key_file: Annotated[Path, typer.Option("--key", help="The reviewer's own key (PEM).")],
    name: Annotated[str, typer.Option("--name", help="The reviewer's full name.")],
    meaning: Annotated[
        str, typer.Option("--meaning", help="What the signature means: review or approval.")
    ] = "review",
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Countersign a package (name, meaning, UTC time) and record the signature in the log.

    21 CFR 11.50: the printed name, the date and time, and the meaning of the signature.
    The signer is identified by their own key and passphrase; user accounts come later.
    """
    from serialvault.drill.evidence import load_reviewer_key, sign_off, verify_package
    from serialvault.timefmt import now_utc

    with handled(json_out):
        key = load_reviewer_key(key_file, _passphrase(confirm=False))
        sig = package / "signature.json"
        if not sig.is_file():
            raise InputError(f"{package} is not an evidence folder (no signature.json)")
        try:
            signer_doc = orjson.loads(sig.read_bytes())
        except orjson.JSONDecodeError:
            signer_doc = None
        if not isinstance(signer_doc, dict):
            raise IntegrityFailure(f"{sig} is not a signature document: not signing it")
        from serialvault.backup.policy import load_policy

        try:
            vk = load_policy(None, settings=settings()).load_verify_key()
        except SerialvaultError:
            vk = None  # no key here to check with: the reviewer signs what they reviewed
        if vk is not None:
            check = verify_package(package, vk)
            if not check.ok:
                raise IntegrityFailure(
                    f"{package} does not verify: {'; '.join(check.findings)}; not signing it"
                )
        repo = open_repo(db)
        doc, path = sign_off(package, key, signer=name, meaning=meaning, signed_at=now_utc())
        rec = repo.append(
            DRILL_SIGNOFF,
            {
                "drill_id": signer_doc.get("drill_id"),
                "signer": name,
                "meaning": meaning,
                "signed_at": doc["signed_at"],
                "key_id": doc["signature"]["key_id"],
                "checksums_sha256": doc["checksums_sha256"],
            },
            name,
            f"{meaning} of drill {signer_doc.get('drill_id')}",
        )
        d = {
            "signoff": str(path),
            "seq": rec.seq,
            **{k: doc[k] for k in ("signer", "meaning", "signed_at")},
        }
        if json_out:
            print_json(d)
        else:
            kv("signed off", list(d.items()))


@app.command("trend")
def drill_trend(
    out_file: Annotated[Path, typer.Option("--out", help="The PNG to write.")],
    plan_id: Annotated[str | None, typer.Option("--plan", help="One plan's drills.")] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Chart RTO and RPO per drill over time (PNG), from the register."""
    from serialvault.drill.chart import trend_png
    from serialvault.drill.register import drill_runs
    from serialvault.errors import NotFound

    with handled(json_out):
        runs = drill_runs(open_repo(db), plan_id)
        if not runs:
            raise NotFound(f"no drill{' of plan ' + plan_id if plan_id else ''} in the register")
        write_output(out_file, trend_png(runs, f"{plan_id or 'all plans'}: RTO and RPO per drill"))
        d = {"chart": str(out_file), "drills": len(runs)}
        if json_out:
            print_json(d)
        else:
            out.print(f"{out_file}: {len(runs)} drill(s)")
