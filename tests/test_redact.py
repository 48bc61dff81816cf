"""URLs are shown with every secret hidden: user-info passwords, secret query
parameters (``?password=``, ``sslpassword``, ``token``), nested URLs — in messages of
the commands too, where a database cannot be reached."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from serialvault.cli.main import app
from serialvault.redact import has_secret, redact_url
from serialvault.store.engine import redact

SECRET = "S3cretPW-7731"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://postgres:{SECRET}@127.0.0.1:5439/x",
        f"postgresql://postgres@127.0.0.1:5439/x?password={SECRET}",
        f"postgresql://postgres@127.0.0.1:5439/x?sslmode=require&sslpassword={SECRET}",
        f"postgresql+psycopg://u@h/x?PASSWORD={SECRET}",
        f"s3://bucket/p?endpoint=http://user:{SECRET}@minio:9000&path_style=true",
    ],
)
def test_store_and_shared_redaction_hide_every_secret(url: str) -> None:
    assert SECRET not in redact(url)
    assert SECRET not in redact_url(url)
    assert has_secret(url)


@pytest.mark.parametrize(
    "db",
    [
        f"postgresql://postgres@127.0.0.1:5439/x?password={SECRET}",
        f"postgresql://postgres:{SECRET}@127.0.0.1:5439/x",
    ],
)
def test_an_unreachable_database_is_named_without_its_password(db: str) -> None:
    for args in (["status", "--db", db], ["status", "--db", db, "--json"]):
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 7
        assert SECRET not in r.output
        assert "cannot use database" in r.output


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=6, max_size=20))
def test_any_password_parameter_value_is_hidden(secret: str) -> None:
    url = f"postgresql://u@h:5432/db?application_name=sv&password={secret}x"
    assert f"{secret}x" not in redact(url)
