"""Attacks on "a restore gives back everything backed up": rolled-back copies, damaged or
forged manifests, mixed repositories, forks — on file and S3 copies.

Each test is a reproduction of a hole a restore or verify once let through: it must
fail on the old behaviour (an older point taken silently, a copy called clean).
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from serialvault.backup import restore as rs
from serialvault.backup import take, verify
from serialvault.backup.anchors import Witness, witness_path
from serialvault.backup.crypto import load_encryption_key, load_signing_key, load_verify_key
from serialvault.backup.manifest import Manifest
from serialvault.backup.policy import Policy
from serialvault.errors import BackupError, ConflictError, IntegrityFailure, OlderRecoveryPoint
from serialvault.store.repository import Repository
from tests.accounts import home, sign_in
from tests.backup.conftest import copy_of, grow, new_repo, policy_for


@pytest.fixture
def two_copies(
    tmp_path: Path, keys: dict[str, str], target_url: str
) -> tuple[Repository, list[str], list[Manifest]]:
    """A full and two incrementals on a file copy and on a second copy (file or S3)."""
    repo = new_repo(str(tmp_path / "live.db"))
    grow(repo, products=True)
    urls = [(tmp_path / "a").as_uri(), target_url]
    copies = [copy_of(urls[0], "a"), copy_of(urls[1], "b")]
    pol = policy_for(keys)
    ms = [take.full_backup(repo, pol, copies, actor="t").manifest]
    for _ in range(2):
        grow(repo)
        ms.append(take.incremental_backup(repo, pol, copies, actor="t")[0].manifest)
    return repo, urls, [m for m in ms if m is not None]


def _restore(
    urls: list[str], into: Path | str, keys: dict[str, str], **kw: object
) -> rs.RestoreResult:
    return rs.restore(
        [copy_of(u, n) for u, n in zip(urls, "ab", strict=False)],
        str(into),
        verify_key=load_verify_key(keys["public_key"]),
        key=load_encryption_key(keys["encryption_key"]),
        **kw,  # type: ignore[arg-type]
    )


def _delete(url: str, name: str) -> None:
    copy_of(url).open().target.delete(name)


def _witness(repo: Repository) -> list[Witness]:
    rid = repo.meta()["repository_id"]
    return [Witness(witness_path(Path(repo.url.removeprefix("sqlite:///")), rid))]


def test_a_copy_that_lost_its_newest_backup_is_not_restored_from(
    two_copies: tuple[Repository, list[str], list[Manifest]],
    keys: dict[str, str],
    tmp_path: Path,
) -> None:
    repo, urls, ms = two_copies
    _delete(urls[0], f"manifests/{ms[-1].id}.json")
    res = _restore(urls, tmp_path / "x.db", keys)  # copy a first, as `--from a`
    assert res.head_seq == ms[-1].last_seq == repo.head().seq, "the other copy holds it"
    reports = verify.verify_copies(
        [copy_of(urls[0], "a"), copy_of(urls[1], "b")],
        load_verify_key(keys["public_key"]),
        signer=load_signing_key(keys["signing_key"]),
    )
    a, b = reports
    assert [(f.code, f.backup) for f in a.findings] == [("rollback", ms[-1].id)]
    assert b.ok, b.findings


def test_a_single_copy_rolled_back_fails_with_its_own_exit_code(
    two_copies: tuple[Repository, list[str], list[Manifest]],
    keys: dict[str, str],
    tmp_path: Path,
) -> None:
    _repo, urls, ms = two_copies
    _delete(urls[0], f"manifests/{ms[-1].id}.json")
    with pytest.raises(OlderRecoveryPoint) as err:
        _restore(urls[:1], tmp_path / "x.db", keys)
    msg = str(err.value)
    assert ms[-1].id in msg
    assert f"seq {ms[-1].last_seq}" in msg
    assert f"{ms[-1].last_seq - ms[-2].last_seq} record(s) would be lost" in msg
    assert f"--at {ms[-2].last_seq}" in msg
    assert err.value.exit_code == 14
    assert err.value.available_seq == ms[-2].last_seq
    assert not (tmp_path / "x.db").exists(), "nothing is written before it refuses"
    # the older point, asked for explicitly
    res = _restore(urls[:1], tmp_path / "x.db", keys, at=str(ms[-2].last_seq))
    assert res.head_seq == ms[-2].last_seq


def test_manifest_and_checkpoint_gone_the_witness_still_knows(
    two_copies: tuple[Repository, list[str], list[Manifest]],
    keys: dict[str, str],
    tmp_path: Path,
) -> None:
    repo, urls, ms = two_copies
    for name in (f"manifests/{ms[-1].id}.json", f"checkpoints/{ms[-1].id}.json"):
        _delete(urls[0], name)
    with pytest.raises(OlderRecoveryPoint, match="witness file"):
        _restore(urls[:1], tmp_path / "x.db", keys, witnesses=_witness(repo))


def test_check_records_remember_what_a_copy_held(
    two_copies: tuple[Repository, list[str], list[Manifest]],
    keys: dict[str, str],
    tmp_path: Path,
) -> None:
    _repo, urls, ms = two_copies
    vk, signer = load_verify_key(keys["public_key"]), load_signing_key(keys["signing_key"])
    assert verify.verify_copy(copy_of(urls[0], "a"), vk, signer=signer).ok
    for name in (f"manifests/{ms[-1].id}.json", f"checkpoints/{ms[-1].id}.json"):
        _delete(urls[0], name)
    rep = verify.verify_copy(copy_of(urls[0], "a"), vk, signer=signer)
    assert [(f.code, f.backup) for f in rep.findings] == [("rollback", ms[-1].id)]
    assert "check record" in rep.findings[0].message
    with pytest.raises(OlderRecoveryPoint, match="check record"):
        _restore(urls[:1], tmp_path / "x.db", keys)


def test_one_byte_changed_in_the_newest_manifest_is_a_failure_not_a_note(
    two_copies: tuple[Repository, list[str], list[Manifest]],
    keys: dict[str, str],
    tmp_path: Path,
) -> None:
    _repo, urls, ms = two_copies
    target = copy_of(urls[0]).open().target
    name = f"manifests/{ms[-1].id}.json"
    raw = bytearray(target.get(name))
    raw[raw.index(b'"actor"') + 10] ^= 0x01
    target.put(name, bytes(raw))
    with pytest.raises(OlderRecoveryPoint, match=r"does not match|unreadable manifest|checkpoint"):
        _restore(urls[:1], tmp_path / "x.db", keys)
    rep = verify.verify_copy(copy_of(urls[0], "a"), load_verify_key(keys["public_key"]))
    assert ("bad-signature", ms[-1].id) in [(f.code, f.backup) for f in rep.findings]
    # with the intact second copy, the newest point is served from it
    res = _restore(urls, tmp_path / "y.db", keys)
    assert res.head_seq == ms[-1].last_seq
    assert any("bad-signature" in f for f in res.findings)


def test_a_prune_is_not_a_rollback(tmp_path: Path, keys: dict[str, str]) -> None:
    from serialvault.backup.prune import prune_copy

    repo = new_repo(str(tmp_path / "live.db"))
    grow(repo, products=True)
    url = (tmp_path / "c").as_uri()
    pol = policy_for(keys)
    for _ in range(2):
        take.full_backup(repo, pol, [copy_of(url)], actor="t")
        grow(repo)
    take.incremental_backup(repo, pol, [copy_of(url)], actor="t")
    vk, signer = load_verify_key(keys["public_key"]), load_signing_key(keys["signing_key"])
    assert verify.verify_copy(copy_of(url), vk, signer=signer).ok
    rep = prune_copy(copy_of(url), vk, keep_fulls=1, keep_days=0, signer=signer)
    assert rep.removed
    assert verify.verify_copy(copy_of(url), vk, signer=signer).ok
    # but a forged prune record (not signed by the key) does not excuse a deletion
    target = copy_of(url).open().target
    newest = max(rep.kept)
    target.put(
        "prunes/99999999T999999Z.json",
        orjson.dumps({"format": "serialvault.prune/1", "removed": [newest]}),
    )
    target.delete(f"manifests/{newest}.json")
    found = verify.verify_copy(copy_of(url), vk, signer=signer)
    codes = {f.code for f in found.findings}
    assert "rollback" in codes
    assert "bad-prune-record" in codes


def test_a_copy_holding_two_repositories_is_reported(tmp_path: Path, keys: dict[str, str]) -> None:
    url = (tmp_path / "shared").as_uri()
    pol = policy_for(keys)
    for name in ("one", "two"):
        repo = new_repo(str(tmp_path / f"{name}.db"))
        grow(repo, products=True)
        take.full_backup(repo, pol, [copy_of(url)], actor="t")
    rep = verify.verify_copy(copy_of(url), load_verify_key(keys["public_key"]))
    assert [f.code for f in rep.findings] == ["mixed-repositories"]
    with pytest.raises(BackupError, match="name the backup to restore with --backup"):
        _restore([url], tmp_path / "x.db", keys)


def test_copies_holding_two_histories_are_a_fork(tmp_path: Path, keys: dict[str, str]) -> None:
    a, b = (tmp_path / "a").as_uri(), (tmp_path / "b").as_uri()
    pol = policy_for(keys)
    repo = new_repo(str(tmp_path / "live.db"))
    grow(repo, products=True)
    take.full_backup(repo, pol, [copy_of(a)], actor="t")
    # a copy of the file written differently, backed up to b (the same repository id)
    twin = Path(tmp_path / "twin.db")
    twin.write_bytes(Path(repo.url.removeprefix("sqlite:///")).read_bytes())
    grow(repo)
    take.full_backup(repo, pol, [copy_of(a)], actor="t")
    other = Repository.open(str(twin))
    grow(other)
    take.full_backup(other, pol, [copy_of(b)], actor="t")
    reports = verify.verify_copies(
        [copy_of(a, "a"), copy_of(b, "b")], load_verify_key(keys["public_key"])
    )
    assert all("fork" in {f.code for f in r.findings} for r in reports), [
        r.findings for r in reports
    ]
    with pytest.raises(IntegrityFailure, match="two histories"):
        _restore([a, b], tmp_path / "x.db", keys)


def test_restore_over_a_repository_with_newer_records_refuses(
    two_copies: tuple[Repository, list[str], list[Manifest]],
    keys: dict[str, str],
) -> None:
    repo, urls, ms = two_copies
    grow(repo)  # written after the newest backup: only the live file holds them
    live = Path(repo.url.removeprefix("sqlite:///"))
    before = repo.head()
    with pytest.raises(OlderRecoveryPoint, match="would discard"):
        _restore(urls, live, keys, force=True)
    with pytest.raises(OlderRecoveryPoint, match="would discard"):  # a dry run says so too
        _restore(urls, live, keys, force=True, dry_run=True)
    assert Repository.open(str(live)).head() == before, "the live file is untouched"
    res = _restore(urls, live, keys, force=True, at=str(ms[-1].last_seq))  # explicitly
    assert res.head_seq == ms[-1].last_seq
    lost = before.seq - ms[-1].last_seq
    assert any(f"held {lost} record(s) after the recovery point" in f for f in res.findings), (
        "an accepted loss is counted, not silent"
    )


def test_restore_over_another_repository_needs_the_backup_named(
    two_copies: tuple[Repository, list[str], list[Manifest]],
    keys: dict[str, str],
    db_url: str,
) -> None:
    """Site B's backup restored with --force over site A's database would replace A's
    records with B's, silently; it is refused unless the backup is named."""
    _repo, urls, ms = two_copies
    other = new_repo(db_url)
    grow(other, products=True)
    before = other.head()
    rid = other.meta()["repository_id"]
    with pytest.raises(ConflictError, match=f"holds repository {rid}") as err:
        _restore(urls, db_url, keys, force=True)
    assert err.value.exit_code == 9
    with pytest.raises(ConflictError, match=f"holds repository {rid}"):  # a dry run too
        _restore(urls, db_url, keys, force=True, dry_run=True)
    assert Repository.open(db_url).head() == before, "untouched"
    res = _restore(urls, db_url, keys, force=True, backup=ms[-1].id)
    assert res.head_seq == ms[-1].last_seq
    assert any(f"held repository {rid}" in f for f in res.findings)


