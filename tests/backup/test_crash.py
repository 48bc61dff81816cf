"""kill -9 of a backup or a restore, at random moments, with real processes.

After every killed backup: no manifest names a missing or partial object (objects are
written first, each atomically, the manifest last), ``verify --full`` is clean, and the
next backup succeeds. A killed restore leaves the target absent (SQLite: only a marked
temporary file, which cannot be opened as a repository) or empty (PostgreSQL: one
transaction), never something that looks like a good repository.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from serialvault.backup import verify
from serialvault.backup.crypto import generate_keys, load_encryption_key, load_verify_key
from serialvault.demo.generator import SiteConfig, SiteGenerator
from serialvault.errors import StoreError
from serialvault.store.capture import Capturer
from serialvault.store.repository import Repository
from tests import builders as b
from tests.accounts import as_admin, sign_in
from tests.backup.conftest import cli_env, copy_of
from tests.conftest import repetitions
from tests.pg import pg_schema_url

SV = [sys.executable, "-m", "serialvault.cli.main"]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("crash")
    repo = Repository.open(str(root / "src.db"), must_exist=False)
    repo.init("t")
    cap = Capturer(repo, actor="t")
    b.register_site(repo, SiteConfig(units=48_000, seed=3, max_epcs=2_500))
    for name, doc in SiteGenerator(SiteConfig(units=48_000, seed=3, max_epcs=2_500)).run():
        cap.capture_bytes(orjson.dumps(doc), name)
    sign_in(repo)  # the commands below are an admin's
    keys = generate_keys(root / "keys")
    return root, keys


def _run(args: list[str], keys: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SV, *args], env=cli_env(keys), cwd=cwd, capture_output=True, text=True, timeout=300
    )


def _check(url: str, keys: dict[str, str]) -> verify.VerifyReport:
    return verify.verify_copy(
        copy_of(url, "c"),
        load_verify_key(keys["public_key"]),
        key=load_encryption_key(keys["encryption_key"]),
        full=True,
    )


def test_kill_9_during_backup(source: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root, keys = source
    db = str(root / "src.db")
    url = (tmp_path / "copy").as_uri()
    # calibrate: how long each kind runs here, now (start-up included), to kill within it
    wall: dict[str, float] = {}
    for kind in ("full", "incr"):
        if kind == "incr":
            Capturer(Repository.open(db), actor="t").capture_bytes(_extra_doc(99), "cal.jsonld")
        t0 = time.perf_counter()
        first = _run(["backup", kind, "--db", db, "--to", url, "--json"], keys, tmp_path)
        wall[kind] = time.perf_counter() - t0
        assert first.returncode == 0, first.stdout + first.stderr
    rnd = random.Random(17)
    killed = 0
    n = repetitions(8, 20)
    for trial in range(n):
        kind = "full" if trial % 2 == 0 else "incr"
        if kind == "incr":  # something new to back up
            Capturer(Repository.open(db), actor="t").capture_bytes(
                _extra_doc(trial), f"extra-{trial}.jsonld"
            )
        proc = subprocess.Popen(
            [*SV, "backup", kind, "--db", db, "--to", url, "--json"],
            env=cli_env(keys),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(rnd.uniform(0.1, 0.9) * wall[kind])
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.communicate()
        rep = _check(url, keys)
        assert rep.ok, f"trial {trial} ({kind}): {[str(f) for f in rep.findings]}"
    assert killed >= n // 2, f"only {killed} of {n} backups were killed mid-way"
    after = _run(["backup", "incr", "--db", db, "--to", url, "--json"], keys, tmp_path)
    assert after.returncode == 0, after.stdout + after.stderr
    assert _check(url, keys).ok
    restored = _run(
        ["restore", "--from", url, "--into", str(tmp_path / "r.db"), "--json", "--db", db],
        keys,
        tmp_path,
    )
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert orjson.loads(restored.stdout)["head_seq"] == Repository.open(db).head().seq


def _extra_doc(n: int) -> bytes:

    return b.document(b.commission_containers([b.sscc(90_000 + n)]))


@pytest.mark.parametrize(
    "engine", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_kill_9_during_restore(
    source: tuple[Path, dict[str, str]], tmp_path: Path, engine: str
) -> None:
    root, keys = source
    url = (tmp_path / "copy").as_uri()
    done = _run(["backup", "full", "--db", str(root / "src.db"), "--to", url], keys, tmp_path)
    assert done.returncode == 0, done.stderr
    rnd = random.Random(23)
    # calibrate: kill within the time a whole restore takes on this machine, this run
    t0 = time.perf_counter()
    if engine == "sqlite":
        cal = _run(
            ["restore", "--from", url, "--into", str(tmp_path / "cal.db"), *as_admin(tmp_path)],
            keys,
            tmp_path,
        )
    else:
        with pg_schema_url() as pg:
            cal = _run(
                ["restore", "--from", url, "--into", pg, *as_admin(tmp_path)], keys, tmp_path
            )
    assert cal.returncode == 0, cal.stderr
    whole = time.perf_counter() - t0
    kills = trials = 0
    missed = False
    while kills < 4 and trials < 10:
        if missed:
            # a restore finished before its kill: a warm restore runs faster than the
            # calibration did, so aim earlier rather than certify nothing
            whole *= 0.7
        trial = trials
        trials += 1
        if engine == "sqlite":
            target = tmp_path / f"r{trial}.db"
            missed = not _kill_restore(url, str(target), keys, tmp_path, rnd, whole)
            kills += not missed
            if target.exists():  # killed after the rename: still marked, or complete
                problem = ""
                try:
                    done = Repository.open(str(target))
                except StoreError as exc:
                    problem = str(exc)
                if problem:
                    assert "restore in progress or interrupted" in problem
                else:
                    assert done.head() == Repository.open(str(root / "src.db")).head()
            else:
                with pytest.raises(StoreError):
                    Repository.open(str(target))
            for leftover in tmp_path.glob(f"r{trial}.db.restoring-*"):
                if leftover.name.endswith(("-wal", "-shm")):
                    continue
                with pytest.raises(StoreError):  # half a file, or marked as interrupted
                    Repository.open(str(leftover))
        else:
            with pg_schema_url() as pg:
                missed = not _kill_restore(url, pg, keys, tmp_path, rnd, whole)
                kills += not missed
                if missed:
                    continue
                problem = ""
                try:
                    done = Repository.open(pg)
                except StoreError as exc:  # killed before the commit: nothing at all
                    problem = str(exc)
                if not problem:  # killed after the mark was cleared: complete
                    assert done.head() == Repository.open(str(root / "src.db")).head()
                    assert "restore_state" not in done.meta()
                    continue
                # before the load's commit: nothing; after it: marked as interrupted
                assert "not a serialvault repository" in problem or (
                    "restore in progress or interrupted" in problem
                )
                # and the restore can simply be run again
                again = _run(
                    ["restore", "--from", url, "--into", pg, "--force", *as_admin(tmp_path)],
                    keys,
                    tmp_path,
                )
                assert again.returncode == 0, again.stderr
                Repository.open(pg)
    assert kills >= 3, f"only {kills} of {trials} restores were killed before they finished"


def _kill_restore(
    url: str, into: str, keys: dict[str, str], cwd: Path, rnd: random.Random, whole: float
) -> bool:
    """Start a restore and SIGKILL it at a random moment of its run; False if it finished."""
    proc = subprocess.Popen(
        [*SV, "restore", "--from", url, "--into", into, *as_admin(cwd)],
        env=cli_env(keys),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(rnd.uniform(0.35, 0.85) * whole)
    finished = proc.poll() is not None
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    return not finished


def test_a_restore_working_file_is_not_a_repository(tmp_path: Path) -> None:
    """Between the snapshot's last byte and the restore mark, the working file is a whole,
    unmarked repository of an older point: its name must keep it from being opened."""
    work = tmp_path / "target.db.restoring-4242"
    Repository("sqlite:///" + str(work)).init(actor="setup")
    with pytest.raises(StoreError, match=r"working file of a restore into .*target\.db"):
        Repository.open(str(work))
    (tmp_path / "target.db.restoring-later.db").write_bytes(work.read_bytes())
    Repository.open(str(tmp_path / "target.db.restoring-later.db"))  # only that name
