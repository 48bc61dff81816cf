"""Accounts, sessions, roles and signatures, through the command line, on both engines.

Every refusal here is tried the way an unlucky operator or an attacker would: no session,
the wrong role, a locked or disabled account, an altered or copied session file, a
revoked token, a signature with the wrong password or by a machine. Each must exit with
its own code, say what was wrong, and leave the log exactly as it was.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from serialvault.cli.main import app
from serialvault.domain.access import ROLES, Action, check_roles, permitted
from serialvault.store import schema
from serialvault.store.repository import Repository
from tests import builders as b
from tests.accounts import approve_all
from tests.pg import pg_schema_url

runner = CliRunner()
PW = "a-long-enough-secret-42"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    """A repository created by its admin (``ada``, logged in) on each engine."""
    if request.param == "sqlite":
        yield Site(str(tmp_path / "r.db"), tmp_path)
        return
    with pg_schema_url() as url:
        yield Site(url, tmp_path)


class Site:
    """The repository and one session home per person, as on a shared workstation."""

    def __init__(self, db: str, tmp: Path) -> None:
        self.db = db
        self.tmp = tmp
        self.pw = self.secret_file("pw", PW)
        self.temp = self.secret_file("temp", "handed-over-by-the-admin-1")
        r = self.sv(
            "ada",
            "init",
            "--admin",
            "ada",
            "--admin-name",
            "Ada Admin",
            "--password-file",
            str(self.pw),
        )
        assert r.exit_code == 0, r.stdout
        assert self.sv("ada", "login", "ada", "--password-file", str(self.pw)).exit_code == 0

    def secret_file(self, name: str, text: str) -> Path:
        p = self.tmp / name
        p.write_text(text + "\n")
        p.chmod(0o600)
        return p

    def home(self, user: str) -> Path:
        return self.tmp / "homes" / user

    def sv(self, user: str | None, *args: str, env: dict[str, str] | None = None) -> Any:
        e = {"SERIALVAULT_HOME": str(self.home(user or "nobody")), "SERIALVAULT_DB": self.db}
        e.update(env or {})
        return runner.invoke(app, list(args), env=e, catch_exceptions=False)

    def add(self, user: str, *roles: str, name: str | None = None) -> None:
        """The admin creates the account with a password of their choosing; the user's
        first log-in replaces it with their own (``PW``)."""
        args = ["user", "add", user, "--name", name or f"{user.title()} Person"]
        for r in roles:
            args += ["--role", r]
        r = self.sv("ada", *args, "--password-file", str(self.temp))
        assert r.exit_code == 0, r.stdout
        first = self.sv(
            user,
            "login",
            user,
            "--password-file",
            str(self.temp),
            "--new-password-file",
            str(self.pw),
        )
        assert first.exit_code == 0, first.stdout

    def login(self, user: str, pw: Path | None = None) -> Any:
        return self.sv(user, "login", user, "--password-file", str(pw or self.pw))

    def head(self) -> int:
        return Repository.open(self.db).head().seq

    def kinds(self) -> list[str]:
        with Repository.open(self.db).read() as conn:
            q = sa.select(schema.log.c.kind).order_by(schema.log.c.seq)
            return [r[0] for r in conn.execute(q)]

    def doc(self, name: str = "d.jsonld") -> Path:
        """A document commissioning a unit of ``b.GTIN``, which is put in master data."""
        b.register(Repository.open(self.db), b.GTIN)
        p = self.tmp / name
        p.write_bytes(b.document(b.commission([b.sgtin("ID1")]), header=b.products(b.GTIN)))
        return p


def _backup_env(tmp_path: Path) -> dict[str, str]:
    """Fresh backup keys, as the environment names them for the commands."""
    from serialvault.backup.crypto import generate_keys

    keys = generate_keys(tmp_path / "keys")
    return {
        "SERIALVAULT_BACKUP_KEY": keys["encryption_key"],
        "SERIALVAULT_SIGNING_KEY": keys["signing_key"],
    }


def _refused(r: Any, code: int, *words: str) -> None:
    assert r.exit_code == code, r.stdout
    for w in words:
        assert w in r.stdout + (r.stderr if r.stderr_bytes else ""), (w, r.stdout)


def test_every_change_needs_a_session_and_the_role(site: Site) -> None:
    site.add("oscar", "operator")
    site.add("audrey", "auditor")
    before = site.head()
    # no session at all
    _refused(site.sv("nobody", "capture", str(site.doc())), 15, "not logged in", "login")
    # an auditor reads but cannot capture; an operator cannot change master data
    assert site.login("audrey").exit_code == 0
    after_login = site.head()
    assert site.kinds()[-1] == "auth.login"
    _refused(site.sv("audrey", "capture", str(site.doc())), 16, "audrey (auditor)", "operator")
    assert site.sv("audrey", "status").exit_code == 0
    assert site.login("oscar").exit_code == 0
    # an operator may propose master data (a draft), never approve it
    drafted = site.sv("oscar", "product", "add", "--gtin", b.OTHER_GTIN, "--name", "X", "--json")
    assert drafted.exit_code == 0, drafted.stdout
    cid = json.loads(drafted.stdout)["change_id"]
    _refused(
        site.sv("oscar", "change", "approve", cid, "--password-file", str(site.pw)),
        16,
        "approve or reject changes",
        "qa",
    )
    _refused(
        site.sv(
            "oscar",
            "user",
            "add",
            "eve",
            "--name",
            "Eve",
            "--role",
            "admin",
            "--password-file",
            str(site.pw),
        ),
        16,
        "manage user accounts",
    )
    assert site.head() == after_login + 2  # oscar's log-in and his draft, nothing else
    assert site.head() > before
    ok = site.sv("oscar", "capture", str(site.doc()), "--json")
    assert ok.exit_code == 0, ok.stdout
    with Repository.open(site.db).read() as conn:
        actors = {
            r[0]
            for r in conn.execute(
                sa.select(schema.log.c.actor).where(schema.log.c.kind == "epcis.event")
            )
        }
    assert actors == {"oscar"}


def test_the_nth_wrong_password_locks_until_an_admin_enables(site: Site) -> None:
    site.add("oscar", "operator")
    wrong = site.secret_file("wrong", "not-the-right-one-at-all")
    for i in range(4):
        _refused(site.login("oscar", wrong), 15, "unknown user or wrong password")
        assert site.kinds()[-1] == "auth.failure", i
    # the 5th locks, in the same words: a guesser learns nothing about the account
    _refused(site.login("oscar", wrong), 15, "unknown user or wrong password")
    assert site.kinds()[-1] == "auth.failure"  # the failure that locked, recorded
    locked = json.loads(site.sv("ada", "user", "show", "oscar", "--json").stdout)
    assert locked["status"] == "locked"
    # locked: a wrong password still says nothing more; the right one is told the lock,
    # and each attempt is recorded
    n = site.head()
    _refused(site.login("oscar", wrong), 15, "unknown user or wrong password")
    _refused(site.login("oscar"), 15, "locked", "user enable oscar")
    assert site.head() == n + 2
    shown = json.loads(site.sv("ada", "user", "show", "oscar", "--json").stdout)
    assert shown["status"] == "locked"
    assert site.sv("ada", "user", "enable", "oscar").exit_code == 0
    assert site.login("oscar").exit_code == 0
    assert (
        json.loads(site.sv("ada", "user", "show", "oscar", "--json").stdout)["failed_attempts"] == 0
    )
    # an unknown user id is refused with the same words as a wrong password
    _refused(
        site.sv("x", "login", "mallory", "--password-file", str(site.pw)),
        15,
        "unknown user or wrong password",
    )


def test_disabling_ends_sessions_at_once_and_keeps_the_records(site: Site) -> None:
    site.add("oscar", "operator")
    assert site.login("oscar").exit_code == 0
    assert site.sv("oscar", "capture", str(site.doc())).exit_code == 0
    assert site.sv("ada", "user", "disable", "oscar", "--reason", "left the company").exit_code == 0
    n = site.head()
    _refused(site.sv("oscar", "capture", str(site.doc("e.jsonld"))), 15)
    _refused(site.login("oscar"), 15, "disabled")
    # ids are never reused; the disabled user's records keep their name
    _refused(
        site.sv(
            "ada",
            "user",
            "add",
            "oscar",
            "--name",
            "Other Oscar",
            "--role",
            "qa",
            "--password-file",
            str(site.pw),
        ),
        9,
        "never reused",
    )
    users = json.loads(site.sv("ada", "user", "list", "--json").stdout)
    assert {u["user"]: u["status"] for u in users}["oscar"] == "disabled"
    assert site.kinds().count("user.account") == 3  # ada, oscar, oscar disabled
    assert site.head() == n + 1  # the refused log-in is recorded; nothing else
    # the admin may not lock themselves out, nor remove the last admin
    _refused(site.sv("ada", "user", "disable", "ada"), 16, "own account")
    _refused(site.sv("ada", "user", "roles", "ada", "--remove", "admin"), 16, "last active admin")


def test_an_altered_copied_or_exposed_session_file_opens_nothing(site: Site) -> None:
    site.add("oscar", "operator")
    site.add("quinn", "qa")
    assert site.login("oscar").exit_code == 0
    assert site.login("quinn").exit_code == 0
    (oscar_file,) = (site.home("oscar") / "sessions").iterdir()
    assert oscar_file.stat().st_mode & 0o777 == 0o600
    # oscar writes quinn's id into his own file to approve as her: refused, session ended
    data = orjson.loads(oscar_file.read_bytes())
    data["user"] = "quinn"
    oscar_file.write_bytes(orjson.dumps(data))
    _refused(site.sv("oscar", "whoami"), 15, "altered")
    _refused(site.sv("oscar", "whoami"), 15, "not logged in")
    # a session file others can read ends its session: a copy taken meanwhile is dead
    assert site.login("oscar").exit_code == 0
    (oscar_file,) = (site.home("oscar") / "sessions").iterdir()
    oscar_file.chmod(0o644)
    leaked = oscar_file.read_bytes()
    _refused(site.sv("oscar", "whoami"), 15, "read by others")
    _refused(site.sv("oscar", "whoami"), 15, "not logged in")  # ended, file removed
    oscar_file.write_bytes(leaked)
    oscar_file.chmod(0o600)
    _refused(site.sv("oscar", "whoami"), 15, "session has ended")
    # a second log-in from the same home ends the first session (a kept copy dies)
    assert site.login("oscar").exit_code == 0
    first = oscar_file.read_bytes()
    assert site.login("oscar").exit_code == 0
    oscar_file.write_bytes(first)
    _refused(site.sv("oscar", "whoami"), 15, "session has ended")
    # a copy of quinn's file works only until she logs out
    (quinn_file,) = (site.home("quinn") / "sessions").iterdir()
    thief = site.home("thief") / "sessions"
    thief.mkdir(parents=True)
    (thief / quinn_file.name).write_bytes(quinn_file.read_bytes())
    (thief / quinn_file.name).chmod(0o600)
    assert json.loads(site.sv("thief", "whoami", "--json").stdout)["user"] == "quinn"
    assert site.sv("quinn", "logout").exit_code == 0
    _refused(site.sv("thief", "whoami"), 15, "session has ended")
    assert site.kinds().count("auth.logout") >= 2


def test_an_idle_session_expires_by_the_policy(site: Site) -> None:
    drafted = site.sv("ada", "user", "policy", "set", "idle_minutes=1", "--json")
    assert drafted.exit_code == 0, drafted.stdout
    assert json.loads(drafted.stdout)["status"] == "draft"
    # the admin proposed it; a qa user other than the admin puts it in force
    _refused(
        site.sv(
            "ada",
            "change",
            "approve",
            json.loads(drafted.stdout)["change_id"],
            "--password-file",
            str(site.pw),
        ),
        16,
        "qa",
    )
    assert approve_all(site.db)
    with Repository.open(site.db).write_raw() as conn:  # the clock moves on two minutes
        conn.execute(sa.update(schema.sessions).values(last_used="2020-01-01T00:00:00.000000Z"))
    _refused(site.sv("ada", "whoami"), 15, "expired after 1 minutes idle")
    assert site.kinds()[-1] == "auth.logout"


def test_password_rules_and_history(site: Site) -> None:
    short = site.secret_file("short", "short-one")
    _refused(
        site.sv(
            "ada",
            "user",
            "add",
            "pat",
            "--name",
            "Pat Doe",
            "--role",
            "qa",
            "--password-file",
            str(short),
        ),
        2,
        "at least 12",
    )
    named = site.secret_file("named", "my-name-is-pat-ok")
    _refused(
        site.sv(
            "ada",
            "user",
            "add",
            "pat",
            "--name",
            "Pat Doe",
            "--role",
            "qa",
            "--password-file",
            str(named),
        ),
        2,
        "user name",
    )
    site.add("pat", "qa")
    assert site.login("pat").exit_code == 0
    new = site.secret_file("new", "another-long-secret-77")
    cur = site.pw
    assert (
        site.sv(
            "pat",
            "user",
            "passwd",
            "--password-file",
            str(new),
            "--current-password-file",
            str(cur),
        ).exit_code
        == 0
    )
    # back to the first one: it is in the history
    _refused(
        site.sv(
            "pat",
            "user",
            "passwd",
            "--password-file",
            str(cur),
            "--current-password-file",
            str(new),
        ),
        2,
        "used before",
    )
    assert site.login("pat", new).exit_code == 0
    # ada's; pat's from the admin, pat's own at first log-in, pat's change
    assert site.kinds().count("user.password") == 4


def test_tokens_for_service_accounts_capture_only_and_never_sign(site: Site) -> None:
    made = site.sv("ada", "user", "add", "line1", "--name", "Packaging line 1", "--service")
    assert made.exit_code == 0, made.stdout
    tok = json.loads(
        site.sv("ada", "user", "token", "create", "line1", "--label", "L3", "--json").stdout
    )
    env = {"SERIALVAULT_TOKEN": tok["token"]}
    assert site.sv(None, "capture", str(site.doc()), env=env).exit_code == 0
    _refused(site.sv(None, "status", env=env), 16, "line1 (service)")
    # a service account has no password: a log-in is refused in the words an unknown id
    # gets (nobody learns the line's id exists) and counts toward no lockout, so nobody
    # can lock the line out by guessing at its id
    for _ in range(6):
        _refused(
            site.sv(None, "login", "line1", "--password-file", str(site.pw)),
            15,
            "unknown user or wrong password",
        )
    assert (
        json.loads(site.sv("ada", "user", "show", "line1", "--json").stdout)["status"] == "active"
    )
    assert json.loads(site.sv(None, "whoami", "--json", env=env).stdout)["user"] == "line1"
    # only the hash is stored: the secret appears nowhere in the database
    with Repository.open(site.db).read() as conn:
        stored = " ".join(str(v) for row in conn.execute(sa.select(schema.log)) for v in row)
    assert tok["token"].split("_", 2)[2] not in stored
    # a mistyped or revoked token opens nothing
    _refused(
        site.sv(
            None, "capture", str(site.doc()), env={"SERIALVAULT_TOKEN": tok["token"][:-2] + "xx"}
        ),
        15,
        "not valid",
    )
    assert site.sv("ada", "user", "token", "revoke", tok["token_id"]).exit_code == 0
    _refused(site.sv(None, "capture", str(site.doc()), env=env), 15, "not valid")


def test_a_service_account_cannot_sign(site: Site, tmp_path: Path) -> None:
    from serialvault.app.context import open_repository
    from serialvault.app.identity import create_token
    from serialvault.app.signatures import sign
    from serialvault.errors import NotPermitted
    from serialvault.identity.auth import authenticate
    from serialvault.settings import Settings

    site.sv("ada", "user", "add", "line1", "--name", "Packaging line 1", "--service")
    s = Settings(db=site.db, home=site.home("ada"))
    text = create_token(s, site.db, "line1", label="", reason=None).text
    repo = open_repository(s, site.db)
    machine = authenticate(repo, site.home("x"), text)
    n = site.head()
    with pytest.raises(NotPermitted, match="no signature rights"):
        sign(
            repo,
            s,
            machine,
            subject="x",
            sha256="0" * 64,
            meaning="approved",
            password=PW,
            user_entered=None,
            reason="r",
        )
    assert site.head() == n


def test_signatures_need_the_password_and_bind_to_content(site: Site) -> None:
    from serialvault.app.context import open_repository
    from serialvault.app.signatures import sign, signatures_of
    from serialvault.errors import NotAuthenticated
    from serialvault.identity.auth import authenticate, session_signed
    from serialvault.settings import Settings

    site.add("quinn", "qa", name="Quinn Q. Adams")
    assert site.login("quinn").exit_code == 0
    s = Settings(db=site.db, home=site.home("quinn"))
    repo = open_repository(s, site.db)
    who = authenticate(repo, s.home)
    n = site.head()
    with pytest.raises(NotAuthenticated, match="wrong password"):
        sign(
            repo,
            s,
            who,
            subject="doc:1",
            sha256="a" * 64,
            meaning="approved",
            password="nope-nope-nope",
            user_entered="quinn",
            reason="r",
        )
    assert site.kinds()[-1] == "auth.failure"
    assert signatures_of(repo, "doc:1") == []
    with pytest.raises(NotAuthenticated, match="not the logged-in user"):
        sign(
            repo,
            s,
            who,
            subject="doc:1",
            sha256="a" * 64,
            meaning="approved",
            password=PW,
            user_entered="ada",
            reason="r",
        )
    assert not session_signed(repo, who)
    row = sign(
        repo,
        s,
        who,
        subject="doc:1",
        sha256="a" * 64,
        meaning="approved",
        password=PW,
        user_entered="quinn",
        reason="r",
    )
    assert (row.signer, row.name, row.meaning) == ("quinn", "Quinn Q. Adams", "approved")
    assert session_signed(repo, who)  # after the first signing, the password suffices
    assert site.head() == n + 3  # two failures, one signature
    (kept,) = signatures_of(repo, "doc:1")
    assert kept.sha256 == "a" * 64
    assert signatures_of(repo, "doc:2") == []  # a signature names its content, nothing else


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.booleans(), st.sampled_from(("operator", "qa", "auditor", "admin"))),
        min_size=1,
        max_size=8,
    )
)
def test_any_sequence_of_grants_leaves_exactly_the_final_permissions(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[bool, str]]
) -> None:
    """Grant and revoke in any order: what the user may do afterwards is exactly what
    their final roles grant — checked through the real authorization, action by action."""
    from serialvault.app.context import authorize, open_repository
    from serialvault.app.identity import change_roles, create_account
    from serialvault.errors import NotPermitted, UsageError
    from serialvault.identity.auth import login
    from serialvault.settings import Settings

    tmp = tmp_path_factory.mktemp("roles")
    db = str(tmp / "r.db")
    repo = Repository.open(db, must_exist=False)
    repo.init("ada")
    create_account(
        repo, "ada", user_id="ada", name="Ada Admin", roles=["admin"], password=PW, reason="t"
    )
    create_account(
        repo, "ada", user_id="ulla", name="Ulla User", roles=["operator"], password=PW, reason="t"
    )
    admin = Settings(db=db, home=tmp / "ada")
    login(repo, admin.home, "ada", PW)
    held = {"operator"}
    for grant, role in steps:
        try:
            change_roles(
                admin,
                db,
                "ulla",
                add=[role] if grant else [],
                remove=[] if grant else [role],
                reason=None,
            )
        except UsageError:  # the last role cannot go: the account keeps what it had
            assert not grant
            assert held == {role}
            continue
        held = held | {role} if grant else held - {role}
    user = Settings(db=db, home=tmp / "ulla")
    login(repo, user.home, "ulla", PW, new_password=PW + "-own")
    live = open_repository(user, db)
    allowed = set()
    for action in Action:
        try:
            authorize(user, live, action)
            allowed.add(action)
        except NotPermitted:
            pass
    assert allowed == set(permitted(held))


def test_roles_are_checked_against_the_account_kind() -> None:
    assert check_roles("person", ["qa", "operator"]) is None
    assert "service accounts" in (check_roles("person", ["service"]) or "")
    assert "only" in (check_roles("service", ["service", "qa"]) or "")
    assert "unknown role" in (check_roles("person", ["root"]) or "")
    assert "at least one role" in (check_roles("person", []) or "")
    assert set(ROLES) == {"operator", "qa", "auditor", "admin", "service"}


def test_r8_names_the_account_or_signature_that_differs(site: Site) -> None:
    from serialvault.store import reconcile as rec

    site.add("quinn", "qa", name="Quinn Adams")
    repo = Repository.open(site.db)
    base = rec.take_baseline(repo)
    same = rec.reconcile(repo, base, against="baseline")
    (r8,) = [r for r in same.results if r.rule == "R8"]
    assert r8.status == "pass"
    assert r8.counts["accounts"] == 2
    # a role granted after the baseline: R8 names the account and what changed
    assert site.sv("ada", "user", "roles", "quinn", "--add", "auditor").exit_code == 0
    moved = rec.reconcile(repo, base, against="baseline")
    (r8,) = [r for r in moved.results if r.rule == "R8"]
    assert r8.status == "fail"
    (line,) = r8.examples["accounts"]
    assert line.startswith("quinn: expected Quinn Adams | person | active | qa |")
    assert "auditor,qa" in line
    assert r8.examples["records"] == ["user.account: expected 2, found 3"]
    # a baseline from before accounts existed: inconclusive, never a pass
    old = rec.Baseline.from_dict({**base.to_dict(), "governance": None})
    (r8,) = [r for r in rec.reconcile(repo, old, against="old").results if r.rule == "R8"]
    assert r8.status == "inconclusive"


def test_a_restore_is_an_admins_and_a_lost_site_proves_it_from_the_backup(
    site: Site, tmp_path: Path
) -> None:
    """Restores need an authenticated admin: by session on the live repository, or — the
    live repository gone — by their account in the backup, checked before the restored
    repository becomes usable. Nobody is logged in to what a restore produces."""
    env = _backup_env(tmp_path)
    site.add("oscar", "operator")
    assert site.login("oscar").exit_code == 0
    copy = (tmp_path / "copy").as_uri()
    _refused(site.sv("oscar", "backup", "full", "--to", copy, env=env), 16, "admin")
    assert site.sv("ada", "backup", "full", "--to", copy, env=env).exit_code == 0
    into = str(tmp_path / "restored.db")
    # the live repository is gone (another --db): no session there, no --as
    gone = {**env, "SERIALVAULT_DB": str(tmp_path / "gone.db")}
    _refused(site.sv("ada", "restore", "--from", copy, "--into", into, env=gone), 15, "--as USER")
    # an operator's account in the backup is not an admin's; a wrong password is refused
    wrong = site.secret_file("wrong", "definitely-not-it-99")
    for user, pw, code in (("oscar", site.pw, 16), ("ada", wrong, 15)):
        r = site.sv(
            None,
            "restore",
            "--from",
            copy,
            "--into",
            into,
            "--force",
            "--as",
            user,
            "--password-file",
            str(pw),
            env=gone,
        )
        _refused(r, code)
        assert not Path(into).exists()  # no usable repository left behind
    ok = site.sv(
        None,
        "restore",
        "--from",
        copy,
        "--into",
        into,
        "--as",
        "ada",
        "--password-file",
        str(site.pw),
        "--json",
        env=gone,
    )
    assert ok.exit_code == 0, ok.stdout
    restored = Repository.open(into)
    assert restored.meta()["restored_by"] == "ada"  # who restored, as authenticated
    with restored.read() as conn:
        sessions = conn.execute(sa.select(sa.func.count()).select_from(schema.sessions)).scalar()
    assert sessions == 0
    # ada's session on the live repository does not open its restored copy
    _refused(site.sv("ada", "whoami", "--db", into), 15, "not logged in")
    assert (
        site.sv("ada", "login", "ada", "--db", into, "--password-file", str(site.pw)).exit_code == 0
    )


def test_a_repository_from_before_accounts_gets_its_first_admin(tmp_path: Path) -> None:
    """A repository created before accounts existed: ``init`` migrates it, ``init
    --admin`` creates its first admin, its free-text actors stay as they were and
    reports mark them unauthenticated; a second "first" admin is refused."""
    from serialvault.app.identity import who_label
    from serialvault.store.capture import Capturer

    db = str(tmp_path / "old.db")
    repo = Repository.open(db, must_exist=False)
    repo.init("jdoe@line-pc")
    b.register(repo, b.GTIN, actor="jdoe@line-pc")
    Capturer(repo, actor="jdoe@line-pc").capture_bytes(
        b.document(b.commission([b.sgtin("OLD1")]), header=b.products(b.GTIN)), "old.jsonld"
    )
    with repo.write_raw() as conn:  # as schema 0001 left it: no account, partner or serial tables
        tables = ("serial_numbers", "serial_allocations", "serial_pools", "partners", "sessions")
        tables += ("changes", "signatures", "tokens", "credentials")
        tables += ("exception_actions", "capas", "capa_links")
        for name in (*tables, "users"):
            conn.execute(sa.text(f"DROP TABLE {name}"))
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))
    head = repo.head()
    env = {"SERIALVAULT_HOME": str(tmp_path / "home"), "SERIALVAULT_DB": db}
    _refused(runner.invoke(app, ["status"], env=env), 7, "run `serialvault init` to migrate")
    migrated = runner.invoke(app, ["init", "--json"], env=env)
    assert migrated.exit_code == 0, migrated.stdout
    assert Repository.open(db).head() == head  # a migration writes no record
    _refused(runner.invoke(app, ["status"], env=env), 15, "no user accounts yet")
    pw = tmp_path / "pw"
    pw.write_text(PW + "\n")
    first = ["init", "--admin", "ada", "--admin-name", "Ada Admin", "--password-file", str(pw)]
    assert runner.invoke(app, first, env=env).exit_code == 0
    _refused(runner.invoke(app, first, env=env), 9, "already has user accounts")
    with Repository.open(db).read() as conn:
        actors = [r[0] for r in conn.execute(sa.select(schema.log.c.actor).order_by("seq"))]
    assert actors[:2] == ["jdoe@line-pc", "jdoe@line-pc"]
    label = who_label(Repository.open(db))
    assert label("jdoe@line-pc") == "jdoe@line-pc (unauthenticated)"
    assert label("ada") == "Ada Admin (ada)"
    # and a new repository cannot be made without its first admin
    _refused(runner.invoke(app, ["init", "--db", str(tmp_path / "new.db")], env=env), 2, "--admin")
    assert not (tmp_path / "new.db").exists()


def test_capture_checks_the_product_version_effective_at_the_event_time(site: Site) -> None:
    """A product under change control: its units cannot be commissioned while it is a
    draft, before its approval takes effect, or after it is retired — each refusal names
    the GTIN, the version and the change, and records nothing but the exception."""
    from serialvault.app.changes import approve
    from serialvault.settings import Settings

    site.add("oscar", "operator")
    site.add("quinn", "qa")
    assert site.login("oscar").exit_code == 0
    assert site.login("quinn").exit_code == 0
    other = b.gtin14("0999", "99")
    drafted = site.sv("oscar", "product", "add", "--gtin", other, "--name", "New drug", "--json")
    cid = json.loads(drafted.stdout)["change_id"]

    def doc(serial: str, when: str) -> Path:
        ev = b.commission([b.sgtin(serial, ("0999", "99"))])
        ev["eventTime"] = when
        p = site.tmp / f"{serial}.jsonld"
        p.write_bytes(b.document(ev))
        return p

    n = site.head()
    draft = site.sv("oscar", "capture", str(doc("D1", "2031-01-01T00:00:00Z")))
    _refused(draft, 5, f"product {other} version 1 is a draft ({cid})")
    assert site.kinds()[n:] == ["exception"]
    qa = Settings(db=site.db, home=site.home("quinn"))
    approve(
        qa, site.db, cid, password=PW, user_entered="quinn", effective_from="2030-01-01T00:00:00Z"
    )
    early = site.sv("oscar", "capture", str(doc("E1", "2029-12-31T23:59:59Z")))
    _refused(early, 5, "effective only from 2030-01-01T00:00:00.000000Z", cid)
    assert site.sv("oscar", "capture", str(doc("OK1", "2030-06-01T00:00:00Z"))).exit_code == 0
    retired = json.loads(
        site.sv("oscar", "product", "retire", other, "--reason", "withdrawn", "--json").stdout
    )
    approve(qa, site.db, retired["change_id"], password=PW, effective_from="2031-01-01T00:00:00Z")
    assert site.sv("oscar", "capture", str(doc("OK2", "2030-12-31T00:00:00Z"))).exit_code == 0
    late = site.sv("oscar", "capture", str(doc("L1", "2031-02-01T00:00:00Z")))
    _refused(late, 5, f"product {other} is retired from 2031-01-01", retired["change_id"])
    # the approval is an e-signature bound to the change's content
    shown = json.loads(site.sv("quinn", "change", "show", cid, "--json").stdout)
    (sig,) = shown["signatures"]
    assert sig["verified"] is True
    assert (sig["signer"], sig["meaning"]) == ("quinn", "approved")
    assert shown["diff"][0]["field"].startswith("product.")


def test_a_signature_moved_to_another_change_does_not_verify(site: Site) -> None:
    """Copy an approval's signature row onto another change: ``change show`` recomputes
    the SHA-256 of that change's content and reports the mismatch (exit 8)."""
    site.add("oscar", "operator")
    site.add("quinn", "qa")
    assert site.login("oscar").exit_code == 0
    assert site.login("quinn").exit_code == 0
    a = json.loads(
        site.sv("oscar", "product", "add", "--gtin", b.GTIN, "--name", "A", "--json").stdout
    )
    other = b.gtin14("0999", "99")
    c = json.loads(
        site.sv("oscar", "product", "add", "--gtin", other, "--name", "B", "--json").stdout
    )
    ok = site.sv(
        "quinn",
        "change",
        "approve",
        a["change_id"],
        "--password-file",
        str(site.pw),
        "--user",
        "quinn",
    )
    assert ok.exit_code == 0, ok.stdout
    with Repository.open(site.db).write_raw() as conn:  # the forger's edit
        conn.execute(sa.update(schema.signatures).values(subject=f"change:{c['change_id']}"))
    moved = site.sv("quinn", "change", "show", c["change_id"])
    assert moved.exit_code == 8
    assert "DOES NOT MATCH" in moved.stdout
    # and approving one's own change is refused: quinn drafts, quinn cannot approve
    mine = json.loads(
        site.sv(
            "quinn", "product", "add", "--gtin", b.gtin14("0999", "98"), "--name", "C", "--json"
        ).stdout
    )
    n = site.head()
    _refused(
        site.sv("quinn", "change", "approve", mine["change_id"], "--password-file", str(site.pw)),
        16,
        "other than its author",
    )
    assert site.head() == n