@pytest.mark.parametrize("forgery", ["attacker-key", "unsigned"])
def test_a_forged_newer_manifest_is_a_finding_and_never_a_recovery_point(
    two_copies: tuple[Repository, list[str], list[Manifest]],
    keys: dict[str, str],
    tmp_path: Path,
    forgery: str,
) -> None:
    """An attacker who can write to one copy plants a manifest that claims a newer backup
    (more records, a later head). Its claim is unsigned or signed by a key that is not
    ours, so it proves nothing: it is neither restored from nor allowed to make the
    genuine newest point look like a rollback — it is reported as foreign. (A manifest
    signed with our key that does not match is damaged, and is a failure: see above.)"""
    from serialvault.backup.crypto import generate_keys

    _repo, urls, ms = two_copies
    target = copy_of(urls[1]).open().target  # the second copy: file or S3
    newest = orjson.loads(target.get(f"manifests/{ms[-1].id}.json"))
    fake = dict(newest)
    fake.pop("signature")
    fake["seq"] = {"first": ms[-1].last_seq + 1, "last": ms[-1].last_seq + 500}
    fake["parent"] = ms[-1].id
    fake["id"] = fake_id = "29991231T235959000000Z-incr-" + f"{ms[-1].last_seq + 500:012d}"
    fake["prev_chain"] = ms[-1].chain_head
    fake["chain_head"] = "ab" * 32
    if forgery == "attacker-key":
        fake = load_signing_key(generate_keys(tmp_path / "attacker")["signing_key"]).sign(fake)
    target.put(f"manifests/{fake_id}.json", orjson.dumps(fake))

    vk = load_verify_key(keys["public_key"])
    rep = verify.verify_copy(copy_of(urls[1], "b"), vk)
    assert [(f.code, f.backup) for f in rep.findings] == [("foreign-manifest", fake_id)]
    assert not rep.ok, "a copy holding a forged manifest is not clean"
    # the forged claim is not a recovery point, and the genuine newest one is taken
    for which in (urls[1:], urls):
        into = tmp_path / f"x-{len(which)}.db"
        res = _restore(which, into, keys)
        assert res.head_seq == ms[-1].last_seq
        assert any(fake_id in f and "foreign-manifest" in f for f in res.findings), res.findings
        assert Repository.open(str(into)).head().seq == ms[-1].last_seq


