"""``serialvault keys|backup|restore``: keys, backups, catalog, verification, restore.

Each command reads the policy (``--policy``, ``SERIALVAULT_POLICY`` or ``serialvault.toml``),
picks the copies (``--copy NAME`` or ``--to URL``, repeatable; default every copy of the
policy) and calls one library function of ``serialvault.backup``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from serialvault.backup import copies as copies_mod
from serialvault.backup import follow as follow_mod
from serialvault.backup import planning, take, verify
from serialvault.backup import prune as prune_mod
from serialvault.backup import restore as restore_mod
from serialvault.backup.anchors import Witness, witness_files
from serialvault.backup.crypto import generate_keys
from serialvault.backup.policy import DEFAULT_KEY_DIR, Policy, load_policy, parse_duration
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
    progress,
    settings,
    table,
)
from serialvault.errors import (
    BackupError,
    IntegrityFailure,
    PlanWarning,
    SerialvaultError,
    UsageError,
)
from serialvault.store.engine import resolve_url, sqlite_path

keys_app = typer.Typer(help="Backup encryption and signing keys.", no_args_is_help=True)
app = typer.Typer(
    help="Full and incremental backups to on-site and S3 copies; catalog and verification.",
    no_args_is_help=True,
)

PolicyOpt = Annotated[
    str | None,
    typer.Option(
        "--policy",
        help="Backup policy TOML [default: SERIALVAULT_POLICY or ./serialvault.toml]",
        show_default=False,
    ),
]
CopyOpt = Annotated[
    list[str] | None,
    typer.Option("--copy", help="A copy named in the policy (repeatable) [default: all]."),
]
ToOpt = Annotated[
    list[str] | None,
    typer.Option("--to", help="A copy by URL: file:///path or s3://bucket/prefix (repeatable)."),
]
KeyOpt = Annotated[
    str | None,
    typer.Option("--key", help="Encryption key file (overrides the policy).", show_default=False),
]
SignOpt = Annotated[
    str | None,
    typer.Option("--signing-key", help="Ed25519 signing key file (overrides the policy)."),
]
PubOpt = Annotated[
    str | None,
    typer.Option(
        "--public-key", help="Public key to check signatures with (default: the signing key's)."
    ),
]


def _duration(text: str, flag: str) -> float:
    """A duration option (``30s``, ``15m``, ``4h``, ``7d``): a bad one is a usage error."""
    try:
        seconds = parse_duration(text, flag)
    except BackupError as exc:
        raise UsageError(exc.message) from None
    if seconds <= 0:
        raise UsageError(f"{flag} {text!r}: must be more than 0")
    return seconds


def _policy(
    policy: str | None, key: str | None, signing: str | None, pub: str | None = None
) -> Policy:
    return load_policy(policy, key=key, signing_key=signing, public_key=pub, settings=settings())


def _witnesses(pol: Policy, *dbs: str | None) -> list[Witness]:
    """The witness files to consult: the policy's, those beside the SQLite repositories
    named (the live one, a restore's target), and those in the state folder."""
    files = []
    for db in dbs:
        try:
            files.append(sqlite_path(resolve_url(db)))
        except SerialvaultError:
            continue
    return witness_files(pol.witness, files)


def _copies(pol: Policy, copy: list[str] | None, to: list[str] | None) -> list[copies_mod.Copy]:
    """``--copy NAME`` and ``--to URL`` (a name with ``://`` is a URL too); default: all."""
    return copies_mod.select_copies(pol, [*(copy or []), *(to or [])])


@keys_app.command("generate")
def keys_generate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the key files.")] = Path(
        DEFAULT_KEY_DIR
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing keys.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Create an AES-256 backup key and an Ed25519 signing key pair (mode 0600)."""
    with handled(json_out):
        res = generate_keys(out_dir, force=force)
        if json_out:
            print_json(res)
        else:
            kv("keys created", list(res.items()))
            out.print(
                "Keep a copy of backup.key somewhere safe and apart from the backups: without"
                " it, encrypted backups cannot be restored."
            )


def _show_backup(results: list[take.BackupResult], json_out: bool) -> int:
    docs = [r.to_dict() for r in results]
    failed = any(not r.ok for r in results)
    if json_out:
        print_json(docs[0] if len(docs) == 1 else docs)
    else:
        for d in docs:
            if d.get("id"):
                kv(
                    f"backup {d['id']}",
                    [
                        ("type", d["type"]),
                        ("parent", d["parent"]),
                        (
                            "seq",
                            f"{d['seq']['first']}..{d['seq']['last']} ({d['records']} records)",
                        ),
                        ("time", f"{d['time']['first']} .. {d['time']['last']}"),
                        ("chain head", d["chain_head"]),
                        ("fingerprint", d["fingerprint"] or "(not computed)"),
                        ("objects", d["objects"]),
                        ("bytes plain / stored", f"{d['bytes_plain']:,} / {d['bytes_stored']:,}"),
                        ("encrypted", d["encrypted"]),
                        ("duration", f"{d['duration_s']} s"),
                    ],
                )
            elif d.get("note"):
                out.print(d["note"])
            for w in d.get("warnings", []):
                out.print(f"[yellow]warning[/yellow]: {escape(w)}")
            for c in d["copies"]:
                status = "ok" if c["ok"] else f"FAILED: {c['error']}"
                out.print(f"  copy {c['name']} ({c['url']}): {status}")
    return 10 if failed else 0


def _phase_progress(json_out: bool) -> tuple[Any, Any]:
    bar = progress(json_out)
    tasks: dict[str, Any] = {}

    def on_phase(name: str, done: int, total: int | None) -> None:
        if name not in tasks:
            tasks[name] = bar.add_task(name, total=total)
        bar.update(tasks[name], completed=done, total=total)

    return bar, on_phase


@app.command("full")
def backup_full(
    db: DbOpt = None,
    policy: PolicyOpt = None,
    copy: CopyOpt = None,
    to: ToOpt = None,
    key: KeyOpt = None,
    signing_key: SignOpt = None,
    check_projections: Annotated[
        bool,
        typer.Option(
            "--check-projections",
            help="Also replay the log into a scratch database and compare every projection"
            " row (R9): catches rows edited outside the log; costs a rebuild's replay.",
        ),
    ] = False,
    new_timeline: Annotated[
        bool,
        typer.Option(
            "--new-timeline",
            help="Record (with --reason) that the earlier backups this log no longer agrees"
            " with are abandoned on purpose, e.g. after a restore to an earlier point.",
        ),
    ] = False,
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Take a full backup: a consistent snapshot plus the whole log, to each copy.

    Refused (exit 8, an exception opened) when the log's chain does not verify from
    genesis or disagrees with a chain head an earlier backup recorded.
    """
    with handled(json_out):
        if new_timeline and not reason:
            raise UsageError("--new-timeline needs --reason: why the earlier history is abandoned")
        pol = _policy(policy, key, signing_key)
        copies = _copies(pol, copy, to)
        repo = open_repo(db)
        bar, on_phase = _phase_progress(json_out)
        with bar:
            res = take.full_backup(
                repo,
                pol,
                copies,
                actor=actor_name(actor),
                on_phase=on_phase,
                check_projections=check_projections,
                new_timeline=reason if new_timeline else None,
            )
        code = _show_backup([res], json_out)
    raise typer.Exit(code)


@app.command("incr")
def backup_incr(
    db: DbOpt = None,
    policy: PolicyOpt = None,
    copy: CopyOpt = None,
    to: ToOpt = None,
    key: KeyOpt = None,
    signing_key: SignOpt = None,
    with_fp: Annotated[
        bool,
        typer.Option(
            "--fingerprint/--no-fingerprint",
            help="Also record the state fingerprint: a scan of every projection, so its cost"
            " grows with the repository, not with the change (fulls always record it).",
        ),
    ] = False,
    actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Take an incremental backup: the log records after each copy's newest backup."""
    with handled(json_out):
        pol = _policy(policy, key, signing_key)
        copies = _copies(pol, copy, to)
        repo = open_repo(db)
        bar, on_phase = _phase_progress(json_out)
        with bar:
            res = take.incremental_backup(
                repo,
                pol,
                copies,
                actor=actor_name(actor),
                with_fingerprint=with_fp,
                on_phase=on_phase,
            )
        code = _show_backup(res, json_out)
    raise typer.Exit(code)


@app.command("follow")
def backup_follow(
    db: DbOpt = None,
    policy: PolicyOpt = None,
    copy: CopyOpt = None,
    to: ToOpt = None,
    key: KeyOpt = None,
    signing_key: SignOpt = None,
    interval: Annotated[
        str | None,
        typer.Option(
            "--interval",
            help="Most a record may wait before it is on every copy [policy follow.interval, 1s].",
        ),
    ] = None,
    for_: Annotated[
        str | None,
        typer.Option("--for", help="Stop after this long (e.g. 10m) [default: until SIGTERM]."),
    ] = None,
    status_file: Annotated[
        Path | None,
        typer.Option("--status", help="Status JSON file [policy follow.status_file]."),
    ] = None,
    metrics_file: Annotated[
        Path | None,
        typer.Option("--metrics", help="Prometheus text-format file [policy follow.metrics_file]."),
    ] = None,
    actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Continuous mode: ship new log records to every copy as small incrementals.

    Prints one line (one JSON document with --json) per shipment; writes the status file
    that `backup list` shows and, if asked, a metrics file for monitoring. SIGTERM or
    Ctrl-C ships what is waiting, then stops.
    """
    with handled(json_out):
        pol = _policy(policy, key, signing_key)
        copies = _copies(pol, copy, to)
        repo = open_repo(db)
        every = _duration(interval, "--interval") if interval else pol.follow_interval
        duration = _duration(for_, "--for") if for_ else None

        def on_event(ev: dict[str, Any]) -> None:
            if json_out:
                print_json(ev, compact=True)
            elif ev["event"] == "shipment":
                lag = ev["max_lag_s"]
                out.print(
                    f"{ev['done_at']} {ev['type']} {ev['id']}: seq {ev['seq']['first']}.."
                    f"{ev['seq']['last']} ({ev['records']} records, {ev['bytes_stored']:,} bytes)"
                    f" to {', '.join(ev['copies']) or 'no copy'}"
                    + (f", lag {lag:.3f} s" if lag is not None else "")
                )
                for name, err in ev["errors"].items():
                    out.print(f"  [red]copy {name} FAILED[/red]: {err}")
            else:
                out.print(f"{ev['at']} [red]copy {ev['copy']} FAILED[/red]: {ev['error']}")

        follower = follow_mod.Follower(
            repo,
            pol,
            copies,
            actor=actor_name(actor),
            interval=every,
            status_path=status_file or pol.status_file,
            metrics_path=metrics_file or pol.metrics_file,
            on_event=on_event,
        )
        follower.install_signal_handlers()
        if not json_out:
            out.print(
                f"following {repo.display_url} to {', '.join(c.name for c in copies)}"
                f" (interval {every:g} s); status in {follower.status_path}"
            )
        st = follower.run(duration)
        if json_out:
            print_json({"event": "stopped", **st}, compact=True)
        else:
            for c in st["copies"]:
                state = "ok" if not c["error"] else f"FAILED: {c['error']}"
                out.print(
                    f"  copy {c['name']}: shipped to seq {c['shipped_seq']},"
                    f" {c['shipments']} incrementals, {c['fulls']} fulls,"
                    f" lag {c['lag_records']} records: {state}"
                )
        failed = any(c["error"] for c in st["copies"])
    raise typer.Exit(10 if failed else 0)


WindowOpt = Annotated[
    str,
    typer.Option("--window", help="Growth is averaged over this much recent history."),
]


def _bytes(n: int | float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


@app.command("inventory")
def backup_inventory(
    db: DbOpt = None,
    policy: PolicyOpt = None,
    window: WindowOpt = "7d",
    json_out: JsonOpt = False,
) -> None:
    """The critical data kinds: counts, bytes and growth per day (what backups must hold)."""
    with handled(json_out):
        pol = _policy(policy, None, None)
        days = _duration(window, "--window") / 86400
        inv = planning.inventory(open_repo(db), pol, days)
        if json_out:
            print_json(inv)
            return
        table(
            f"{inv['repository']} ({inv['engine']}): seq {inv['head_seq']},"
            f" {inv['units']:,} units, database {_bytes(inv['database_bytes'])}",
            ["data kind", "log records", "log bytes", "rows", "on disk", "growth/day"],
            [
                [
                    k["kind"],
                    f"{k['log_records']:,}",
                    _bytes(k["log_bytes"]),
                    ", ".join(f"{t} {n:,}" for t, n in k["tables"].items()),
                    _bytes(k["stored_bytes"]),
                    f"{k['growth_per_day']['records']:,.0f} rec,"
                    f" {_bytes(k['growth_per_day']['bytes'])}",
                ]
                for k in inv["kinds"]
            ],
        )
        out.print(
            f"growth averaged over {inv['window_days']:g} days:"
            f" {inv['growth_per_day']['records']:,.0f} records/day,"
            f" {_bytes(inv['growth_per_day']['bytes'])}/day;"
            f" peak {inv['peak_records_per_minute']:,} records in one minute"
        )
        for n in inv["notes"]:
            out.print(f"note: {escape(n)}")


@app.command("plan")
def backup_plan(
    rpo: Annotated[str, typer.Option("--rpo", help="Recovery point objective, e.g. 15m.")],
    rto: Annotated[str, typer.Option("--rto", help="Recovery time objective, e.g. 4h.")],
    db: DbOpt = None,
    policy: PolicyOpt = None,
    copy: CopyOpt = None,
    to: ToOpt = None,
    public_key: PubOpt = None,
    window: WindowOpt = "7d",
    check: Annotated[
        bool, typer.Option("--check", help="Exit 12 when any warning stands (for monitoring).")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Recommend an incremental interval and full cadence for RPO/RTO, with storage and warnings."""
    with handled(json_out):
        pol = _policy(policy, None, None, public_key)
        rpo_s = _duration(rpo, "--rpo")
        rto_s = _duration(rto, "--rto")
        copies = _copies(pol, copy, to)
        summary = follow_mod.follower_summary(pol.status_file)
        figures = planning.gather(
            open_repo(db),
            pol,
            copies,
            rpo_s=rpo_s,
            rto_s=rto_s,
            follow_running=bool(summary and summary["running"]),
            window_days=_duration(window, "--window") / 86400,
        )
        plan = planning.recommend(figures)
        if json_out:
            print_json(plan)
        else:
            rec, meas, sto = plan["recommended"], plan["measured"], plan["storage_per_copy"]
            restore = meas["restore"]
            last_restore = (
                "none"
                if restore is None
                else f"{restore['total_s']} s ({restore['at']}, into {restore['target_engine']})"
            )
            predicted = plan["restore_prediction"]["end_of_recommended_chain"]
            kv(
                f"backup plan for RPO {rpo} and RTO {rto}",
                [
                    (
                        "measured write rate",
                        f"{meas['records_per_day']:,.0f} records/day,"
                        f" {_bytes(meas['log_bytes_per_day'])}/day",
                    ),
                    ("peak", f"{meas['peak_records_per_minute']:,} records/minute"),
                    ("last measured restore", last_restore),
                    ("recommended mode", rec["mode"]),
                    ("incremental interval", rec["incremental_interval"]),
                    ("full every", rec["full_every"]),
                    ("worst-case loss", f"{rec['worst_case_loss_s']} s"),
                    (
                        "restore predicted (end of chain)",
                        "-" if predicted is None else f"{predicted['total_s']} s",
                    ),
                    (
                        "storage per copy",
                        f"{_bytes(sto['held_bytes'])} held"
                        f" ({sto['chains_kept']} chains), {_bytes(sto['written_per_month_bytes'])}"
                        " written per month",
                    ),
                    ("all copies", _bytes(plan["storage_all_copies_held_bytes"])),
                ],
            )
            if rec["command"]:
                out.print(f"run: {rec['command']}")
            for w in plan["warnings"]:
                out.print(f"[yellow]warning[/yellow]: {escape(w)}")
            for n in plan["notes"]:
                out.print(f"note: {escape(n)}")
    if check and not plan["ok"]:
        raise typer.Exit(PlanWarning.exit_code)


@app.command("list")
def backup_list(
    db: DbOpt = None,
    policy: PolicyOpt = None,
    copy: CopyOpt = None,
    to: ToOpt = None,
    public_key: PubOpt = None,
    status_file: Annotated[
        Path | None,
        typer.Option("--status", help="A follower's status file [policy follow.status_file]."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Every copy's backup chains, sizes, ages, the RPO exposure now, and the follower's lag."""
    with handled(json_out):
        pol = _policy(policy, None, None, public_key)
        copies = _copies(pol, copy, to)
        try:
            vk = pol.load_verify_key()
        except SerialvaultError:
            vk = None
        head = None
        time_of = None
        try:
            repo = open_repo(db)
            head = repo.head()
            time_of = repo.time_of
        except SerialvaultError:
            head = None
        docs = []
        for c in copies:
            try:
                docs.append(verify.catalog(c, vk, head, time_of))
            except SerialvaultError as exc:
                docs.append({"copy": c.name, "url": c.url, "error": str(exc)})
        follower = follow_mod.follower_summary(status_file or pol.status_file)
        if json_out:
            print_json({"copies": docs, "signatures_checked": vk is not None, "follower": follower})
            return
        for d in docs:
            if "error" in d:
                out.print(f"[bold]{d['copy']}[/bold]: [red]{d['error']}[/red]")
                continue
            rows = [
                [
                    b["id"],
                    b["type"],
                    f"{b['seq'][0]}..{b['seq'][1]}",
                    b["records"],
                    f"{b['bytes_stored']:,}",
                    _age(b["age_s"]),
                    "yes" if b["encrypted"] else "no",
                ]
                for ch in d["chains"]
                for b in ch["backups"]
            ]
            table(
                f"{d['copy']} — {d['url']} ({d['backups']} backups, {d['bytes_stored']:,} bytes)",
                ["id", "type", "seq", "records", "bytes", "age", "encrypted"],
                rows,
            )
            exp = d["rpo_exposure"]
            if exp:
                out.print(
                    f"  RPO exposure now: {exp['records']} records, {exp['seconds']} s"
                    f" since the newest backed-up record (seq {exp['newest_backed_up_seq']})"
                )
            for p in d["problems"]:
                out.print(f"  [red]{p['code']}[/red]: {p['message']}")
        if follower is not None:
            state = "running" if follower["running"] else "[red]not running[/red]"
            out.print(
                f"follower (pid {follower['pid']}, {follower['path']}): {state}, last update"
                f" {_age(follower['updated_age_s'])} ago"
            )
            for c in follower["copies"]:
                lag = c["lag_seconds"]
                out.print(
                    f"  {c['name']}: lag {c['lag_records']} records"
                    + (f", {lag} s" if lag is not None else "")
                    + (f" [red]— {c['error']}[/red]" if c["error"] else "")
                )


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


@app.command("verify")
def backup_verify(
    policy: PolicyOpt = None,
    copy: CopyOpt = None,
    to: ToOpt = None,
    key: KeyOpt = None,
    public_key: PubOpt = None,
    db: DbOpt = None,
    full: Annotated[
        bool, typer.Option("--full", help="Read, hash, decrypt and chain-check every object.")
    ] = False,
    subset: Annotated[
        str | None, typer.Option("--subset", help="Full check of share n of t, e.g. 3/7.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check copies, and compare them with each other, their past and the witness; exit 8
    on any finding (a rolled-back copy, a fork and mixed repositories included)."""
    with handled(json_out):
        pol = _policy(policy, key, None, public_key)
        sub = verify.parse_subset(subset)
        copies = _copies(pol, copy, to)
        vk = pol.load_verify_key()
        enc = pol.load_encryption_key() if (full or sub) else None
        try:
            signer = pol.load_signing_key()
        except SerialvaultError:
            signer = None
        bar = progress(json_out)
        with bar:
            tasks: dict[str, Any] = {}

            def tick(name: str, done: int, total: int) -> None:
                if name not in tasks:
                    tasks[name] = bar.add_task(f"verify {name}", total=total)
                bar.update(tasks[name], completed=done, total=total)

            reports = verify.verify_copies(
                copies,
                vk,
                key=enc,
                signer=signer,
                full=full,
                subset=sub,
                witnesses=_witnesses(pol, db),
                on_progress=tick,
            )
        ok = all(r.ok for r in reports)
        if json_out:
            print_json({"ok": ok, "copies": [r.to_dict() for r in reports]})
        else:
            for r in reports:
                state = (
                    "[green]clean[/green]" if r.ok else f"[red]{len(r.findings)} finding(s)[/red]"
                )
                out.print(
                    f"{r.copy} ({r.url}): {r.mode} check, {r.backups} backups, {r.objects}"
                    f" objects, {r.objects_read} read ({r.bytes_read:,} bytes): {state}"
                )
                for f in r.findings:
                    out.print(f"  {f.code}: {escape(f.message)}")
                for n in r.notes:
                    out.print(f"  note: {escape(n)}")
                if r.coverage:
                    cov = r.coverage
                    out.print(
                        f"  coverage of {cov['shares']} share(s): checked {cov['shares_checked']},"
                        f" {cov['objects_unverified']} of {cov['objects']} objects not yet"
                        " verified"
                        + (
                            f"; all verified since {cov['all_verified_since']}"
                            if cov["complete"]
                            else ""
                        )
                    )
                if r.check_record is None:
                    out.print("  (no check record left: no signing key here)")
    if not ok:  # the findings are the output (one JSON document with --json)
        raise typer.Exit(IntegrityFailure.exit_code)


@app.command("prune")
def backup_prune(
    policy: PolicyOpt = None,
    copy: CopyOpt = None,
    to: ToOpt = None,
    public_key: PubOpt = None,
    keep_fulls: Annotated[
        int | None, typer.Option("--keep-fulls", help="Newest chains kept [policy].")
    ] = None,
    keep_days: Annotated[
        float | None, typer.Option("--keep-days", help="Keep chains younger than this [policy].")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show, delete nothing.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Apply retention: remove whole chains the policy no longer keeps."""
    with handled(json_out):
        pol = _policy(policy, None, None, public_key)
        copies = _copies(pol, copy, to)
        vk = pol.load_verify_key()
        signer = None if dry_run else pol.load_signing_key()
        reports = [
            prune_mod.prune_copy(
                c,
                vk,
                keep_fulls=pol.keep_fulls if keep_fulls is None else keep_fulls,
                keep_days=pol.keep_days if keep_days is None else keep_days,
                dry_run=dry_run,
                signer=signer,
            )
            for c in copies
        ]
        if json_out:
            print_json({"copies": [r.to_dict() for r in reports]})
            return
        for r in reports:
            verb = "would remove" if r.dry_run else "removed"
            out.print(
                f"{r.copy}: kept {len(r.kept)} backups, {verb} {len(r.removed)}"
                f" ({r.objects_deleted} objects, {r.bytes_freed:,} bytes);"
                f" {r.unreferenced_objects} unreferenced objects left alone"
            )
            for b in r.removed:
                out.print(f"  {verb} {b}")


def restore(
    into: Annotated[
        str, typer.Option("--into", help="Target: a SQLite path or postgresql:// URL.")
    ],
    from_: Annotated[
        list[str] | None,
        typer.Option("--from", help="Copy name or URL (repeatable; others are fallbacks)."),
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="Recovery point: a seq, or a UTC timestamp.")
    ] = None,
    backup: Annotated[str | None, typer.Option("--backup", help="Restore this backup id.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan, fetch and verify only.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty target.")] = False,
    policy: PolicyOpt = None,
    key: KeyOpt = None,
    public_key: PubOpt = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="SERIALVAULT_DB",
            help="The live repository, if reachable: its witness file is consulted"
            " [default: SERIALVAULT_DB or ./serialvault.db].",
            show_default=False,
        ),
    ] = None,
    actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Restore a repository from what all copies hold, to the newest or a given point.

    Without --at or --backup, the point is the newest backup any copy, checkpoint, check
    record or witness file knows of; when no copy can serve it, the restore fails (exit
    14) and names what is missing rather than going back in time.
    """
    with handled(json_out):
        pol = _policy(policy, key, None, public_key)
        copies = _copies(pol, from_, None)
        if from_:  # the named copies first, the policy's others as fallbacks
            copies += [
                copies_mod.Copy(c.name, c.url, c.settings)
                for c in pol.copies.values()
                if c.name not in from_
            ]
        vk = pol.load_verify_key()
        enc = pol.load_encryption_key()
        bar, on_phase = _phase_progress(json_out)
        with bar:
            res = restore_mod.restore(
                copies,
                into,
                verify_key=vk,
                key=enc,
                at=at,
                backup=backup,
                dry_run=dry_run,
                force=force,
                actor=actor_name(actor),
                on_phase=on_phase,
                witnesses=_witnesses(pol, db, into),
            )
        d = res.to_dict()
        if json_out:
            print_json(d)
            return
        plan = d["plan"]
        kv(
            "restore plan checked" if res.dry_run else f"restored into {d['target']}",
            [
                ("from copy", plan["copy"]),
                ("backups", ", ".join(plan["backups"])),
                ("snapshot", plan["snapshot"] or "(none: log replayed from genesis)"),
                ("recovery point seq", d["head_seq"]),
                ("chain head", d["chain_head"]),
                ("fingerprint", d["fingerprint"] or "-"),
                ("fingerprint checked against manifest", d["fingerprint_checked_against"] or "-"),
                ("phases (s)", ", ".join(f"{k} {v}" for k, v in d["phases_s"].items())),
                ("objects from copy", d["objects_from_copy"]),
                (
                    "newest backup known",
                    "-"
                    if not d["newest_backup_known"]
                    else f"seq {d['newest_backup_known']['seq']}"
                    f" ({d['newest_backup_known']['where']})",
                ),
                ("projections checked at backup", d["projections_checked_at_backup"]),
            ],
        )
        for f in d["findings"]:
            out.print(f"  [yellow]finding[/yellow]: {escape(f)}")


__all__ = ["BackupError", "app", "keys_app", "restore"]
