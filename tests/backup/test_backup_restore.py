"""Full and incremental backups, and restores from them, on both engines and both targets."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from serialvault.backup import guard, take
from serialvault.backup import restore as rs
from serialvault.backup.copies import read_manifests
from serialvault.backup.crypto import load_encryption_key, load_verify_key
from serialvault.backup.manifest import Manifest
from serialvault.errors import (
    BackupError,
    ConflictError,
    IntegrityFailure,
    KeyProblem,
    StoreError,
)
from serialvault.store.exceptions import Filter, list_exceptions
from serialvault.store.fingerprint import fingerprint
from serialvault.store.repository import Repository
from tests.backup.conftest import copy_of, grow, new_repo, policy_for


def fp(repo: Repository) -> tuple[str, int, str]:
    with repo.read() as conn:
        f = fingerprint(conn)
    h = repo.head()
    return f.value, h.seq, h.chain_hash


def do_restore(url: str, into: str, keys: dict[str, str], **kw: object) -> rs.RestoreResult:
    return rs.restore(
        [copy_of(url)],
        into,
        verify_key=load_verify_key(keys["public_key"]),
        key=load_encryption_key(keys["encryption_key"]),
        **kw,  # type: ignore[arg-type]
    )


def test_full_then_incrementals_restore_exactly(
    db_url: str, target_url: str, keys: dict[str, str], tmp_path: Path
) -> None:
    repo = new_repo(db_url)
    grow(repo, products=True)
    pol = policy_for(keys)
    copies = [copy_of(target_url)]
    full = take.full_backup(repo, pol, copies, actor="t")
    assert full.ok
    assert full.manifest is not None
    assert full.manifest.type == "full"
    assert full.manifest.first_seq == 1
    assert full.manifest.encryption is not None
    at_full = fp(repo)
    grow(repo)
    (inc1,) = take.incremental_backup(repo, pol, copies, actor="t")
    grow(repo)
    (inc2,) = take.incremental_backup(repo, pol, copies, actor="t", with_fingerprint=True)
    assert inc1.manifest is not None
    assert inc2.manifest is not None
    assert inc1.manifest.fingerprint is None, "an incremental records it only when asked"
    assert inc1.manifest.parent == full.manifest.id
    assert inc2.manifest.parent == inc1.manifest.id
    assert inc2.manifest.first_seq == inc1.manifest.last_seq + 1
    now = fp(repo)
    assert inc2.manifest.fingerprint == now[0]
    # nothing new: no backup is written
    (same,) = take.incremental_backup(repo, pol, copies, actor="t")
    assert same.manifest is None
    assert same.note
    assert "up to date" in same.note

    res = do_restore(target_url, str(tmp_path / "latest.db"), keys)
    assert (res.fingerprint, res.head_seq, res.chain_head) == now
    assert res.expected_fingerprint == now[0]
    restored = Repository.open(str(tmp_path / "latest.db"))
    assert fp(restored) == now

    res = do_restore(target_url, str(tmp_path / "at-full.db"), keys, at=str(at_full[1]))
    assert (res.fingerprint, res.head_seq, res.chain_head) == at_full


def test_point_in_time_between_backups_and_before_the_snapshot(
    target_url: str, keys: dict[str, str], tmp_path: Path
) -> None:
    repo = new_repo(str(tmp_path / "src.db"))
    grow(repo, products=True)
    early = fp(repo)
    early_time = repo.head().recorded_at
    grow(repo)
    pol = policy_for(keys)
    take.full_backup(repo, pol, [copy_of(target_url)], actor="t")
    grow(repo)
    middle = fp(repo)
    grow(repo)
    take.incremental_backup(repo, pol, [copy_of(target_url)], actor="t")

    # a seq inside the incremental: snapshot, then replay up to it
    res = do_restore(target_url, str(tmp_path / "mid.db"), keys, at=str(middle[1]))
    assert (res.fingerprint, res.head_seq, res.chain_head) == middle
    assert res.plan.use_snapshot
    assert res.expected_fingerprint is None

    # a time before the full's snapshot: replay from genesis through the full's log
    assert early_time is not None
    res = do_restore(target_url, str(tmp_path / "early.db"), keys, at=early_time)
    assert (res.fingerprint, res.head_seq, res.chain_head) == early
    assert not res.plan.use_snapshot


@pytest.mark.postgres
def test_across_engines_through_the_log(pg_url: str, keys: dict[str, str], tmp_path: Path) -> None:
    lite = new_repo(str(tmp_path / "src.db"))
    grow(lite, products=True)
    pol = policy_for(keys)
    a = (tmp_path / "a").as_uri()
    take.full_backup(lite, pol, [copy_of(a)], actor="t")
    grow(lite)
    take.incremental_backup(lite, pol, [copy_of(a)], actor="t")
    want = fp(lite)
    res = do_restore(a, pg_url, keys)
    assert not res.plan.use_snapshot  # a SQLite file is no use to PostgreSQL
    assert (res.fingerprint, res.head_seq, res.chain_head) == want
    pg = Repository.open(pg_url)
    assert fp(pg) == want
    assert pg.meta()["repository_id"] == lite.meta()["repository_id"]
    # and back: PostgreSQL backup into SQLite
    b = (tmp_path / "b").as_uri()
    take.full_backup(pg, pol, [copy_of(b)], actor="t")
    res = do_restore(b, str(tmp_path / "back.db"), keys)
    assert (res.fingerprint, res.head_seq, res.chain_head) == want


def test_restore_refuses_a_non_empty_target_without_force(
    db_url: str, keys: dict[str, str], tmp_path: Path
) -> None:
    repo = new_repo(db_url)
    grow(repo, products=True)
    url = (tmp_path / "copy").as_uri()
    full = take.full_backup(repo, policy_for(keys), [copy_of(url)], actor="t").manifest
    assert full is not None
    other = new_repo(str(tmp_path / "other.db"))
    before = fp(other)
    with pytest.raises(ConflictError, match="not empty"):
        do_restore(url, str(tmp_path / "other.db"), keys)
    assert fp(Repository.open(str(tmp_path / "other.db"))) == before
    # another repository is there: --force alone does not replace it, naming the backup does
    with pytest.raises(ConflictError, match="holds repository"):
        do_restore(url, str(tmp_path / "other.db"), keys, force=True)
    assert fp(Repository.open(str(tmp_path / "other.db"))) == before
    res = do_restore(url, str(tmp_path / "other.db"), keys, force=True, backup=full.id)
    assert res.fingerprint == fp(repo)[0]


def test_dry_run_writes_nothing(keys: dict[str, str], tmp_path: Path) -> None:
    repo = new_repo(str(tmp_path / "src.db"))
    grow(repo, products=True)
    url = (tmp_path / "copy").as_uri()
    take.full_backup(repo, policy_for(keys), [copy_of(url)], actor="t")
    res = do_restore(url, str(tmp_path / "dry.db"), keys, dry_run=True)
    assert res.dry_run
    assert res.head_seq == repo.head().seq
    assert not (tmp_path / "dry.db").exists()


def test_incremental_needs_a_full_first(keys: dict[str, str], tmp_path: Path) -> None:
    repo = new_repo(str(tmp_path / "src.db"))
    url = (tmp_path / "copy").as_uri()
    (res,) = take.incremental_backup(repo, policy_for(keys), [copy_of(url)], actor="t")
    assert not res.ok
    assert "has no backup of this repository" in (res.copies[0].error or "")


def test_a_forked_log_is_refused_until_a_new_timeline_is_declared(
    keys: dict[str, str], tmp_path: Path
) -> None:
    url = (tmp_path / "copy").as_uri()
    pol = policy_for(keys)
    repo = new_repo(str(tmp_path / "src.db"))
    grow(repo, products=True)
    take.full_backup(repo, pol, [copy_of(url)], actor="t")
    # the same repository restored to an earlier point, then written differently
    do_restore(url, str(tmp_path / "fork.db"), keys, at="3")
    fork = Repository.open(str(tmp_path / "fork.db"))
    grow(fork)
    with pytest.raises(IntegrityFailure, match=r"refused: .*first difference at seq 4"):
        take.incremental_backup(fork, pol, [copy_of(url)], actor="t")
    with pytest.raises(IntegrityFailure, match=r"full backup refused: .*seq 4"):
        take.full_backup(fork, pol, [copy_of(url)], actor="t")
    with fork.read() as conn:
        opened = list_exceptions(conn, Filter(status="open"))
    assert len(opened) == 2, "each refusal opens one exception (the same defect: linked)"
    assert all(e["type"] == "log-integrity" for e in opened)
    # someone with write access to the database, but not the signing key, appends a
    # timeline record abandoning every head: it is not honoured
    ms = read_manifests(copy_of(url).open(), load_verify_key(keys["public_key"]))[0]
    forged = {"abandoned": [{"seq": m.last_seq, "chain_hash": m.chain_head} for m in ms]}
    fork.append("backup.timeline", forged, "mallory", "routine")
    with pytest.raises(IntegrityFailure, match=r"full backup refused"):
        take.full_backup(fork, pol, [copy_of(url)], actor="t")
    audit = guard.audit_log(
        fork, verify=load_verify_key(keys["public_key"]), witness=None, states=[copy_of(url).open()]
    )
    assert not audit.ok
    assert any("not honoured" in p for p in audit.problems)
    # the operator declares the restore's history the one to keep: recorded, then backed up
    res = take.full_backup(
        fork, pol, [copy_of(url)], actor="t", new_timeline="restored to seq 3 after a bad change"
    )
    assert res.manifest is not None
    assert any("new timeline" in w for w in res.warnings)
    grow(fork)
    (inc,) = take.incremental_backup(fork, pol, [copy_of(url)], actor="t")
    assert inc.manifest is not None
    assert inc.manifest.parent == res.manifest.id


def test_unencrypted_backup_when_no_key(tmp_path: Path, keys: dict[str, str]) -> None:
    repo = new_repo(str(tmp_path / "src.db"))
    grow(repo, products=True)
    url = (tmp_path / "copy").as_uri()
    pol = policy_for(keys)
    plain = type(pol)(signing_key=pol.signing_key)
    res = take.full_backup(repo, plain, [copy_of(url)], actor="t")
    assert res.manifest is not None
    assert res.manifest.encryption is None
    out = rs.restore(
        [copy_of(url)],
        str(tmp_path / "r.db"),
        verify_key=load_verify_key(keys["public_key"]),
        key=None,
    )
    assert out.fingerprint == fp(repo)[0]


def test_missing_or_wrong_key_is_a_clear_error(keys: dict[str, str], tmp_path: Path) -> None:
    from serialvault.backup.crypto import generate_keys

    repo = new_repo(str(tmp_path / "src.db"))
    grow(repo, products=True)
    url = (tmp_path / "copy").as_uri()
    take.full_backup(repo, policy_for(keys), [copy_of(url)], actor="t")
    vk = load_verify_key(keys["public_key"])
    with pytest.raises(KeyProblem, match="encrypted with key"):
        rs.restore([copy_of(url)], str(tmp_path / "r1.db"), verify_key=vk, key=None)
    other = generate_keys(tmp_path / "other")
    with pytest.raises(KeyProblem, match=r"encrypted with key \w+, but the key in"):
        rs.restore(
            [copy_of(url)],
            str(tmp_path / "r2.db"),
            verify_key=vk,
            key=load_encryption_key(other["encryption_key"]),
        )
    assert not (tmp_path / "r1.db").exists()
    assert not (tmp_path / "r2.db").exists()
    # a manifest signed by someone else is not trusted
    with pytest.raises(
        BackupError, match=r"no copy holds a usable backup.*not with the trusted key"
    ):
        rs.restore(
            [copy_of(url)],
            str(tmp_path / "r3.db"),
            verify_key=load_verify_key(other["public_key"]),
            key=load_encryption_key(keys["encryption_key"]),
        )


def test_key_files_readable_by_others_are_refused(keys: dict[str, str]) -> None:
    Path(keys["encryption_key"]).chmod(0o644)
    with pytest.raises(KeyProblem, match="can be read by others"):
        load_encryption_key(keys["encryption_key"])


def test_manifest_names_everything_and_no_secret(keys: dict[str, str], tmp_path: Path) -> None:
    repo = new_repo(str(tmp_path / "src.db"))
    grow(repo, products=True)
    url = (tmp_path / "copy").as_uri()
    res = take.full_backup(repo, policy_for(keys), [copy_of(url)], actor="qa@site")
    m = res.manifest
    assert m is not None
    raw = (tmp_path / "copy" / "manifests" / f"{m.id}.json").read_bytes()
    doc = orjson.loads(raw)
    for k in (
        "format",
        "id",
        "type",
        "parent",
        "seq",
        "time",
        "chain_head",
        "fingerprint",
        "objects",
        "tool_version",
        "actor",
        "created_at",
        "signature",
    ):
        assert k in doc
    assert doc["format"] == "serialvault.manifest/1"
    assert doc["actor"] == "qa@site"
    key_text = Path(keys["encryption_key"]).read_text().split()[1]
    assert key_text.encode() not in raw
    assert Path(keys["signing_key"]).read_bytes() not in raw
    for o in m.objects:
        assert (tmp_path / "copy" / "objects" / o.name[:2] / o.name).stat().st_size == o.size


def test_an_unknown_manifest_version_is_refused() -> None:
    with pytest.raises(
        BackupError, match=r"'serialvault\.manifest/9' is not one this version reads"
    ):
        Manifest.from_dict({"format": "serialvault.manifest/9"})


def test_an_interrupted_sqlite_restore_never_looks_like_a_repository(
    keys: dict[str, str], tmp_path: Path
) -> None:
    repo = new_repo(str(tmp_path / "src.db"))
    grow(repo, products=True)
    url = (tmp_path / "copy").as_uri()
    take.full_backup(repo, policy_for(keys), [copy_of(url)], actor="t")

    def boom(name: str, done: int, total: int | None) -> None:
        if name == "check":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        do_restore(url, str(tmp_path / "r.db"), keys, on_phase=boom)
    assert not (tmp_path / "r.db").exists()
    assert not list(tmp_path.glob("r.db*"))


def test_a_half_restored_file_is_refused(keys: dict[str, str], tmp_path: Path) -> None:
    """What a kill -9 leaves (the temporary file, marked) cannot be opened as a repository."""
    from serialvault.store import schema

    repo = new_repo(str(tmp_path / "r.db"))
    with repo.engine.begin() as conn:
        conn.execute(schema.meta.insert().values(key="restore_state", value="loading"))
    with pytest.raises(StoreError, match="restore in progress or interrupted"):
        Repository.open(str(tmp_path / "r.db"))


def test_read_manifests_reports_bad_ones(keys: dict[str, str], tmp_path: Path) -> None:
    repo = new_repo(str(tmp_path / "src.db"))
    grow(repo, products=True)
    url = (tmp_path / "copy").as_uri()
    take.full_backup(repo, policy_for(keys), [copy_of(url)], actor="t")
    (tmp_path / "copy" / "manifests" / "junk.json").write_text("{not json")
    ms, findings = read_manifests(copy_of(url).open(), load_verify_key(keys["public_key"]))
    assert len(ms) == 1
    assert [f.code for f in findings] == ["unreadable-manifest"]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_leftovers_of_killed_runs_are_removed_on_the_next_backup_and_named(
    tmp_path: Path, keys: dict[str, str]
) -> None:
    """kill -9 during a full leaves its snapshot file, during a put a ``.tmp-`` file."""
    db = tmp_path / "repo.db"
    repo = new_repo(str(db))
    grow(repo, 5, products=True)
    url = (tmp_path / "copy").as_uri()
    policy = policy_for(keys, c=url)
    take.full_backup(repo, policy, [copy_of(url, "c")], actor="t@test")
    dead = _dead_pid()
    snap = tmp_path / f".repo.db.backup-{dead}.tmp"
    snap.write_bytes(b"x" * 4096)
    mine = tmp_path / f".repo.db.backup-{os.getpid()}.tmp"  # a live process: kept
    mine.write_bytes(b"y")
    objects = tmp_path / "copy" / "objects"
    old = next(p for p in objects.rglob("*") if p.is_dir()) / ".tmp-abc-123"
    old.write_bytes(b"z" * 100)
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    young = old.with_name(".tmp-def-456")
    young.write_bytes(b"w")
    grow(repo, 2)
    (res,) = take.incremental_backup(repo, policy, [copy_of(url, "c")], actor="t@test")
    assert res.ok
    said = "\n".join(res.warnings)
    assert f".repo.db.backup-{dead}.tmp (4,096 bytes) left by an interrupted backup" in said
    assert ".tmp-abc-123 (100 bytes)" in said
    assert not snap.exists()
    assert not old.exists()
    assert mine.exists(), "a running process's file is not touched"
    assert young.exists(), "a young temporary file may be a write in progress"
    assert ".tmp-def-456" not in said
    mine.unlink()
