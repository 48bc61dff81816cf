"""``serialvault drill``: plans under change control (new, validate, record, plans)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from serialvault.app import drill as ops
from serialvault.cli.common import (
    DbOpt,
    JsonOpt,
    PasswordFileOpt,
    ReasonOpt,
    SignerOpt,
    handled,
    kv,
    out,
    print_json,
    read_password,
    settings,
    signer_id,
    table,
)
from serialvault.drill.plan import SCENARIOS
from serialvault.errors import InputError, IntegrityFailure

app = typer.Typer(help="Backup/restore drills: plans under change control.", no_args_is_help=True)


@app.command("new")
def drill_new(
    scenario: Annotated[str, typer.Option("--scenario", help=f"One of: {', '.join(SCENARIOS)}.")],
    out_file: Annotated[Path, typer.Option("--out", help="The plan file to write (TOML).")],
    plan_id: Annotated[
        str | None, typer.Option("--id", help="Plan id [default: the scenario name].")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    db: DbOpt = None,
    reason: ReasonOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Write a commented plan that runs as it is; record it in the log."""
    with handled(json_out):
        rec = ops.new_plan(
            settings(),
            db,
            scenario,
            out_file,
            plan_id=plan_id,
            force=force,
            reason=reason,
        )
        d = {"plan": str(out_file), **rec.version.to_dict(), "change_id": rec.change_id}
        if json_out:
            print_json(d)
        else:
            kv(f"plan {rec.plan.id} written and recorded", list(d.items()))


@app.command("validate")
def drill_validate(
    plan_file: Annotated[Path, typer.Argument(help="The plan (TOML).")],
    json_out: JsonOpt = False,
) -> None:
    """Check a plan; every problem is named (field and what is wrong)."""
    with handled(json_out):
        plan = ops.validate_plan(plan_file)
        if json_out:
            print_json(plan.to_dict())
        else:
            out.print(f"{plan_file}: plan {plan.id} ({plan.scenario.name}) is valid")