def test_parallel_guesses_cannot_outrun_the_lockout(site: Site) -> None:
    """Twelve wrong log-ins at once: the password is checked under the writer lock, so
    exactly ``lockout_after`` guesses are checked and the rest meet a locked account."""
    import subprocess
    import sys

    site.add("oscar", "operator")
    wrong = site.secret_file("wrong", "not-the-right-one-at-all")
    env = {**os.environ, "SERIALVAULT_DB": site.db, "SERIALVAULT_HOME": str(site.home("x"))}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "serialvault.cli.main",
                "login",
                "oscar",
                "--password-file",
                str(wrong),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(12)
    ]
    assert all(p.wait(timeout=120) == 15 for p in procs)
    with Repository.open(site.db).read() as conn:
        bodies = [
            orjson.loads(r[0])
            for r in conn.execute(
                sa.select(schema.log.c.body).where(schema.log.c.kind == "auth.failure")
            )
        ]
    checked = [x for x in bodies if "wrong password" in x["why"]]
    assert len(checked) == 5, [x["why"] for x in bodies]
    assert [x["failures"] for x in checked] == [1, 2, 3, 4, 5]
    assert sum(1 for x in bodies if x["locked"]) == 1
    assert len(bodies) == 12  # every attempt recorded


def test_no_one_restores_over_a_repository_they_are_not_an_admin_of(
    site: Site, tmp_path: Path
) -> None:
    """An admin of another repository, a disabled admin with the backup's credentials,
    and a drill whose target is the live repository: none may roll the live one back."""
    env = _backup_env(tmp_path)
    copy = (tmp_path / "copy").as_uri()
    site.add("oscar", "operator")
    site.add("mal", "admin")
    assert site.login("oscar").exit_code == 0
    assert site.sv("ada", "backup", "full", "--to", copy, env=env).exit_code == 0
    assert site.sv("oscar", "capture", str(site.doc())).exit_code == 0
    assert site.sv("ada", "backup", "incr", "--to", copy, env=env).exit_code == 0
    head = site.head()
    # oscar makes a repository of his own, where he is admin, and names it as --db
    mine = str(tmp_path / "mine.db")
    made = site.sv(
        "oscar",
        "init",
        "--db",
        mine,
        "--admin",
        "oscar",
        "--admin-name",
        "Oscar Own",
        "--password-file",
        str(site.pw),
    )
    assert made.exit_code == 0, made.stdout
    assert (
        site.sv("oscar", "login", "oscar", "--db", mine, "--password-file", str(site.pw)).exit_code
        == 0
    )
    r = site.sv(
        "oscar",
        "restore",
        "--from",
        copy,
        "--into",
        site.db,
        "--force",
        "--at",
        "5",
        "--db",
        mine,
        env=env,
    )
    _refused(r, 16, "oscar (operator)")
    assert site.head() == head
    # a disabled admin cannot use the backup's (older) accounts to restore over live
    assert site.sv("ada", "user", "disable", "mal").exit_code == 0
    head += 1
    r = site.sv(
        None,
        "restore",
        "--from",
        copy,
        "--into",
        site.db,
        "--force",
        "--at",
        "5",
        "--as",
        "mal",
        "--password-file",
        str(site.pw),
        env=env,
    )
    _refused(r, 16, "log in to it as an admin")
    # prune as the admin of another repository: refused, nothing deleted
    r = site.sv(
        "oscar",
        "backup",
        "prune",
        "--to",
        copy,
        "--keep-fulls",
        "0",
        "--keep-days",
        "0",
        "--db",
        mine,
        env=env,
    )
    _refused(r, 16, "holds backups of repository")
    assert site.head() == head
    assert Repository.open(site.db).head().seq == head


