"""``serialvault audit review …`` and ``serialvault user review …``: periodic reviews.

The bare group writes a review (``audit review --from T --to T --out DIR``, ``user
review --out DIR``); ``sign``, ``verify`` and ``due`` are its commands. Mounted under
the ``audit`` and ``user`` groups by their modules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from serialvault.app import reviews as ops
from serialvault.cli.common import (
    DbOpt,
    JsonOpt,
    PasswordFileOpt,
    ReasonOpt,
    SignerOpt,
    err,
    handled,
    kv,
    out,
    print_json,
    progress,
    read_password,
    settings,
    signer_id,
    table,
)
from serialvault.errors import IntegrityFailure, UsageError


def _group(help_text: str) -> typer.Typer:
    return typer.Typer(
        help=help_text, no_args_is_help=True, invoke_without_command=True, add_completion=False
    )


audit_review_app = _group(
    "Audit-trail review of a period: --from T --to T --out DIR writes and records it;"
    " sign, verify, due, policy."
)
user_review_app = _group("Access review: --out DIR writes and records it; sign, verify, due.")
policy_app = typer.Typer(help="The review policy (working hours, intervals, dormant days).")
audit_review_app.add_typer(policy_app, name="policy")

OutOpt = Annotated[
    Path | None, typer.Option("--out", help="Folder for review.json, report.html, report.pdf.")
]
FileArg = Annotated[Path, typer.Argument(help="The review's folder or its review.json.")]
UserOpt = SignerOpt
MeaningOpt = Annotated[
    str, typer.Option("--meaning", help="What the signature means (21 CFR 11.50).")
]


def _written(res: ops.ReviewWritten, json_out: bool) -> None:
    if json_out:
        print_json(res.to_dict())
        return
    d = res.to_dict()
    what = "audit-trail review" if res.kind == "audit" else "access review"
    out.print(f"{what} {res.review_id} recorded at seq {res.seq}, written to {res.folder}")
    if res.kind == "audit":
        out.print(
            f"seq {d['first_seq']}–{d['last_seq']}: {d['records']} records, {d['flagged']} flagged"
            + (
                f" ({', '.join(f'{k} {v}' for k, v in d['by_flag'].items())})"
                if d["by_flag"]
                else ""
            )
        )
    else:
        c = d["counts"]
        out.print(
            f"{c['accounts']} accounts ({c['with_findings']} needing a decision),"
            f" {c['changes']} grants and revocations since the last signed review"
        )
    if d["excluded_signers"]:
        out.print(
            f"may not sign it (their own actions are listed): {', '.join(d['excluded_signers'])}"
        )
    for name, sha in res.files.items():
        out.print(f"  {name}  {sha}")
    cmd = "audit review" if res.kind == "audit" else "user review"
    out.print(f"a qa user signs it: serialvault {cmd} sign {res.folder}")


@audit_review_app.callback()
def audit_review(
    ctx: typer.Context,
    start: Annotated[
        str | None,
        typer.Option("--from", help="Start (a date: midnight in the site's time zone, or UTC)."),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="End, excluded (date or timestamp).")
    ] = None,
    out_dir: OutOpt = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Review the audit trail of [--from, --to) into --out (qa): flagged entries first,
    counts per user, kind and role, every entry with its log seq; recorded in the log
    with the SHA-256 of each file (21 CFR 11.10(e), Annex 11 §9)."""
    if ctx.invoked_subcommand is not None:
        return
    with handled(json_out):
        if start is None or end is None or out_dir is None:
            raise UsageError("give --from, --to and --out (or a command: sign, verify, due)")
        with progress(json_out) as bar:
            task = bar.add_task("reviewing records", total=None)
            res = ops.audit_review(
                settings(),
                db,
                start=start,
                end=end,
                out=out_dir,
                on_progress=lambda n: bar.update(task, completed=n),
            )
        _written(res, json_out)


@user_review_app.callback()
def user_review(
    ctx: typer.Context, out_dir: OutOpt = None, db: DbOpt = None, json_out: JsonOpt = False
) -> None:
    """Review every account into --out (qa): roles, status, last log-in, tokens, grants
    and revocations since the last signed review, dormant accounts (Annex 11 (2025
    draft) §11); recorded with the SHA-256 of each file."""
    if ctx.invoked_subcommand is not None:
        return
    with handled(json_out):
        if out_dir is None:
            raise UsageError("give --out DIR (or a command: sign, verify, due)")
        _written(ops.access_review(settings(), db, out=out_dir), json_out)


def _sign(
    kind: str,
    path: Path,
    password_file: Path | None,
    user: str | None,
    meaning: str,
    db: str | None,
    json_out: bool,
) -> None:
    with handled(json_out):
        password = read_password(password_file, "Password (signature): ")
        res = ops.sign_review(
            settings(),
            db,
            path,
            kind=kind,
            password=password,
            user_entered=signer_id(user),
            meaning=meaning,
        )
        if json_out:
            print_json(res)
        else:
            out.print(
                f"review {res['review']} signed by {res['name']} ({res['signer']}),"
                f" meaning {res['meaning']}, at {res['signed_at']} (signature seq"
                f" {res['signature_seq']}, sign-off seq {res['seq']})"
            )