def test_a_genuine_manifest_under_a_newer_name_is_misnamed_not_a_newer_backup(
    two_copies: tuple[Repository, list[str], list[Manifest]],
    keys: dict[str, str],
    tmp_path: Path,
) -> None:
    """Signed content under a false name: the signature proves the content, not the file
    name, so the name's seq is no evidence of a newer backup."""
    _repo, urls, ms = two_copies
    target = copy_of(urls[0]).open().target
    fake_id = f"29991231T235959000000Z-incr-{ms[-1].last_seq + 500:012d}"
    target.put(f"manifests/{fake_id}.json", target.get(f"manifests/{ms[-1].id}.json"))
    rep = verify.verify_copy(copy_of(urls[0], "a"), load_verify_key(keys["public_key"]))
    assert [(f.code, f.backup) for f in rep.findings] == [("misnamed-manifest", fake_id)]
    assert ms[-1].id in rep.findings[0].message
    res = _restore(urls[:1], tmp_path / "x.db", keys)
    assert res.head_seq == ms[-1].last_seq


@pytest.mark.parametrize("lost", ["empty", "missing", "unreachable"])
def test_a_copy_that_cannot_be_read_is_never_taken_as_holding_nothing_newer(
    two_copies: tuple[Repository, list[str], list[Manifest]],
    keys: dict[str, str],
    tmp_path: Path,
    lost: str,
) -> None:
    """Copy a rolled back, copy b not mounted (an empty or missing folder) or unreachable:
    b may hold the newest backup, so the point a serves is not taken silently."""
    _repo, urls, ms = two_copies
    for name in (f"manifests/{ms[-1].id}.json", f"checkpoints/{ms[-1].id}.json"):
        _delete(urls[0], name)
    b = {
        "empty": (tmp_path / "unmounted").as_uri(),
        "missing": (tmp_path / "no-such-folder").as_uri(),
        "unreachable": "s3://sv-test/x?endpoint=http://127.0.0.1:9&path_style=true",
    }[lost]
    (tmp_path / "unmounted").mkdir()
    # `backup verify` first must not make the unmounted share look like a copy
    verify.verify_copies(
        [copy_of(b, "b")],
        load_verify_key(keys["public_key"]),
        signer=load_signing_key(keys["signing_key"]),
    )
    if lost == "empty":
        assert not list((tmp_path / "unmounted").rglob("*.json")), "nothing written to it"
    (tmp_path / "unmounted" / "stray.json").write_bytes(b"junk")  # nor does a stray file
    with pytest.raises(OlderRecoveryPoint, match=r"could not be read|holds no backup") as err:
        _restore([urls[0], b], tmp_path / "x.db", keys)
    assert err.value.available_seq == ms[-2].last_seq
    assert f"--at {ms[-2].last_seq}" in str(err.value)
    assert not (tmp_path / "x.db").exists()
    # named explicitly, the older point is restored
    res = _restore([urls[0], b], tmp_path / "x.db", keys, at=str(ms[-2].last_seq))
    assert res.head_seq == ms[-2].last_seq
    # and verify says the copy could not be used (exit 10), not that it is clean
    reports = verify.verify_copies(
        [copy_of(urls[0], "a"), copy_of(b, "b")], load_verify_key(keys["public_key"])
    )
    codes = {f.code for f in reports[1].findings}
    assert codes & {"empty-copy", "unreachable"}, codes
    assert verify.exit_code(reports) == 10
    assert verify.exit_code([]) == 0


