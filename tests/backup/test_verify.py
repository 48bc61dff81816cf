"""verify finds every kind of damage, names object and copy; restore falls back to an
intact copy. Bits are flipped, not overwritten: an overwrite can write the same byte."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from serialvault.backup import restore as rs
from serialvault.backup import take, verify
from serialvault.backup.crypto import load_encryption_key, load_signing_key, load_verify_key
from serialvault.backup.manifest import Manifest
from serialvault.errors import IntegrityFailure
from tests.backup.conftest import copy_of, grow, new_repo, policy_for


def flip_bit(path: Path, rnd: random.Random) -> int:
    data = bytearray(path.read_bytes())
    pos = rnd.randrange(len(data) * 8)
    data[pos // 8] ^= 1 << (pos % 8)
    path.write_bytes(bytes(data))
    return pos


@pytest.fixture
def site(tmp_path: Path, keys: dict[str, str]) -> tuple[Path, list[Manifest], dict[str, str]]:
    """A copy holding a full and two incrementals (also in a second copy, ``b``)."""
    repo = new_repo(str(tmp_path / "src.db"))
    grow(repo, products=True)
    pol = policy_for(keys)
    copies = [copy_of((tmp_path / "a").as_uri(), "a"), copy_of((tmp_path / "b").as_uri(), "b")]
    out = [take.full_backup(repo, pol, copies, actor="t").manifest]
    for _ in range(2):
        grow(repo)
        out.append(
            take.incremental_backup(repo, pol, copies, actor="t", with_fingerprint=True)[0].manifest
        )
    return tmp_path, [m for m in out if m is not None], keys


def run(
    path: Path, keys: dict[str, str], *, full: bool = True, subset: tuple[int, int] | None = None
) -> verify.VerifyReport:
    return verify.verify_copy(
        copy_of(path.as_uri(), path.name),
        load_verify_key(keys["public_key"]),
        key=load_encryption_key(keys["encryption_key"]),
        signer=load_signing_key(keys["signing_key"]),
        full=full,
        subset=subset,
    )


def obj(root: Path, name: str) -> Path:
    return root / "objects" / name[:2] / name


def test_a_clean_copy_has_no_findings(site: tuple[Path, list[Manifest], dict[str, str]]) -> None:
    root, ms, keys = site
    rep = run(root / "a", keys)
    assert rep.ok, rep.findings
    assert rep.backups == 3
    assert rep.objects == sum(len(m.objects) for m in ms)
    assert rep.objects_read == rep.objects
    assert rep.decrypted
    assert rep.coverage["complete"]


def test_every_flipped_bit_is_found_by_full_verify(
    site: tuple[Path, list[Manifest], dict[str, str]],
) -> None:
    root, _ms, keys = site
    rnd = random.Random(11)
    files = sorted(p for p in (root / "a").rglob("*") if p.is_file() and "checks" not in p.parts)
    assert len(files) >= 6
    for f in files:
        original = f.read_bytes()
        flip_bit(f, rnd)
        rep = run(root / "a", keys)
        assert not rep.ok, f"flipped bit in {f.name} not detected"
        named = " ".join(x.message + (x.object or "") + (x.backup or "") for x in rep.findings)
        stem = f.name.removesuffix(".json")
        assert stem in named, (stem, rep.findings)
        assert all(x.copy == "a" for x in rep.findings)
        f.write_bytes(original)
    assert run(root / "a", keys).ok


def test_quick_verify_finds_missing_and_truncated_objects(
    site: tuple[Path, list[Manifest], dict[str, str]],
) -> None:
    root, ms, keys = site
    seg = ms[1].segments[0]
    obj(root / "a", seg.name).unlink()
    snap = ms[0].snapshot_objects[0]
    p = obj(root / "a", snap.name)
    p.write_bytes(p.read_bytes()[:-10])
    rep = run(root / "a", keys, full=False)
    codes = {(f.code, f.object) for f in rep.findings}
    assert ("missing-object", seg.name) in codes
    assert ("size-mismatch", snap.name) in codes
    assert rep.objects_read == 0


def test_a_lost_incremental_breaks_the_chain(
    site: tuple[Path, list[Manifest], dict[str, str]],
) -> None:
    root, ms, keys = site
    (root / "a" / "manifests" / f"{ms[1].id}.json").unlink()
    rep = run(root / "a", keys, full=False)
    assert sorted((f.code, f.backup) for f in rep.findings) == [
        ("broken-parent", ms[2].id),
        ("rollback", ms[1].id),  # its checkpoint on the copy still names it
    ]


def test_subsets_cover_everything_only_when_all_have_run(
    site: tuple[Path, list[Manifest], dict[str, str]],
) -> None:
    root, _ms, keys = site
    seen = 0
    for n in (1, 2, 3):
        rep = run(root / "a", keys, full=False, subset=(n, 3))
        assert rep.ok
        seen += rep.objects_read
        assert rep.coverage["complete"] is (n == 3)
        assert rep.coverage["shares_checked"] == list(range(1, n + 1))
    assert seen == rep.objects  # each object read in exactly one share
    assert len(list((root / "a" / "checks").iterdir())) == 3


def test_restore_uses_the_other_copy_when_one_is_damaged(
    site: tuple[Path, list[Manifest], dict[str, str]],
) -> None:
    root, ms, keys = site
    rnd = random.Random(3)
    for o in ms[0].snapshot_objects + ms[2].segments:
        flip_bit(obj(root / "a", o.name), rnd)
    res = rs.restore(
        [copy_of((root / "a").as_uri(), "a"), copy_of((root / "b").as_uri(), "b")],
        str(root / "r.db"),
        verify_key=load_verify_key(keys["public_key"]),
        key=load_encryption_key(keys["encryption_key"]),
    )
    assert res.fetched_from.get("b", 0) == len(ms[0].snapshot_objects) + len(ms[2].segments)
    assert res.fingerprint == ms[2].fingerprint
    damaged = [f for f in res.findings if "in copy a is damaged" in f]
    assert len(damaged) == len(ms[0].snapshot_objects) + len(ms[2].segments)


def test_restore_fails_before_writing_when_every_copy_is_damaged(
    site: tuple[Path, list[Manifest], dict[str, str]],
) -> None:
    root, ms, keys = site
    seg = ms[2].segments[0]
    rnd = random.Random(5)
    for c in ("a", "b"):
        flip_bit(obj(root / c, seg.name), rnd)
    with pytest.raises(IntegrityFailure, match=f"object {seg.name}.*damaged in every copy"):
        rs.restore(
            [copy_of((root / "a").as_uri(), "a"), copy_of((root / "b").as_uri(), "b")],
            str(root / "r.db"),
            verify_key=load_verify_key(keys["public_key"]),
            key=load_encryption_key(keys["encryption_key"]),
        )
    assert not list(root.glob("r.db*"))


def test_prune_removes_old_chains_and_keeps_what_kept_backups_need(
    tmp_path: Path, keys: dict[str, str]
) -> None:
    from serialvault.backup.prune import prune_copy

    repo = new_repo(str(tmp_path / "src.db"))
    grow(repo, products=True)
    pol = policy_for(keys)
    url = (tmp_path / "c").as_uri()
    chains = []
    for _ in range(3):
        full = take.full_backup(repo, pol, [copy_of(url)], actor="t").manifest
        grow(repo)
        take.incremental_backup(repo, pol, [copy_of(url)], actor="t")
        chains.append(full)
    vk = load_verify_key(keys["public_key"])
    dry = prune_copy(copy_of(url), vk, keep_fulls=1, keep_days=0, dry_run=True)
    assert len(dry.removed) == 4
    assert len(list((tmp_path / "c" / "manifests").iterdir())) == 6
    signer = load_signing_key(keys["signing_key"])
    rep = prune_copy(copy_of(url), vk, keep_fulls=1, keep_days=0, signer=signer)
    assert len(rep.kept) == 2
    assert chains[2] is not None
    assert chains[2].id in rep.kept
    assert rep.removed == dry.removed
    check = run(tmp_path / "c", keys)
    assert check.ok, check.findings  # the signed prune record: retention, not a rollback
    assert check.backups == 2
    assert len(list((tmp_path / "c" / "prunes").iterdir())) == 1
    assert len(list((tmp_path / "c" / "checkpoints").iterdir())) == 2
    res = rs.restore(
        [copy_of(url)],
        str(tmp_path / "r.db"),
        verify_key=vk,
        key=load_encryption_key(keys["encryption_key"]),
    )
    assert res.head_seq == repo.head().seq
    # young chains are kept whatever keep_fulls says
    again = prune_copy(copy_of(url), vk, keep_fulls=0, keep_days=1, signer=signer)
    assert again.removed == []


@pytest.mark.parametrize("damage", ["flip", "delete"])
def test_restore_falls_back_between_an_s3_copy_and_a_file_copy(
    tmp_path: Path, keys: dict[str, str], s3_endpoint: str, damage: str
) -> None:
    """The cloud copy damaged (a flipped bit, a deleted object): the on-site copy serves;
    then the on-site copy damaged: the cloud copy serves — over real S3 HTTP."""
    import boto3

    from tests.backup.conftest import BUCKET, s3_url

    repo = new_repo(str(tmp_path / "src.db"))
    grow(repo, products=True)
    prefix = f"fallback-{damage}"
    cloud = s3_url(s3_endpoint, prefix)
    onsite = (tmp_path / "onsite").as_uri()
    pol = policy_for(keys)
    copies = [copy_of(cloud, "cloud"), copy_of(onsite, "onsite")]
    full = take.full_backup(repo, pol, copies, actor="t").manifest
    grow(repo)
    incr = take.incremental_backup(repo, pol, copies, actor="t", with_fingerprint=True)[0].manifest
    assert full is not None
    assert incr is not None
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    victims = incr.segments
    rnd = random.Random(11)
    for o in victims:
        key = f"{prefix}/objects/{o.name[:2]}/{o.name}"
        if damage == "delete":
            s3.delete_object(Bucket=BUCKET, Key=key)
        else:
            data = bytearray(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
            pos = rnd.randrange(len(data) * 8)
            data[pos // 8] ^= 1 << (pos % 8)
            s3.put_object(Bucket=BUCKET, Key=key, Body=bytes(data))
    vk = load_verify_key(keys["public_key"])
    enc = load_encryption_key(keys["encryption_key"])
    rep = verify.verify_copy(copy_of(cloud, "cloud"), vk, key=enc, full=True)
    code = "missing-object" if damage == "delete" else "hash-mismatch"
    assert {f.code for f in rep.findings} == {code}
    assert {f.copy for f in rep.findings} == {"cloud"}
    res = rs.restore(
        [copy_of(cloud, "cloud"), copy_of(onsite, "onsite")],
        str(tmp_path / "r1.db"),
        verify_key=vk,
        key=enc,
    )
    assert res.fetched_from == {"onsite": len(victims), "cloud": len(full.snapshot_objects)}
    assert res.fingerprint == incr.fingerprint
    word = "missing from copy cloud" if damage == "delete" else "in copy cloud is damaged"
    assert len([f for f in res.findings if word in f]) == len(victims)
    # now the on-site copy loses its snapshot, which the cloud copy still has intact
    rnd2 = random.Random(12)
    others = full.snapshot_objects
    for o in others:
        flip_bit(obj(tmp_path / "onsite", o.name), rnd2)
    res2 = rs.restore(
        [copy_of(onsite, "onsite"), copy_of(cloud, "cloud")],
        str(tmp_path / "r2.db"),
        verify_key=vk,
        key=enc,
    )
    assert res2.fetched_from == {"cloud": len(others), "onsite": len(victims)}
    assert res2.fingerprint == incr.fingerprint
