"""Identity benchmark: what a log-in and an electronic signature cost (issue #11: each
under 0.5 s, Argon2id included).

Measured on a fresh SQLite repository with one admin and one qa user:

* ``login (command)`` — ``serialvault login USER --password-file F``, wall time of the
  process, start-up included (what a person waits for);
* ``whoami (command)`` — the same start-up and a session check, no Argon2id: the
  difference to ``login`` is the log-in's own work;
* ``login (library)`` — ``identity.auth.login``: one Argon2id verification, the
  ``auth.login`` record, the session row and file;
* ``signature (library)`` — ``app.identity.sign``: the password re-entered (one Argon2id
  verification) and the ``user.signature`` record;
* ``argon2id verify`` — the hash check alone (the policy's parameters).

Usage: ``.venv/bin/python bench/identity_bench.py [--repeat 15]``; prints a Markdown
table of medians (and min–max) for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from capture_bench import serialvault_command

from serialvault.app.identity import create_account
from serialvault.app.signatures import sign
from serialvault.identity.auth import authenticate, login
from serialvault.identity.credentials import hash_password, password_matches
from serialvault.settings import Settings
from serialvault.store.repository import Repository

PASSWORD = "benchmark-signing-secret"
LIMIT_S = 0.5


def _times(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(prog="bench/identity_bench.py", description=__doc__)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sv-idbench-"))
    db = str(tmp / "r.db")
    repo = Repository.open(db, must_exist=False)
    repo.init("ada")
    create_account(
        repo,
        "ada",
        user_id="ada",
        name="Ada Admin",
        roles=["admin"],
        password=PASSWORD,
        reason="bench",
    )
    create_account(
        repo,
        "ada",
        user_id="quinn",
        name="Quinn QA",
        roles=["qa"],
        password="handed-over-by-the-admin",
        reason="bench",
    )
    # quinn's first log-in replaces the password the admin handed over
    login(repo, tmp / "first", "quinn", "handed-over-by-the-admin", new_password=PASSWORD)
    pw = tmp / "pw"
    pw.write_text(PASSWORD + "\n")
    home = tmp / "home"
    cmd = serialvault_command()
    env_cmd = {"SERIALVAULT_HOME": str(home), "PATH": "/usr/bin:/bin"}

    def run(*a: str) -> None:
        subprocess.run([*cmd, *a, "--db", db], env=env_cmd, check=True, capture_output=True)

    rows: dict[str, list[float]] = {}
    rows["login (command)"] = _times(
        lambda: run("login", "quinn", "--password-file", str(pw)), args.repeat
    )
    rows["whoami (command)"] = _times(lambda: run("whoami"), args.repeat)
    rows["login (library)"] = _times(lambda: login(repo, home, "quinn", PASSWORD), args.repeat)
    settings = Settings(db=db, home=home)
    who = authenticate(repo, home)
    n = iter(range(10**6))
    rows["signature (library)"] = _times(
        lambda: sign(
            repo,
            settings,
            who,
            subject=f"bench:{next(n)}",
            sha256="0" * 64,
            meaning="approved",
            password=PASSWORD,
            user_entered="quinn",
            reason="bench",
        ),
        args.repeat,
    )
    h = hash_password(PASSWORD)
    rows["argon2id verify"] = _times(lambda: password_matches(h, PASSWORD), args.repeat)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"identity benchmark: {args.repeat} runs each, SQLite, {when}")
    print("| measure | median s | min–max s | under 0.5 s |")
    print("| --- | --- | --- | --- |")
    for name, ts in rows.items():
        med = statistics.median(ts)
        ok = "yes" if med < LIMIT_S else "**no**"
        print(f"| {name} | {med:.3f} | {min(ts):.3f}–{max(ts):.3f} | {ok} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
