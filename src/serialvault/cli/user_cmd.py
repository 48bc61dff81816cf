"""``serialvault login|logout|whoami`` and ``serialvault user …`` — accounts and sessions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from serialvault.app import identity as ops
from serialvault.cli.common import (
    DbOpt,
    JsonOpt,
    PasswordFileOpt,
    ReasonOpt,
    handled,
    kv,
    make_app,
    out,
    print_json,
    read_password,
    settings,
    table,
)
from serialvault.cli.review_cmd import user_review_app
from serialvault.errors import UsageError
from serialvault.store.identity import Account

app = make_app(
    "User accounts: add, list, show, disable, enable, passwd, roles, tokens, policy, review."
)
token_app = make_app("API tokens: create (shown once) and revoke.")
policy_app = make_app("The password and session policy.")
app.add_typer(token_app, name="token")
app.add_typer(policy_app, name="policy")
key_app = make_app("Your own Ed25519 reviewer key, registered to your account.")
app.add_typer(key_app, name="key")
app.add_typer(user_review_app, name="review")

RoleOpt = Annotated[
    list[str] | None,
    typer.Option("--role", help="operator, qa, auditor or admin (repeat for several)."),
]


def new_password(path: Path | None, user: str) -> str:
    """A new password: from the file, or typed twice at a terminal."""
    if path is not None:
        return read_password(path, env=False)
    first = read_password(None, f"New password for {user}: ", env=False)
    again = read_password(None, "Again: ", env=False)
    if first != again:
        raise UsageError("the two passwords differ: nothing was changed")
    return first


def _show_account(acct: Account, json_out: bool) -> None:
    if json_out:
        print_json(acct.to_dict())
        return
    kv(
        f"user {acct.user_id}",
        [
            ("name", acct.name),
            ("kind", acct.kind),
            ("roles", ", ".join(acct.roles)),
            ("status", acct.status),
            ("failed attempts", acct.failures),
        ],
    )


def login(
    user: Annotated[str, typer.Argument(help="Your user id.")],
    password_file: PasswordFileOpt = None,
    new_password_file: Annotated[
        Path | None,
        typer.Option(
            "--new-password-file",
            help="Your own new password (needed when an admin set the current one).",
        ),
    ] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Log in: check the password and open a session for this repository (in
    $SERIALVAULT_HOME, default ~/.config/serialvault). A password an admin set is
    replaced by your own at this log-in (--new-password-file)."""
    with handled(json_out):
        new = None if new_password_file is None else new_password(new_password_file, user)
        who = ops.log_in(settings(), db, user, read_password(password_file), new)
        if json_out:
            print_json(who.to_dict())
        else:
            out.print(f"logged in as {who.user_id} ({who.name}; {', '.join(who.roles)})")