def test_an_admin_cannot_hold_a_token_that_acts_as_a_person(site: Site) -> None:
    site.add("quinn", "qa")
    assert site.login("quinn").exit_code == 0
    n = site.head()
    _refused(site.sv("ada", "user", "token", "create", "quinn"), 16, "only quinn may")
    assert site.head() == n
    own = site.sv("quinn", "user", "token", "create", "quinn", "--label", "my API client", "--json")
    assert own.exit_code == 0, own.stdout
    tok = json.loads(own.stdout)["token"]
    # the token acts as quinn, but cannot make more tokens, nor sign without her password
    _refused(
        site.sv(None, "user", "token", "create", "quinn", env={"SERIALVAULT_TOKEN": tok}),
        16,
        "log in",
    )


def test_a_password_an_admin_set_opens_nothing_until_the_user_replaces_it(site: Site) -> None:
    """An admin who sets a user's password must not be able to act or sign as them: the
    admin's password opens no session; the user's first log-in replaces it."""
    r = site.sv(
        "ada",
        "user",
        "add",
        "quinn",
        "--name",
        "Quinn QA",
        "--role",
        "qa",
        "--password-file",
        str(site.temp),
    )
    assert r.exit_code == 0, r.stdout
    n = site.head()
    _refused(
        site.sv("quinn", "login", "quinn", "--password-file", str(site.temp)), 15, "set by an admin"
    )
    assert site.head() == n
    same = site.sv(
        "quinn",
        "login",
        "quinn",
        "--password-file",
        str(site.temp),
        "--new-password-file",
        str(site.temp),
    )
    _refused(same, 2, "used before")
    ok = site.sv(
        "quinn",
        "login",
        "quinn",
        "--password-file",
        str(site.temp),
        "--new-password-file",
        str(site.pw),
    )
    assert ok.exit_code == 0, ok.stdout
    # an admin's reset makes it temporary again
    assert (
        site.sv("ada", "user", "passwd", "quinn", "--password-file", str(site.temp)).exit_code == 2
    )  # reused
    other = site.secret_file("other", "another-admin-choice-9")
    assert site.sv("ada", "user", "passwd", "quinn", "--password-file", str(other)).exit_code == 0
    _refused(site.sv("x", "login", "quinn", "--password-file", str(other)), 15, "set by an admin")