def test_junk_under_a_newer_manifest_name_holds_no_restore_hostage(
    two_copies: tuple[Repository, list[str], list[Manifest]],
    keys: dict[str, str],
    tmp_path: Path,
) -> None:
    """A file that is not JSON carries no signature: nothing tells it is ours, so its
    name (claiming seq 9,999,999) is reported but is no evidence of a newer backup."""
    _repo, urls, ms = two_copies
    name = "manifests/20991231T000000000000Z-incr-000009999999.json"
    copy_of(urls[0]).open().target.put(name, b"garbage")
    res = _restore(urls[:1], tmp_path / "x.db", keys)
    assert res.head_seq == ms[-1].last_seq
    assert any("unreadable-manifest" in f for f in res.findings)
    rep = verify.verify_copy(copy_of(urls[0], "a"), load_verify_key(keys["public_key"]))
    assert ("unreadable-manifest", "20991231T000000000000Z-incr-000009999999") in [
        (f.code, f.backup) for f in rep.findings
    ]


def _rewrite_from(path: Path, seq: int) -> None:
    """Change the actor of record ``seq`` and recompute every chain hash after it, as
    someone with write access to the database would to hide it."""
    import sqlite3

    from serialvault.domain.chain import body_hash, chain_hash

    con = sqlite3.connect(path)
    with con:
        prev = con.execute("SELECT chain_hash FROM log WHERE seq = ?", (seq - 1,)).fetchone()[0]
        rows = con.execute(
            "SELECT seq, recorded_at, kind, actor, reason, body FROM log WHERE seq >= ?"
            " ORDER BY seq",
            (seq,),
        ).fetchall()
        for s_, at, kind, actor, reason, body in rows:
            actor = "mallory@forged" if s_ == seq else actor
            bh = body_hash(body.encode("utf-8"))
            prev = chain_hash(prev, s_, at, kind, actor, reason, bh)
            con.execute(
                "UPDATE log SET actor = ?, body_hash = ?, chain_hash = ? WHERE seq = ?",
                (actor, bh, prev, s_),
            )
    con.close()


