"""Reconciliation: every rule passes on a healthy repository and fails, naming the
records, on each kind of damage — on SQLite and PostgreSQL; ``find_cycles`` against a
brute force (hypothesis); bad baselines are refused by name."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from serialvault.domain import reconcile as rules
from serialvault.errors import InputError
from serialvault.store import reconcile as rec
from serialvault.store import schema
from serialvault.store.repository import Repository
from tests import builders as b
from tests.accounts import sign_in
from tests.backup.conftest import capture, new_repo
from tests.pg import pg_schema_url

SV = [sys.executable, "-m", "serialvault.cli.main"]


def _site(repo: Repository) -> dict[str, list[str]]:
    """Two pallets of two cases of 5 units; the first pallet shipped."""
    b.register(repo, b.GTIN)
    units = [b.sgtin(f"R{i}") for i in range(20)]
    cases = [b.sscc(500 + i) for i in range(4)]
    pallets = [b.sscc(900), b.sscc(901)]
    events = [b.commission(units), b.commission_containers(cases + pallets)]
    events += [b.pack(cases[i], units[5 * i : 5 * i + 5]) for i in range(4)]
    events += [b.pack(pallets[0], cases[:2]), b.pack(pallets[1], cases[2:])]
    capture(repo, *events)
    capture(repo, b.ship([pallets[0]]))
    return {"units": units, "cases": cases, "pallets": pallets}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def site(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        repo = new_repo(str(tmp_path / "r.db"))
        ids = _site(repo)
        yield repo, ids
        return
    with pg_schema_url() as url:
        repo = new_repo(url)
        ids = _site(repo)
        yield repo, ids


def _tamper(repo: Repository, fn: Callable[[sa.Connection], object]) -> None:
    """Change the projections behind the log's back (what a bad restore could do)."""
    with repo.write() as (conn, _log):
        fn(conn)


def _by_rule(report: rec.Report) -> dict[str, rules.RuleResult]:
    return {r.rule: r for r in report.results}


def test_a_healthy_repository_passes_every_rule(site) -> None:  # type: ignore[no-untyped-def]
    repo, _ = site
    base = rec.take_baseline(repo)
    report = rec.reconcile(repo, base, against="baseline")
    assert report.verdict == rules.PASS, [r.to_dict() for r in report.results]
    assert [r.rule for r in report.results] == ["R1", "R2", "R4", "R5", "R6", "R8"]
    r1 = _by_rule(report)["R1"]
    assert r1.counts["units_actual"] == 20 + 6
    assert _by_rule(report)["R2"].counts["units"] == 26


def test_a_missing_unit_fails_r1_and_r6_naming_the_group(site) -> None:  # type: ignore[no-untyped-def]
    repo, ids = site
    base = rec.take_baseline(repo)
    key = b.dl(ids["units"][12])  # in the second, unshipped pallet
    _tamper(repo, lambda c: c.execute(sa.delete(schema.units).where(schema.units.c.key == key)))
    by = _by_rule(rec.reconcile(repo, base, against="baseline"))
    assert by["R1"].status == rules.FAIL
    assert by["R1"].counts["units_missing"] == 1
    assert "expected 10, found 9" in by["R1"].examples["differing_groups"][0]
    assert by["R6"].status == rules.FAIL
    assert any(e.startswith("units:") for e in by["R6"].examples["tables"])


def test_a_changed_status_fails_r1_and_the_hierarchy(site) -> None:  # type: ignore[no-untyped-def]
    repo, ids = site
    base = rec.take_baseline(repo)
    key = b.dl(ids["units"][0])  # inside the shipped pallet
    _tamper(
        repo,
        lambda c: c.execute(
            schema.units.update().where(schema.units.c.key == key).values(status="active")
        ),
    )
    by = _by_rule(rec.reconcile(repo, base, against="baseline"))
    assert by["R1"].status == rules.FAIL
    assert by["R2"].status == rules.FAIL
    assert by["R2"].counts["unshipped_in_shipped"] == 1
    assert by["R2"].examples["unshipped_in_shipped"] == [key]