def logout(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """End this home's session on the repository."""
    with handled(json_out):
        user = ops.log_out(settings(), db)
        if json_out:
            print_json({"logged_out": user})
        else:
            out.print(f"logged out {user}" if user else "no session was open")


def whoami(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Who is authenticated on this repository: user, full name, roles."""
    with handled(json_out):
        who = ops.who_am_i(settings(), db)
        if json_out:
            print_json(who.to_dict())
        else:
            out.print(f"{who.user_id} ({who.name}); roles: {', '.join(who.roles)}")


@app.command("add")
def add(
    user: Annotated[str, typer.Argument(help="The new user id (never reused).")],
    name: Annotated[str, typer.Option("--name", help="Full name, as signatures show it.")],
    role: RoleOpt = None,
    service: Annotated[
        bool, typer.Option("--service", help="A line system's account: capture, by token only.")
    ] = False,
    password_file: PasswordFileOpt = None,
    db: DbOpt = None,
    reason: ReasonOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Add a person's account (with --role and a first password) or a service account."""
    with handled(json_out):
        password = None if service else new_password(password_file, user)
        acct = ops.add_user(
            settings(),
            db,
            user_id=user,
            name=name,
            roles=list(role or []),
            service=service,
            password=password,
            reason=reason,
        )
        _show_account(acct, json_out)


@app.command("list")
def list_cmd(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Every account, disabled ones included (ids are never deleted)."""
    with handled(json_out):
        rows = ops.list_users(settings(), db)
        if json_out:
            print_json([a.to_dict() for a in rows])
            return
        table(
            "users",
            ["user", "name", "kind", "roles", "status", "created seq"],
            [
                [a.user_id, a.name, a.kind, ", ".join(a.roles), a.status, a.created_seq]
                for a in rows
            ],
        )


@app.command("show")
def show(
    user: Annotated[str, typer.Argument()], db: DbOpt = None, json_out: JsonOpt = False
) -> None:
    """One account: roles, status, tokens, signatures made."""
    with handled(json_out):
        view = ops.user_details(settings(), db, user)
        if json_out:
            print_json(view.to_dict())
            return
        _show_account(view.account, False)
        out.print(f"signatures made: {view.signatures}")
        for t in view.tokens:
            state = f"revoked at seq {t.revoked_seq}" if t.revoked_seq else "active"
            out.print(f"token {t.token_id} ({t.label or 'no label'}): {state}")


def _enable(user: str, enabled: bool, db: str | None, reason: str | None, json_out: bool) -> None:
    with handled(json_out):
        acct = ops.set_enabled(settings(), db, user, enabled=enabled, reason=reason)
        _show_account(acct, json_out)


@app.command("disable")
def disable(
    user: Annotated[str, typer.Argument()],
    db: DbOpt = None,
    reason: ReasonOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Disable an account at once (its sessions end; its records keep its name)."""
    _enable(user, False, db, reason, json_out)


@app.command("enable")
def enable(
    user: Annotated[str, typer.Argument()],
    db: DbOpt = None,
    reason: ReasonOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Enable an account again; this also lifts a lockout."""
    _enable(user, True, db, reason, json_out)


@app.command("passwd")
def passwd(
    user: Annotated[
        str | None, typer.Argument(help="Whose password (admin); default: your own.")
    ] = None,
    password_file: Annotated[
        Path | None, typer.Option("--password-file", help="The new password (first line).")
    ] = None,
    current_password_file: Annotated[
        Path | None,
        typer.Option("--current-password-file", help="Your current password (own change)."),
    ] = None,
    db: DbOpt = None,
    reason: ReasonOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Change your password (current one re-entered), or set another user's (admin)."""
    with handled(json_out):
        s = settings()
        who = ops.who_am_i(s, db)
        own = user is None or user == who.user_id
        current = read_password(current_password_file, "Current password: ") if own else None
        new = new_password(password_file, user or who.user_id)
        acct = ops.set_password(s, db, user, new=new, current=current, reason=reason)
        if json_out:
            print_json(acct.to_dict())
        else:
            out.print(f"password of {acct.user_id} changed")


@app.command("roles")
def roles(
    user: Annotated[str, typer.Argument()],
    add: Annotated[list[str] | None, typer.Option("--add", help="Grant a role.")] = None,
    remove: Annotated[list[str] | None, typer.Option("--remove", help="Revoke a role.")] = None,
    db: DbOpt = None,
    reason: ReasonOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Grant and revoke roles (effective at once, recorded for the access review)."""
    with handled(json_out):
        if not add and not remove:
            raise UsageError("give --add ROLE and/or --remove ROLE")
        acct = ops.change_roles(
            settings(), db, user, add=list(add or []), remove=list(remove or []), reason=reason
        )
        _show_account(acct, json_out)


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Argument(help="The account the token acts as.")],
    label: Annotated[str, typer.Option("--label", help="What the token is for.")] = "",
    db: DbOpt = None,
    reason: ReasonOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Issue a token (set it as SERIALVAULT_TOKEN); it is shown once, only its hash is kept."""
    with handled(json_out):
        tok = ops.create_token(settings(), db, user, label=label, reason=reason)
        if json_out:
            print_json(tok.to_dict())
        else:
            out.print(f"token {tok.token_id} for {tok.user} (shown once, keep it secret):")
            out.print(tok.text)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token id (not the secret).")],
    db: DbOpt = None,
    reason: ReasonOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Revoke a token at once."""
    with handled(json_out):
        row = ops.revoke_token(settings(), db, token_id, reason=reason)
        if json_out:
            print_json(
                {"token_id": row.token_id, "user": row.user_id, "revoked_seq": row.revoked_seq}
            )
        else:
            out.print(f"token {row.token_id} of {row.user_id} revoked (seq {row.revoked_seq})")


@policy_app.command("show")
def policy_show(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """The password and session policy in force."""
    with handled(json_out):
        pol = ops.identity_policy(settings(), db)
        if json_out:
            print_json(pol.to_dict())
        else:
            kv("password and session policy", list(pol.to_dict().items()))


@policy_app.command("set")
def policy_set(
    setting: Annotated[
        list[str], typer.Argument(help="NAME=VALUE, e.g. min_length=14 lockout_after=3.")
    ],
    db: DbOpt = None,
    reason: ReasonOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Propose a new version of the policy (admin): a draft change a qa user approves."""
    with handled(json_out):
        changes: dict[str, int] = {}
        for item in setting:
            name, sep, value = item.partition("=")
            if not sep or not value.strip().isdigit():
                raise UsageError(f"{item!r}: give NAME=NUMBER")
            changes[name.strip()] = int(value)
        c = ops.set_identity_policy(settings(), db, changes, reason=reason)
        if json_out:
            print_json({"change_id": c.change_id, "status": c.status, "after": c.after})
        else:
            out.print(
                f"password and session policy version {c.version} drafted as {c.change_id};"
                f" in force once a qa user approves it (`serialvault change approve"
                f" {c.change_id}`)"
            )


@key_app.command("add")
def key_add(
    public_key: Annotated[
        Path, typer.Option("--public-key", help="Your reviewer key's .pub file.")
    ],
    password_file: PasswordFileOpt = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Register your own reviewer key (from `evidence reviewer-key`) to your account, so
    that your evidence countersignatures are bound to you; your password is re-entered."""
    with handled(json_out):
        password = read_password(password_file, "Password: ")
        acct = ops.add_reviewer_key(settings(), db, public_key, password=password)
        _show_account(acct, json_out)
