"""No password reaches the log, an evidence package, a result file or the output.

The log is permanent (hash-chained: a secret in it could never be removed) and evidence
packages travel to inspectors. A drill is run against a PostgreSQL source whose URL
carries a planted password (the CI server trusts every password), and every artefact is
searched for it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from serialvault.drill import plan as p
from serialvault.errors import InputError
from tests import builders as b
from tests.backup.conftest import capture, cli_env, new_repo
from tests.drill.conftest import approved_plan
from tests.pg import pg_schema_url

SV = [sys.executable, "-m", "serialvault.cli.main"]
PLANTED = "PlantedSecret-93f1"


def _with_password(url: str) -> str:
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{PLANTED}@", 1)


@pytest.mark.parametrize("field", ["target", "db", "copies"])
def test_a_plan_naming_a_password_is_refused(field: str) -> None:
    text = p.template("primary-loss")
    url = f"postgresql://qa:{PLANTED}@db.example/scratch"
    if field == "target":
        text = text.replace('target = "drill-sandbox/primary-loss.db"', f'target = "{url}"')
    elif field == "db":
        text = text.replace('# db = "serialvault.db"', f'db = "{url}"')
    else:
        text = text.replace("copies = []", f'copies = ["s3://b/p?endpoint=http://k:{PLANTED}@h"]')
    with pytest.raises(InputError, match="holds a password or secret") as err:
        p.parse_plan(text, "plan.toml")
    assert PLANTED not in str(err.value)
    assert "~/.pgpass" in str(err.value)


@pytest.mark.postgres
def test_no_artefact_of_a_drill_holds_the_source_password(
    tmp_path: Path, keys: dict[str, str]
) -> None:
    with pg_schema_url() as plain:
        url = _with_password(plain)
        assert PLANTED in url
        repo = new_repo(url, signed_in=True)
        b.register(repo, b.GTIN)
        capture(repo, b.commission([b.sgtin("S1"), b.sgtin("S2")]))
        plan = tmp_path / "plan.toml"
        plan.write_text(
            p.template("primary-loss").replace(
                'target = "drill-sandbox/primary-loss.db"', f'target = "{tmp_path / "sb.db"}"'
            )
        )
        approved_plan(url, plan)
        env = cli_env(keys)
        runs = tmp_path / "runs"
        copy = (tmp_path / "copy").as_uri()

        def sv(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*SV, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
            )

        outputs = [
            sv("drill", "run", str(plan), "--db", url, "--to", copy, "--workdir", str(runs)),
            sv(
                "drill",
                "run",
                str(plan),
                "--db",
                url,
                "--to",
                copy,
                "--workdir",
                str(runs),
                "--json",
            ),
            sv("reconcile", "--db", url, "--against", url),
            sv("reconcile", "--db", url, "--against", url, "--json"),
            sv("backup", "list", "--db", url, "--to", copy, "--json"),
            sv("status", "--db", url.replace("5432", "5499")),  # an error message
        ]
        assert outputs[0].returncode == 0, outputs[0].stdout + outputs[0].stderr
        leaks = [o.args for o in outputs if PLANTED in o.stdout + o.stderr]
        assert not leaks, leaks
        searched = 0
        state = Path(os.environ["XDG_STATE_HOME"])  # PostgreSQL repositories' witness files
        for f in [*runs.rglob("*"), *(tmp_path / "copy").rglob("*"), *state.rglob("*.witness")]:
            if not f.is_file():
                continue
            data = f.read_bytes()
            searched += 1
            assert PLANTED.encode() not in data, f
            if f.suffix == ".zip":
                with zipfile.ZipFile(f) as z:
                    for name in z.namelist():
                        assert PLANTED.encode() not in z.read(name), (f, name)
        assert searched > 10
        engine = sa.create_engine(plain.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT kind, actor, reason, body FROM log").all()
            meta = conn.exec_driver_sql("SELECT key, value FROM meta").all()
        engine.dispose()
        assert any(r[0] == "drill.run" for r in rows)
        for r in [*rows, *meta]:
            assert PLANTED not in "".join(str(x) for x in r), r