def test_hierarchy_damage_is_named(site) -> None:  # type: ignore[no-untyped-def]
    repo, ids = site
    base = rec.take_baseline(repo)
    u = schema.units
    case0, case1 = b.dl(ids["cases"][2]), b.dl(ids["cases"][3])
    pallet = b.dl(ids["pallets"][1])

    def damage(c: sa.Connection) -> None:
        ids_of = dict(
            c.execute(sa.select(u.c.key, u.c.id).where(u.c.key.in_([case0, case1, pallet]))).all()
        )
        # a cycle: pallet → case2 → pallet; a unit pointing at a parent that does not exist
        c.execute(u.update().where(u.c.key == pallet).values(parent_id=ids_of[case0]))
        c.execute(u.update().where(u.c.key == b.dl(ids["units"][19])).values(parent_id=10**9))
        # an active unit inside a decommissioned case
        c.execute(u.update().where(u.c.key == case1).values(status="decommissioned"))

    _tamper(repo, damage)
    r2 = _by_rule(rec.reconcile(repo, base, against="baseline"))["R2"]
    assert r2.status == rules.FAIL
    assert r2.counts["cycles"] == 1
    assert pallet in r2.examples["cycles"][0]
    assert case0 in r2.examples["cycles"][0]
    assert r2.counts["parent_missing"] == 1
    assert r2.examples["parent_missing"] == [b.dl(ids["units"][19])]
    assert r2.counts["active_in_decommissioned"] == 4  # the other four units of the case
    assert "decommissioned container" in r2.message


def test_master_data_damage_fails_r4(site) -> None:  # type: ignore[no-untyped-def]
    repo, ids = site
    base = rec.take_baseline(repo)
    u = schema.units
    one, two = b.dl(ids["units"][3]), b.dl(ids["units"][4])
    _tamper(
        repo,
        lambda c: (
            c.execute(u.update().where(u.c.key == one).values(expiry="2099-01-01")),
            c.execute(u.update().where(u.c.key == two).values(gtin=b.OTHER_GTIN)),
        ),
    )
    r4 = _by_rule(rec.reconcile(repo, base, against="baseline"))["R4"]
    assert r4.status == rules.FAIL
    assert r4.counts["expiry_differs"] == 1
    assert r4.examples["expiry_differs"] == [one]
    assert r4.counts["gtin_unknown"] == 1
    assert r4.examples["gtin_unknown"] == [two]


def test_an_altered_log_record_fails_r5(site) -> None:  # type: ignore[no-untyped-def]
    repo, _ = site
    base = rec.take_baseline(repo)
    lg = schema.log
    _tamper(
        repo,
        lambda c: c.execute(lg.update().where(lg.c.seq == 3).values(actor="mallory@evil")),
    )
    by = _by_rule(rec.reconcile(repo, base, against="baseline"))
    assert by["R5"].status == rules.FAIL
    assert "3" in by["R5"].message
    assert by["R1"].status == rules.PASS  # the projections were not touched


def test_a_baseline_at_another_seq_makes_r6_inconclusive(site) -> None:  # type: ignore[no-untyped-def]
    repo, _ = site
    base = rec.take_baseline(repo)
    capture(repo, b.commission([b.sgtin("LATE")]))
    by = _by_rule(rec.reconcile(repo, base, against="baseline"))
    assert by["R6"].status == rules.INCONCLUSIVE
    assert by["R1"].status == rules.FAIL  # one more unit than the baseline