def test_policy_bounds_and_case_folded_ids(site: Site) -> None:
    for setting in ("lockout_after=0", "lockout_after=1000", "idle_minutes=100000", "min_length=4"):
        _refused(site.sv("ada", "user", "policy", "set", setting), 2, "allowed from")
    assert site.sv("ada", "login", "ADA", "--password-file", str(site.pw)).exit_code == 0


def test_restore_as_refuses_a_password_its_owner_never_replaced(site: Site, tmp_path: Path) -> None:
    env = _backup_env(tmp_path)
    made = site.sv(
        "ada",
        "user",
        "add",
        "ad2",
        "--name",
        "Ad Two",
        "--role",
        "admin",
        "--password-file",
        str(site.temp),
    )
    assert made.exit_code == 0, made.stdout
    copy = (tmp_path / "copy").as_uri()
    assert site.sv("ada", "backup", "full", "--to", copy, env=env).exit_code == 0
    into = tmp_path / "n.db"
    gone = {**env, "SERIALVAULT_DB": str(tmp_path / "none.db")}
    r = site.sv(
        None,
        "restore",
        "--from",
        copy,
        "--into",
        str(into),
        "--as",
        "ad2",
        "--password-file",
        str(site.temp),
        env=gone,
    )
    _refused(r, 15, "never replaced")
    assert not into.exists()


