"""Bad inputs of the backup layer: policy files, durations, recovery points, segment
frames (a parser, so a property test), and the CLI's exit codes for each kind of failure."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serialvault.backup.policy import parse_duration, parse_policy
from serialvault.backup.restore import _parse_at
from serialvault.backup.segments import check_chain, decode, encode
from serialvault.domain.chain import GENESIS, LogRecord, body_hash, chain_hash
from serialvault.errors import BackupError, IntegrityFailure, UsageError
from tests.accounts import make_repo

SV = [sys.executable, "-m", "serialvault.cli.main"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("format = ", "not valid TOML"),
        ('format = "serialvault.policy/2"', "format 'serialvault.policy/2' is not"),
        ("[extra]\nx = 1", r"unknown section\(s\) extra"),
        ("[copies.onsite]\npath = '/x'", "copy 'onsite' needs a url"),
        ("[schedule]\nincremental_interval = 'soon'", "schedule.incremental_interval 'soon'"),
        ("[keys]\nsigning_key = 3", "signing_key must be a file path"),
    ],
)
def test_bad_policies_are_named(text: str, message: str) -> None:
    with pytest.raises(BackupError, match=message):
        parse_policy(text, Path("/etc/sv/policy.toml"))


def test_a_policy_resolves_paths_beside_itself() -> None:
    pol = parse_policy(
        '[keys]\nsigning_key = "k/signing.key"\n[copies.a]\nurl = "file:///b"\n'
        '[schedule]\nincremental_interval = "1s"\nfull_every = "7d"',
        Path("/etc/sv/policy.toml"),
    )
    assert pol.signing_key == Path("/etc/sv/k/signing.key")
    assert pol.incremental_interval == 1.0
    assert pol.full_every == 7 * 86400
    assert "k/signing.key" in json.dumps(pol.to_dict())


@pytest.mark.parametrize(
    ("text", "seconds"), [("500ms", 0.5), ("15m", 900), ("4h", 14400), (30, 30)]
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_a_recovery_point_must_be_a_seq_or_a_timestamp_with_offset() -> None:
    assert _parse_at("42") == (42, None)
    assert _parse_at("2026-11-25T10:00:00+01:00") == (None, "2026-11-25T09:00:00.000000Z")
    # a value that is no point at all is a usage error (2), not an unusable copy (10)
    with pytest.raises(UsageError, match="--at 'yesterday' is neither a seq nor a timestamp"):
        _parse_at("yesterday")
    with pytest.raises(UsageError, match="no time zone"):
        _parse_at("2026-11-25T10:00:00")


def _records(bodies: list[bytes], first: int = 1) -> list[LogRecord]:
    prev = GENESIS
    out = []
    for i, body in enumerate(bodies):
        seq = first + i
        bh = body_hash(body)
        ch = chain_hash(prev, seq, "2026-01-01T00:00:00.000000Z", "k", "a\nb", "r", bh)
        out.append(LogRecord(seq, "2026-01-01T00:00:00.000000Z", "k", "a\nb", "r", body, bh, ch))
        prev = ch
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=64), min_size=1, max_size=8))
def test_segment_frames_round_trip(bodies: list[bytes]) -> None:
    recs = _records(bodies)
    frame, first, last, n = encode(recs)
    assert (first, last, n) == (1, len(bodies), len(bodies))
    assert decode(frame) == recs
    assert check_chain(decode(frame), GENESIS) == recs[-1].chain_hash


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=64), min_size=1, max_size=6), st.data())
def test_a_cut_frame_is_refused_with_its_name(bodies: list[bytes], data: st.DataObject) -> None:
    frame = encode(_records(bodies))[0]
    cut = data.draw(st.integers(min_value=1, max_value=len(frame) - 1))
    with pytest.raises(IntegrityFailure, match=r"^seg-7: "):
        decode(frame[:cut], "seg-7")


def test_an_altered_record_is_named_by_seq() -> None:
    recs = _records([b'{"a":1}', b'{"a":2}', b'{"a":3}'])
    bad = [recs[0], dataclasses.replace(recs[1], body=b'{"a":9}'), recs[2]]
    with pytest.raises(IntegrityFailure, match="seq 2 body hash"):
        check_chain(bad, GENESIS, "seg")
    # a run that does not continue the given chain hash (a lost record before it)
    with pytest.raises(IntegrityFailure, match="seq 2 chain hash"):
        check_chain(recs[1:], GENESIS, "seg")
    with pytest.raises(IntegrityFailure, match="seq 2 expected, found 3"):
        check_chain([recs[0], recs[2]], GENESIS, "seg")


def _sv(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    e = dict(os.environ)
    e.pop("SERIALVAULT_POLICY", None)
    e.update(env or {})
    return subprocess.run([*SV, *args], cwd=cwd, env=e, capture_output=True, text=True, timeout=120)


def test_cli_exit_codes_name_the_problem(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    make_repo(db)
    # no signing key anywhere: 11, and the message says how to make one
    r = _sv("backup", "full", "--db", db, "--to", (tmp_path / "c").as_uri(), "--json", cwd=tmp_path)
    assert r.returncode == 11
    assert "keys generate" in json.loads(r.stdout)["message"]
    assert _sv("keys", "generate", cwd=tmp_path).returncode == 0
    # an unreachable S3 endpoint: 10, naming target and endpoint
    r = _sv(
        "backup",
        "full",
        "--db",
        db,
        "--to",
        "s3://b/p?endpoint=http://127.0.0.1:9",
        "--json",
        cwd=tmp_path,
        env={
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "y",
            "AWS_DEFAULT_REGION": "us-east-1",
        },
    )
    assert r.returncode == 10, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["ok"] is False
    assert "127.0.0.1:9" in doc["copies"][0]["error"]
    # a good backup, then a damaged object: verify exits 8 and names object and copy
    url = (tmp_path / "c").as_uri()
    assert _sv("backup", "full", "--db", db, "--to", url, cwd=tmp_path).returncode == 0
    obj = next(p for p in (tmp_path / "c" / "objects").rglob("*") if p.is_file())
    data = bytearray(obj.read_bytes())
    data[len(data) // 2] ^= 0x10
    obj.write_bytes(bytes(data))
    r = _sv("backup", "verify", "--to", url, "--full", "--json", cwd=tmp_path)
    assert r.returncode == 8
    finding = json.loads(r.stdout)["copies"][0]["findings"][0]
    assert finding["code"] == "hash-mismatch"
    assert finding["object"] == obj.name
    assert finding["copy"] == url
    # restore to a recovery point that is none: a usage error, 2
    r = _sv(
        "restore",
        "--from",
        url,
        "--into",
        str(tmp_path / "x.db"),
        "--at",
        "soon",
        "--db",
        db,
        cwd=tmp_path,
    )
    assert r.returncode == 2
    assert "--at 'soon'" in r.stderr