def _verify(kind: str, path: Path, db: str | None, json_out: bool) -> None:
    with handled(json_out):
        res = ops.verify_review(settings(), db, path, kind=kind)
        if json_out:
            print_json(res.to_dict())
        else:
            d = res.to_dict()
            state = "verifies" if res.ok else "does NOT verify"
            out.print(f"review {res.review_id} (seq {res.seq}) {state}")
            for s in res.signatures:
                mark = "verified" if s["verified"] else "NOT verified"
                out.print(
                    f"  signed by {s['name']} ({s['signer']}), {s['meaning']},"
                    f" {s['signed_at']}: {mark}"
                )
            if not d["signed"]:
                out.print("  no verified signature: the review is not signed off")
            for f in res.findings:
                err.print(f"[bold red]finding[/]: {f}")
        if not res.ok:
            raise typer.Exit(IntegrityFailure.exit_code)


@audit_review_app.command("sign")
def audit_sign(
    path: FileArg,
    password_file: PasswordFileOpt = None,
    user: UserOpt = None,
    meaning: MeaningOpt = "reviewed",
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Sign a recorded audit-trail review (qa; password re-entered): refused if a file was
    altered, or if the review lists the signer's own privileged actions."""
    _sign("audit", path, password_file, user, meaning, db, json_out)


@user_review_app.command("sign")
def user_sign(
    path: FileArg,
    password_file: PasswordFileOpt = None,
    user: UserOpt = None,
    meaning: MeaningOpt = "reviewed",
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Sign a recorded access review (qa; password re-entered): refused if a file was
    altered, or if the review lists grants the signer made."""
    _sign("access", path, password_file, user, meaning, db, json_out)


@audit_review_app.command("verify")
def audit_verify_review(path: FileArg, db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Recompute an audit-trail review's file hashes and signatures against the log
    (exit 8 when anything differs)."""
    _verify("audit", path, db, json_out)


@user_review_app.command("verify")
def user_verify_review(path: FileArg, db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Recompute an access review's file hashes and signatures against the log (exit 8
    when anything differs)."""
    _verify("access", path, db, json_out)


@audit_review_app.command("due")
def audit_due(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """The review periods no signed audit-trail review covers, and the reviews recorded."""
    with handled(json_out):
        res = ops.audit_due(settings(), db)
        if json_out:
            print_json(res)
            return
        out.print(f"{res['interval']} periods ({res['policy']}): {res['periods']} over so far")
        if res["due"]:
            table(
                "periods never covered by a signed review",
                ["period", "from (UTC)", "to (UTC)", "unsigned reviews"],
                [
                    [p["period"], p["from"], p["to"], ", ".join(p["unsigned_reviews"])]
                    for p in res["due"]
                ],
            )
        else:
            out.print("every period is covered by a signed review")
        if res["reviews"]:
            table(
                "reviews recorded",
                ["review", "seq", "from", "to", "records", "flagged", "signed by"],
                [
                    [
                        r["review"],
                        r["seq"],
                        r["from"],
                        r["to"],
                        r["records"],
                        r["flagged"],
                        ", ".join(r["signed_by"]) or "not signed",
                    ]
                    for r in res["reviews"]
                ],
            )


@user_review_app.command("due")
def user_due(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """When the last signed access review was, and whether one is due."""
    with handled(json_out):
        res = ops.access_due(settings(), db)
        if json_out:
            print_json(res)
            return
        last = res["last_signed"]
        items: list[tuple[str, Any]] = [
            ("every (days)", res["interval_days"]),
            (
                "last signed review",
                f"{last['review_id']} signed {last['signed_at']} by {', '.join(last['signed_by'])}"
                if last
                else "none",
            ),
            ("next due", res["next_due"] or "now"),
            ("due", "yes" if res["due"] else "no"),
            ("unsigned reviews", ", ".join(res["unsigned_reviews"]) or "-"),
        ]
        kv(f"access review ({res['policy']})", items)


@policy_app.command("show")
def policy_show(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """The review policy in force (its documented defaults until a version is approved)."""
    with handled(json_out):
        pol = ops.show_policy(settings(), db)
        if json_out:
            print_json(pol.to_dict())
        else:
            kv(pol.source, [(k, v) for k, v in pol.to_dict().items() if k not in ("source",)])


@policy_app.command("set")
def policy_set(
    setting: Annotated[
        list[str],
        typer.Argument(
            help="NAME=VALUE, e.g. timezone=Europe/Berlin working_days=mon,tue,wed,thu,fri"
            " work_start=06:00 work_end=22:00 audit_interval=monthly dormant_days=90."
        ),
    ],
    db: DbOpt = None,
    reason: ReasonOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Propose a new version of the review policy (qa or admin): a draft change that is
    in force once a qa user other than the proposer approves it."""
    with handled(json_out):
        changes: dict[str, str] = {}
        for item in setting:
            name, sep, value = item.partition("=")
            if not sep:
                raise UsageError(f"{item!r}: give NAME=VALUE")
            changes[name.strip()] = value
        c = ops.set_policy(settings(), db, changes, reason=reason)
        if json_out:
            print_json({"change_id": c.change_id, "status": c.status, "after": c.after})
        else:
            out.print(
                f"review policy version {c.version} drafted as {c.change_id}; in force once a"
                f" qa user other than {c.author} approves it (`serialvault change approve"
                f" {c.change_id}`)"
            )