@pytest.mark.parametrize("how", ["full", "incr"])
def test_a_backup_to_one_copy_compares_the_heads_the_other_copies_hold(
    tmp_path: Path, keys: dict[str, str], how: str
) -> None:
    """History rewritten (hashes recomputed) after the newest head copy c holds but before
    copy a's, and the witness deleted: a backup to c alone must still refuse, because the
    policy's other copy a holds a signed head the rewritten log disagrees with."""
    live = tmp_path / "live.db"
    repo = new_repo(str(live))
    grow(repo, products=True)
    a, c = (tmp_path / "a").as_uri(), (tmp_path / "c").as_uri()
    pol = policy_for(keys, a=a, c=c)
    take.full_backup(repo, pol, [copy_of(a, "a")], actor="t")
    if how == "incr":
        take.full_backup(repo, pol, [copy_of(c, "c")], actor="t")
    rewrite_at = repo.head().seq + 1
    grow(repo)
    take.incremental_backup(repo, pol, [copy_of(a, "a")], actor="t")  # only a holds this
    grow(repo)
    _rewrite_from(live, rewrite_at)
    for w in _witness(repo):
        w.path.unlink()
    backup = take.full_backup if how == "full" else take.incremental_backup
    with pytest.raises(IntegrityFailure, match="copy a") as err:
        backup(repo, pol, [copy_of(c, "c")], actor="t")
    assert f"seq {rewrite_at}" in str(err.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [("created_at", "0000-01-01T00:00:00Z"), ("time", {"first": "x", "last": "y"})],
)
def test_a_signed_manifest_with_an_impossible_time_is_malformed_not_a_crash(
    two_copies: tuple[Repository, list[str], list[Manifest]],
    keys: dict[str, str],
    tmp_path: Path,
    field: str,
    value: object,
) -> None:
    """Signed with the right key (a stolen key, or a bug), but holding a time no tool can
    read: every command lists it as malformed and goes on."""
    _repo, urls, ms = two_copies
    target = copy_of(urls[0]).open().target
    name = f"manifests/{ms[-1].id}.json"
    doc = orjson.loads(target.get(name))
    doc.pop("signature")
    doc[field] = value
    target.put(name, orjson.dumps(load_signing_key(keys["signing_key"]).sign(doc)))
    vk = load_verify_key(keys["public_key"])
    rep = verify.verify_copy(copy_of(urls[0], "a"), vk)
    assert ("bad-manifest", ms[-1].id) in [(f.code, f.backup) for f in rep.findings]
    listed = verify.catalog(copy_of(urls[0], "a"), vk, None)
    assert ms[-1].id not in {b["id"] for ch in listed["chains"] for b in ch["backups"]}
    assert any(p["code"] == "bad-manifest" for p in listed["problems"])
    res = _restore(urls, tmp_path / "x.db", keys)  # the other copy holds it intact
    assert res.head_seq == ms[-1].last_seq