@given(st.lists(st.integers(0, 12), min_size=1, max_size=13))
def test_find_cycles_agrees_with_a_brute_force(parents: list[int]) -> None:
    edges = [(f"n{i}", f"n{p}") for i, p in enumerate(parents)]
    cycles = rules.find_cycles(edges, limit=100)
    graph = dict(edges)
    on_cycle = set()
    for start in graph:  # walk len(graph)+1 steps: a node revisits itself iff on a cycle
        node: str | None = graph.get(start)
        for _ in range(len(graph) + 1):
            if node == start:
                on_cycle.add(start)
                break
            node = graph.get(node) if node is not None else None
    assert {n for c in cycles for n in c} == on_cycle
    for c in cycles:
        for i, n in enumerate(c):
            assert graph[n] == c[(i + 1) % len(c)]


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"not json", "is not JSON"),
        (b'{"format": "something/1"}', "is not a serialvault.baseline/1"),
        (b'{"format": "serialvault.baseline/1", "counts": []}', "missing or malformed"),
        (
            b'{"format": "serialvault.baseline/1", "head_seq": 1, "chain_head": "x",'
            b' "fingerprint": {}, "counts": [["g", null]]}',
            "missing or malformed",
        ),
    ],
)
def test_bad_baselines_are_refused_by_name(data: bytes, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        rec.load_baseline(data, "b.json")


def test_cli_baseline_and_reconcile(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    repo = new_repo(str(db), signed_in=True)
    _site(repo)
    env = dict(os.environ)

    def sv(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*SV, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )

    made = sv("baseline", "--db", str(db), "--out", str(tmp_path / "base.json"))
    assert made.returncode == 0, made.stderr
    ok = sv("reconcile", "--db", str(db), "--against", str(tmp_path / "base.json"), "--json")
    assert ok.returncode == 0, ok.stderr
    assert orjson.loads(ok.stdout)["verdict"] == "pass"
    # against another repository: a copy missing the last capture fails, exit 8
    other = tmp_path / "other.db"
    new = new_repo(str(other), signed_in=True)
    b.register(new, b.GTIN)
    bad = sv("reconcile", "--db", str(other), "--against", str(db), "--json")
    assert bad.returncode == 8
    doc = orjson.loads(bad.stdout)
    assert doc["verdict"] == "fail"
    # each failed rule opened an exception; the same failure again is linked to it
    failed = [r["rule"] for r in doc["rules"] if r["status"] == "fail"]
    assert len(doc["exceptions"]) == len(failed) >= 1
    again = orjson.loads(sv("reconcile", "--db", str(other), "--against", str(db), "--json").stdout)
    assert again["exceptions"] == doc["exceptions"]
    listed = orjson.loads(sv("exception", "list", "--db", str(other), "--json").stdout)
    assert [e["id"] for e in listed] == doc["exceptions"]
    assert {e["type"] for e in listed} == {"reconciliation-failure"}
    shown = orjson.loads(
        sv("exception", "show", doc["exceptions"][0], "--db", str(other), "--json").stdout
    )
    assert [a["action"] for a in shown["actions"]] == ["seen-again"]
    assert shown["origin"]["kind"] == "reconciliation"
    missing = sv("reconcile", "--db", str(db), "--against", str(tmp_path / "nope.json"))
    assert missing.returncode == 3
    assert "nope.json" in missing.stdout + missing.stderr
    assert not (tmp_path / "nope.json").exists()
    typo = sv("reconcile", "--db", str(tmp_path / "typo.db"), "--against", str(db))
    assert typo.returncode == 7
    assert not (tmp_path / "typo.db").exists(), "a wrong path is not created"


# --------------------------------------------------------------------------- R7


def _site_docs(tmp_path: Path) -> tuple[Repository, list[Path], dict[str, list[str]]]:
    """The site of ``_site`` captured from files, which also serve as 'the export'."""
    repo = new_repo(str(tmp_path / "r.db"))
    b.register(repo, b.GTIN)
    units = [b.sgtin(f"X{i}") for i in range(20)]
    cases = [b.sscc(600 + i) for i in range(4)]
    pallets = [b.sscc(950), b.sscc(951)]
    events = [b.commission(units), b.commission_containers(cases + pallets)]
    events += [b.pack(cases[i], units[5 * i : 5 * i + 5]) for i in range(4)]
    events += [b.pack(pallets[0], cases[:2]), b.pack(pallets[1], cases[2:])]
    docs = [
        b.document(header=b.products(b.GTIN)),
        b.document(*events),
        b.document(b.ship([pallets[0]])),
    ]
    paths = []
    for i, d in enumerate(docs):
        p = tmp_path / f"{i:02d}.jsonld"
        p.write_bytes(d)
        capture_doc(repo, d)
        paths.append(p)
    return repo, paths, {"units": units, "cases": cases, "pallets": pallets}


def capture_doc(repo: Repository, data: bytes) -> None:
    from serialvault.store.capture import Capturer

    Capturer(repo, actor="t").capture_bytes(data, "d.jsonld")


def test_r7_passes_against_the_same_export_and_names_what_the_other_side_lacks(
    tmp_path: Path,
) -> None:
    repo, paths, ids = _site_docs(tmp_path)
    (tmp_path / "w1").mkdir()
    same = rec.cross_system(repo, paths, tmp_path / "w1")
    assert same.verdict == rules.PASS, same.results[0].to_dict()
    assert same.results[0].counts["events_theirs"] == same.results[0].counts["events_ours"]
    (tmp_path / "w2").mkdir()
    behind = rec.cross_system(repo, paths[:2], tmp_path / "w2").results[0]
    assert behind.status == rules.FAIL
    assert behind.counts["events_missing"] == 1  # the shipment
    assert behind.counts["status_differs"] == 13  # pallet, 2 cases, 10 units
    pallet = b.dl(ids["pallets"][0])
    assert any(
        e.startswith(f"{pallet}: ours 'shipped', theirs 'active'")
        for e in behind.examples["status_differs"]
    )


def test_r7_finds_extra_units_and_rejected_documents(tmp_path: Path) -> None:
    repo, paths, _ = _site_docs(tmp_path)
    extra = tmp_path / "03.jsonld"
    extra.write_bytes(b.document(b.commission([b.sgtin("NOT-OURS")])))
    bad = tmp_path / "04.jsonld"
    bad.write_bytes(b.document(b.commission([b.sgtin("X0", product=("0999", "99"))])))
    (tmp_path / "w").mkdir()
    r7 = rec.cross_system(repo, [*paths, extra, bad], tmp_path / "w").results[0]
    assert r7.status == rules.FAIL
    assert r7.counts["units_extra"] == 1
    assert r7.examples["units_extra"] == [b.dl(b.sgtin("NOT-OURS"))]
    assert r7.counts["events_extra"] == 1
    assert r7.counts["documents_rejected"] == 1
    assert r7.examples["documents_rejected"][0].startswith("04.jsonld: ")


def test_r7_export_scope_ignores_what_the_export_does_not_hold(tmp_path: Path) -> None:
    repo, paths, _ = _site_docs(tmp_path)
    partial = tmp_path / "p.jsonld"
    partial.write_bytes(b.document(b.ship([b.sscc(950)])))  # a partner sees only a shipment
    (tmp_path / "w").mkdir()
    full = rec.cross_system(repo, [paths[0], partial], tmp_path / "w").results[0]
    assert full.counts["documents_rejected"] == 1  # shipping an unknown pallet is refused
    (tmp_path / "w2").mkdir()
    scoped = rec.cross_system(repo, paths[:2], tmp_path / "w2", scope="export").results[0]
    assert scoped.counts["events_missing"] == 0
    assert scoped.counts["units_missing"] == 0
    assert scoped.counts["status_differs"] == 13  # still: what it holds is out of date
    with pytest.raises(InputError, match="--scope"):
        rec.cross_system(repo, paths, tmp_path / "w2", scope="some")


def test_cli_reconcile_against_an_export_folder(tmp_path: Path) -> None:
    _repo, paths, _ = _site_docs(tmp_path)
    folder = tmp_path / "export"
    folder.mkdir()
    for p in paths:
        (folder / p.name).write_bytes(p.read_bytes())
    db = str(tmp_path / "r.db")
    sign_in(db)
    ok = subprocess.run(
        [*SV, "reconcile", "--db", db, "--against", str(folder), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
    assert orjson.loads(ok.stdout)["rules"][0]["rule"] == "R7"
    (folder / paths[-1].name).unlink()
    behind = subprocess.run(
        [*SV, "reconcile", "--db", db, "--against", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert behind.returncode == 8
    assert "status differs" in behind.stdout
    nofile = subprocess.run(
        [*SV, "reconcile", "--db", db, "--against", str(tmp_path / "missing.jsonld")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert nofile.returncode == 3
    assert "no such EPCIS file" in nofile.stdout + nofile.stderr


def test_a_known_fingerprint_is_only_trusted_when_it_matches(tmp_path: Path) -> None:
    repo = new_repo(str(tmp_path / "r.db"))
    _site(repo)
    base = rec.take_baseline(repo)
    same = rec.reconcile(repo, base, against="b", known_fingerprint=base.fingerprint["fingerprint"])
    assert _by_rule(same)["R6"].status == rules.PASS
    assert "restore computed" in _by_rule(same)["R6"].message
    # a wrong 'known' value is not believed: the state is hashed and R6 still passes
    bogus = rec.reconcile(repo, base, against="b", known_fingerprint="0" * 64)
    assert _by_rule(bogus)["R6"].status == rules.PASS
    assert "restore computed" not in _by_rule(bogus)["R6"].message
    # and a damaged state with the baseline's value claimed is caught by R1, not hidden
    key = b.dl(b.sgtin("R12"))
    _tamper(repo, lambda c: c.execute(sa.delete(schema.units).where(schema.units.c.key == key)))
    claimed = rec.reconcile(
        repo, base, against="b", known_fingerprint=base.fingerprint["fingerprint"]
    )
    assert _by_rule(claimed)["R1"].status == rules.FAIL


# --------------------------------------------------------------------------- R3


def test_r3_passes_with_error_declarations_and_names_broken_histories(site) -> None:  # type: ignore[no-untyped-def]
    repo, ids = site
    # an erroneous shipment declared (EPCIS 2.0 §7.4.1.2): its units' state is refolded
    shipment = b.ship([ids["pallets"][1]])
    capture(repo, shipment)
    capture(repo, b.declare_error(shipment))
    # a unit commissioned, then its commissioning declared erroneous: it was never used
    lone = b.commission([b.sgtin("LONE")])
    capture(repo, lone)
    capture(repo, b.declare_error(lone))
    base = rec.take_baseline(repo)
    ok = _by_rule(rec.reconcile(repo, base, against="b", lifecycle=True))
    assert ok["R3"].status == rules.PASS, ok["R3"].to_dict()
    assert ok["R3"].counts["units"] == 27
    u = schema.units
    keys = [b.dl(x) for x in ids["units"][:4]]

    def damage(c: sa.Connection) -> None:
        c.execute(u.update().where(u.c.key == keys[0]).values(status="lost"))
        c.execute(u.update().where(u.c.key == keys[1]).values(commissioned_seq=None))
        c.execute(u.update().where(u.c.key == keys[2]).values(commissioned_seq=10**6))
        c.execute(u.update().where(u.c.key == keys[3]).values(last_seq=1))

    _tamper(repo, damage)
    r3 = _by_rule(rec.reconcile(repo, base, against="b", lifecycle=True))["R3"]
    assert r3.status == rules.FAIL
    assert r3.examples["invalid_status"] == [keys[0]]
    assert r3.examples["used_uncommissioned"] == [keys[1]]
    assert r3.examples["event_before_commissioning"] == [keys[2]]
    assert keys[3] in r3.examples["history_mismatch"]
    assert "never commissioned" in r3.message
    # without --lifecycle R3 is not run (it costs as much as the rest)
    assert "R3" not in _by_rule(rec.reconcile(repo, base, against="b"))


def test_a_reordered_log_fails_r5(site) -> None:  # type: ignore[no-untyped-def]
    repo, _ = site
    base = rec.take_baseline(repo)
    lg = schema.log

    def swap(c: sa.Connection) -> None:
        a, b2 = (c.execute(sa.select(lg).where(lg.c.seq == s)).one()._mapping for s in (2, 3))
        cols = ("recorded_at", "kind", "actor", "reason", "body", "body_hash", "chain_hash")
        c.execute(lg.update().where(lg.c.seq == 2).values({k: b2[k] for k in cols}))
        c.execute(lg.update().where(lg.c.seq == 3).values({k: a[k] for k in cols}))

    _tamper(repo, swap)
    r5 = _by_rule(rec.reconcile(repo, base, against="b"))["R5"]
    assert r5.status == rules.FAIL
    assert "seq 2" in r5.message or "2" in r5.examples["first_break"][0]