@app.command("record")
def drill_record(
    plan_file: Annotated[Path, typer.Argument(help="The plan (TOML).")],
    reason: Annotated[str, typer.Option("--reason", help="Why the plan changed (recorded).")],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Record the plan's current text in the log (nothing new if it did not change)."""
    with handled(json_out):
        rec = ops.record(settings(), db, plan_file, reason=reason)
        version, plan = rec.version, rec.plan
        d = {"recorded": rec.new, **version.to_dict(), "change_id": rec.change_id}
        if json_out:
            print_json(d)
        elif rec.new:
            kv(f"plan {plan.id} version {version.version} recorded", list(d.items()))
        else:
            out.print(
                f"plan {plan.id} unchanged since version {version.version} (seq {version.seq})"
            )
        if rec.change_id and not json_out:
            out.print(
                f"awaiting approval as {rec.change_id}: a drill runs it once a qa user approves"
                f" it (`serialvault change approve {rec.change_id}`)"
            )


@app.command("plans")
def drill_plans(
    plan_id: Annotated[str | None, typer.Argument(help="One plan's versions.")] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Recorded plan versions: who recorded which text (SHA-256), when and why."""
    with handled(json_out):
        versions = ops.plans(settings(), db, plan_id)
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
    json_out: JsonOpt = False,
) -> None:
    """Run a drill: baseline, backup, fault on sandboxes, restore, reconcile, verdict.

    Exit 0 only when every criterion passes; 8 when one fails; 13 when none fails but
    one is inconclusive.
    """

    def step(phase: str, message: str) -> None:
        if not json_out:
            out.print(f"[bold]{phase}[/bold]: {message}")

    with handled(json_out):
        run = ops.run(
            settings(),
            db,
            plan_file,
            policy=policy,
            copies=to or [],
            key=key,
            signing_key=signing_key,
            workdir=workdir,
            seed=seed,
            on_step=step,
        )
        result, package = run.result, run.outputs.package
        if json_out:
            print_json(run.to_dict())
        else:
            table(
                f"drill {result.drill_id}: {result.verdict.upper()}",
                ["criterion", "objective", "measured", "result"],
                [[c.name, c.objective, c.measured, c.status] for c in result.criteria],
            )
            for f in result.findings:
                out.print(f"  finding: {f}")
            out.print(f"report: {package / 'report.html'} and {package / 'report.pdf'}")
            out.print(f"evidence package: {run.outputs.zipped}")
    raise typer.Exit(run.exit_code)


@app.command("list")
def drill_list(
    plan_id: Annotated[str | None, typer.Option("--plan", help="One plan's runs.")] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The drill register: every run, its plan, verdict, RTO and RPO, when and by whom."""
    with handled(json_out):
        runs = ops.register(settings(), db, plan_id)
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
                    r["by"],
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
    with handled(json_out):
        doc = ops.show(settings(), db, drill_id, workdir)
        if json_out:
            print_json(doc)
            return
        kv(f"drill {drill_id}", list(doc["record"].items()))
        for sig in doc["signatures"]:
            out.print(
                f"signed: {sig['meaning']} by {sig['name']} ({sig['signer']}) at"
                f" {sig['signed_at']}, SHA-256 {sig['sha256'][:16]}… (seq {sig['seq']})"
            )
        if not doc["signatures"]:
            out.print("not signed off")
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
            out.print(f"(no result file at {workdir / drill_id / 'result.json'})")


@app.command("due")
def drill_due(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Plans overdue for their frequency, or never run (most overdue first)."""
    with handled(json_out):
        rows = ops.due(settings(), db)
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
    with handled(json_out):
        check = ops.verify_evidence(
            settings(), package, public_key=public_key, reviewer_keys=reviewer or []
        )
        if json_out:
            print_json(check.to_dict())
        elif check.ok:
            what = (
                f"inspection pack {check.pack_id}" if check.pack_id else f"drill {check.drill_id}"
            )
            out.print(
                f"{package}: [green]intact[/green] — {what}, {check.files}"
                f" files, signature good; {len(check.signoffs)} sign-off(s)"
            )
            for so in check.signoffs:  # only sign-offs whose signature verified get here
                who = f"{so['name']} ({so['signer']})" if so.get("name") else so["signer"]
                out.print(
                    f"  {so['meaning']} by {who} at {so['signed_at']}"
                    f" (signature verified with reviewer key {so['key_id']})"
                )
        else:
            out.print(f"{package}: [red]{len(check.findings)} finding(s)[/red]")
            for f in check.findings:
                out.print(f"  {f}")
    if not check.ok:
        raise typer.Exit(IntegrityFailure.exit_code)


def _passphrase(confirm: bool) -> bytes:
    env = settings().reviewer_passphrase
    if env:
        return env.encode()
    if not sys.stdin.isatty():
        raise InputError(
            "no passphrase: set SERIALVAULT_REVIEWER_PASSPHRASE, or run on a terminal to be"
            " asked for it"
        )
    return str(typer.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm)).encode()


@evidence_app.command("reviewer-key")
def evidence_reviewer_key(
    out_file: Annotated[Path, typer.Option("--out", help="The reviewer's key file (PEM).")],
    json_out: JsonOpt = False,
) -> None:
    """Create a reviewer's own signing key, encrypted with their passphrase (mode 0600)."""
    with handled(json_out):
        d = ops.reviewer_key(out_file, _passphrase(confirm=True))
        if json_out:
            print_json(d)
        else:
            kv("reviewer key created", list(d.items()))


@evidence_app.command("sign-off")
def evidence_sign_off(
    package: Annotated[Path, typer.Argument(help="The evidence folder.")],
    key_file: Annotated[
        Path, typer.Option("--key", help="Your own reviewer key (PEM), registered to you.")
    ],
    meaning: Annotated[
        str,
        typer.Option("--meaning", help="reviewed, approved, verified, responsible or authored."),
    ] = "reviewed",
    password_file: PasswordFileOpt = None,
    user: SignerOpt = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Sign a drill's evidence as the logged-in qa user (an electronic signature).

    21 CFR 11.50/11.70/11.200: the signature record shows your full name, the UTC time
    and the meaning, is linked to the SHA-256 of the package's checksums, and needs your
    password re-entered; your Ed25519 key countersigns the package for offline checking.
    """
    with handled(json_out):
        password = read_password(password_file, "Password (signature): ")
        d = ops.sign_off_evidence(
            settings(),
            db,
            package,
            key_file=key_file,
            passphrase=_passphrase(confirm=False),
            password=password,
            meaning=meaning,
            user_entered=signer_id(user),
        )
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
    with handled(json_out):
        d = ops.trend(settings(), db, out_file, plan_id)
        if json_out:
            print_json(d)
        else:
            out.print(f"{out_file}: {d['drills']} drill(s)")