@pytest.mark.parametrize("where", ["manifest", "checkpoint", "witness"])
def test_a_signed_document_naming_a_member_twice_is_refused(
    two_copies: tuple[Repository, list[str], list[Manifest]],
    keys: dict[str, str],
    tmp_path: Path,
    where: str,
) -> None:
    """A genuine signed document with a second, earlier value inserted for one member:
    the signature still verifies under a last-name-wins parser, but what it says depends
    on the parser — it is reported, never used."""
    repo, urls, ms = two_copies
    vk = load_verify_key(keys["public_key"])
    if where == "witness":
        (w,) = _witness(repo)
        lines = w.path.read_bytes().splitlines()
        lines[-1] = lines[-1].replace(b"{", b'{"seq": 999999,', 1)
        w.path.write_bytes(b"\n".join(lines) + b"\n")
        entries, problems = w.entries(vk)
        assert any("duplicate name 'seq'" in p for p in problems)
        assert all(c.seq != 999999 for c in entries)
        return
    target = copy_of(urls[0]).open().target
    folder = "manifests" if where == "manifest" else "checkpoints"
    name = f"{folder}/{ms[-1].id}.json"
    extra = b'{"actor": "mallory",' if where == "manifest" else b'{"seq": 999999,'
    target.put(name, target.get(name).replace(b"{", extra, 1))
    rep = verify.verify_copy(copy_of(urls[0], "a"), vk)
    found = [f for f in rep.findings if "duplicate name" in f.message]
    assert found, rep.findings
    assert not rep.ok
    if where == "manifest":
        assert found[0].code == "bad-signature"  # ours, altered: a damaged backup
        res = _restore(urls, tmp_path / "x.db", keys)  # served by the other copy
        assert res.head_seq == ms[-1].last_seq