def test_two_reviewers_racing_decide_a_change_once(site: Site) -> None:
    """Two qa users approve the same draft at the same moment: the decision is taken
    under the writer lock, so exactly one approval lands and the other is refused."""
    import subprocess
    import sys

    site.add("oscar", "operator")
    site.add("quinn", "qa")
    site.add("quincy", "qa")
    for u in ("oscar", "quinn", "quincy"):
        assert site.login(u).exit_code == 0
    drafted = site.sv("oscar", "product", "add", "--gtin", b.GTIN, "--name", "A", "--json")
    cid = json.loads(drafted.stdout)["change_id"]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "serialvault.cli.main",
                "change",
                "approve",
                cid,
                "--user",
                u,
                "--password-file",
                str(site.pw),
            ],
            env={**os.environ, "SERIALVAULT_DB": site.db, "SERIALVAULT_HOME": str(site.home(u))},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for u in ("quinn", "quincy")
    ]
    codes = sorted(p.wait(timeout=120) for p in procs)
    assert codes == [0, 9]
    kinds = site.kinds()
    assert kinds.count("change.decision") == 1
    assert kinds.count("masterdata.product") == 1  # the approved version, once


def test_an_unknown_id_costs_one_argon2_check_like_a_known_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No timing oracle: a log-in for an id that does not exist verifies a password
    against a decoy hash, as one for an existing account does against its own."""
    from serialvault.errors import NotAuthenticated
    from serialvault.identity import auth
    from serialvault.identity.auth import login
    from serialvault.store.repository import Repository as Repo
    from tests.accounts import make_repo

    db = str(tmp_path / "t.db")
    make_repo(db)
    calls: list[str] = []
    real = auth.password_matches

    def counting(stored: str, password: str) -> bool:
        calls.append(stored[:9])
        return real(stored, password)

    monkeypatch.setattr(auth, "password_matches", counting)
    for user in ("tester", "mallory"):
        with pytest.raises(NotAuthenticated, match="unknown user or wrong password"):
            login(Repo.open(db), tmp_path / "h", user, "wrong-password-here")
    assert calls == ["$argon2id", "$argon2id"]