def test_damage_to_an_object_the_restore_does_not_need_is_still_named(
    two_copies: tuple[Repository, list[str], list[Manifest]],
    keys: dict[str, str],
    tmp_path: Path,
) -> None:
    """A SQLite full's snapshot holds the log, so its segments are not loaded: a flipped
    bit in one must be said all the same (the backup is not whole)."""
    _repo, urls, ms = two_copies
    full = ms[0]
    seg = full.segments[0]
    target = copy_of(urls[0]).open().target
    name = f"objects/{seg.name[:2]}/{seg.name}"
    raw = bytearray(target.get(name))
    raw[len(raw) // 2] ^= 0x10
    target.put(name, bytes(raw))
    res = _restore(urls[:1], tmp_path / "x.db", keys)
    assert res.head_seq == ms[-1].last_seq
    assert any(seg.name in f and "damaged" in f for f in res.findings), res.findings
    assert any("does not need it" in f for f in res.findings)
    res2 = _restore(urls, tmp_path / "y.db", keys)  # the other copy holds it intact
    assert any(seg.name in f and "intact elsewhere" in f for f in res2.findings)


def test_a_restore_says_what_the_live_repository_holds_beyond_every_backup(
    two_copies: tuple[Repository, list[str], list[Manifest]],
    keys: dict[str, str],
    tmp_path: Path,
) -> None:
    """Records written after the newest backup are in no backup: a restore cannot bring
    them back, and while the live repository is readable it says how many there are."""
    from serialvault.app import restore as app_restore
    from serialvault.settings import Settings

    repo, urls, ms = two_copies
    grow(repo)
    sign_in(repo)  # a restore is an admin's: authenticated on the live repository
    live = repo.url.removeprefix("sqlite:///")
    settings = Settings(
        backup_key=keys["encryption_key"], signing_key=keys["signing_key"], home=home()
    )
    res = app_restore.restore(settings, str(tmp_path / "x.db"), sources=urls, db=live)
    assert res.head_seq == ms[-1].last_seq
    lost = repo.head().seq - ms[-1].last_seq
    assert any(f"holds {lost} record(s) after the recovery point" in f for f in res.findings)


@pytest.mark.parametrize("folder", ["manifests", "checkpoints", "checks", "prunes"])
def test_a_document_that_is_not_text_is_a_finding_never_a_crash(
    two_copies: tuple[Repository, list[str], list[Manifest]],
    keys: dict[str, str],
    tmp_path: Path,
    folder: str,
) -> None:
    """A 27-byte file with a name given twice and a lone surrogate once stopped every
    backup and restore: each reader must report it and go on."""
    repo, urls, ms = two_copies
    kid = load_verify_key(keys["public_key"]).key_id
    junk = (
        '{"a":1,"a":2,"x":"\\ud800","signature":{"alg":"Ed25519","key_id":"' + kid + '"}}'
    ).encode()
    copy_of(urls[0]).open().target.put(f"{folder}/20991231T000000000000Z-junk.json", junk)
    vk = load_verify_key(keys["public_key"])
    rep = verify.verify_copy(copy_of(urls[0], "a"), vk)
    assert not rep.ok
    res = _restore(urls, tmp_path / "x.db", keys)
    assert res.head_seq == ms[-1].last_seq
    grow(repo)
    pol = policy_for(keys)
    out = take.incremental_backup(repo, pol, [copy_of(urls[0], "a")], actor="t")
    assert out[0].manifest is not None


def test_junk_on_a_copy_is_a_note_of_audit_verify_not_a_broken_audit_trail(
    two_copies: tuple[Repository, list[str], list[Manifest]],
    keys: dict[str, str],
) -> None:
    from serialvault.backup import guard

    repo, urls, _ms = two_copies
    copy_of(urls[0]).open().target.put("checkpoints/j.json", b"junk")
    vk = load_verify_key(keys["public_key"])
    res = guard.audit_log(
        repo, verify=vk, witness=_witness(repo)[0], states=[copy_of(u).open() for u in urls]
    )
    assert res.ok, res.problems
    assert any("j.json" in n for n in res.notes)
    # a witness line that does not verify is a finding of the audit itself
    (w,) = _witness(repo)
    w.path.write_bytes(w.path.read_bytes() + b'{"format": "serialvault.checkpoint/1"}\n')
    res = guard.audit_log(repo, verify=vk, witness=w, states=[])
    assert not res.ok


def _forked(
    tmp_path: Path, keys: dict[str, str], *, check_record: bool = False
) -> tuple[Repository, str, Policy, Manifest]:
    """A live repository with a full and an incremental on copy a (and, when asked, the
    signed check record of a `backup verify`), then restored to the full's point and
    written differently, its witness deleted: (the fork, copy a, its policy, the
    incremental the fork disagrees with)."""
    live = tmp_path / "live.db"
    repo = new_repo(str(live))
    grow(repo, products=True)
    a = (tmp_path / "a").as_uri()
    pol = policy_for(keys, a=a)
    take.full_backup(repo, pol, [copy_of(a, "a")], actor="t")
    point = repo.head().seq
    grow(repo)
    incr = take.incremental_backup(repo, pol, [copy_of(a, "a")], actor="t")[0].manifest
    assert incr is not None
    if check_record:
        vk, signer = load_verify_key(keys["public_key"]), load_signing_key(keys["signing_key"])
        assert verify.verify_copy(copy_of(a, "a"), vk, signer=signer).check_record is not None
    _restore([a], live, keys, force=True, at=str(point))
    fork = Repository.open(str(live))
    grow(fork)
    grow(fork)
    for w in _witness(fork):
        w.path.unlink()
    return fork, a, pol, incr


def test_a_fork_hidden_by_damaged_manifests_is_caught_by_the_checkpoints(
    tmp_path: Path, keys: dict[str, str]
) -> None:
    """The live repository restored to an earlier point and written differently; the
    witness deleted and the incremental manifests of the copy damaged so that only its
    checkpoints remember the first history: a full must still refuse, and a restore of
    a full made elsewhere from the fork must not pass as the newest history."""
    fork, a, pol, incr = _forked(tmp_path, keys)
    target = copy_of(a).open().target
    name = f"manifests/{incr.id}.json"
    raw = bytearray(target.get(name))
    raw[raw.index(b'"actor"') + 10] ^= 0x01
    target.put(name, bytes(raw))
    with pytest.raises(IntegrityFailure, match=r"refused"):
        take.full_backup(fork, pol, [copy_of(a, "a")], actor="t")
    # a full of the fork to a copy the policy does not know: a restore across both copies
    # must not restore the fork as if it were the history the checkpoint signed
    b = (tmp_path / "b").as_uri()
    take.full_backup(fork, policy_for(keys), [copy_of(b, "b")], actor="t")
    with pytest.raises(IntegrityFailure, match="differs from a signed head"):
        _restore([a, b], tmp_path / "x.db", keys)
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize("at", ["2099-01-01T00:00:00Z", "later"])
def test_a_time_no_backup_reaches_is_refused_not_rounded_down(
    two_copies: tuple[Repository, list[str], list[Manifest]],
    keys: dict[str, str],
    tmp_path: Path,
    at: str,
) -> None:
    """`--at TIME` after every backup's last record: what was written until then is not
    known, so the newest backup is not taken as if it were that point."""
    repo, urls, ms = two_copies
    if at == "later":
        grow(repo)
        at = str(repo.time_of(repo.head().seq))
    with pytest.raises(BackupError, match=rf"reaches .*--at {ms[-1].last_seq}"):
        _restore(urls, tmp_path / "x.db", keys, at=at)


@pytest.mark.parametrize(
    "at",
    ["0", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "2026-13-01T00:00Z", "1e9"],
)
def test_an_impossible_point_is_a_usage_error(
    two_copies: tuple[Repository, list[str], list[Manifest]],
    keys: dict[str, str],
    tmp_path: Path,
    at: str,
) -> None:
    from serialvault.errors import UsageError

    _repo, urls, _ms = two_copies
    with pytest.raises(UsageError, match="--at"):
        _restore(urls, tmp_path / "x.db", keys, at=at)


def test_a_time_shared_by_several_records_restores_all_of_them(
    tmp_path: Path, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clock stepped back: recorded_at never decreases, so records of two backups
    carry the same stamp T. `--at T` must give every record at or before T — also those
    of the later backup — not stop at the first backup that reaches T."""
    import serialvault.store.repository as repository_mod

    repo = new_repo(str(tmp_path / "live.db"))
    grow(repo, products=True)
    a = (tmp_path / "a").as_uri()
    pol = policy_for(keys)
    take.full_backup(repo, pol, [copy_of(a, "a")], actor="t")
    monkeypatch.setattr(repository_mod, "now_utc", lambda: "2020-01-01T00:00:00.000000Z")
    grow(repo)
    take.incremental_backup(repo, pol, [copy_of(a, "a")], actor="t")
    grow(repo)
    last = take.incremental_backup(repo, pol, [copy_of(a, "a")], actor="t")[0].manifest
    assert last is not None
    stamp = repo.time_of(repo.head().seq)
    assert stamp == repo.time_of(last.first_seq - 1), "both backups end at the same stamp"
    res = _restore([a], tmp_path / "x.db", keys, at=stamp)
    assert res.head_seq == repo.head().seq == last.last_seq


def test_a_huge_integer_in_a_file_claiming_our_key_is_a_finding_not_a_crash(
    two_copies: tuple[Repository, list[str], list[Manifest]],
    keys: dict[str, str],
    tmp_path: Path,
) -> None:
    _repo, urls, ms = two_copies
    kid = load_verify_key(keys["public_key"]).key_id
    doc = (
        '{"signature":{"alg":"Ed25519","key_id":"' + kid + '","value":"AAAA"},'
        '"a":123456789012345678901234567890}'
    ).encode()
    target = copy_of(urls[1]).open().target
    target.put("checkpoints/20991231T000000000000Z-incr-000000000099.json", doc)
    rep = verify.verify_copy(copy_of(urls[1], "b"), load_verify_key(keys["public_key"]))
    assert not rep.ok
    res = _restore(urls, tmp_path / "x.db", keys)
    assert res.head_seq == ms[-1].last_seq


def test_signed_check_records_anchor_backups_and_the_audit_after_everything_else_is_gone(
    tmp_path: Path, keys: dict[str, str]
) -> None:
    """A fork hidden by deleting the incremental manifests, their checkpoints and the
    witness: the signed check records `backup verify` left still say what the copy held,
    so a full refuses and audit verify fails — as verify and restore already did."""
    from serialvault.backup import guard

    fork, a, pol, incr = _forked(tmp_path, keys, check_record=True)
    vk = load_verify_key(keys["public_key"])
    target = copy_of(a).open().target
    target.delete(f"manifests/{incr.id}.json")
    target.delete(f"checkpoints/{incr.id}.json")
    audit = guard.audit_log(fork, verify=vk, witness=None, states=[copy_of(a).open()])
    assert not audit.ok
    with pytest.raises(IntegrityFailure, match="check record"):
        take.full_backup(fork, pol, [copy_of(a, "a")], actor="t")


def test_the_newest_checkpoint_is_found_by_name_past_junk_and_forgeries(
    two_copies: tuple[Repository, list[str], list[Manifest]],
    keys: dict[str, str],
) -> None:
    from serialvault.backup.anchors import newest_checkpoint

    _repo, urls, ms = two_copies
    target = copy_of(urls[0]).open().target
    target.put("checkpoints/20991231T000000000000Z-incr-000009999999.json", b"junk")
    target.put(
        "checkpoints/20991231T000000000000Z-incr-000009999998.json",
        orjson.dumps({"format": "serialvault.checkpoint/1", "seq": 9999998}),
    )
    vk = load_verify_key(keys["public_key"])
    cp = newest_checkpoint(copy_of(urls[0]).open(), vk)
    assert cp is not None
    assert (cp.seq, cp.backup) == (ms[-1].last_seq, ms[-1].id)
