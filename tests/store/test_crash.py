"""kill -9 of a capturing process never loses an acknowledged event or breaks the chain.

A real ``serialvault capture`` process captures a folder of documents and is killed with
SIGKILL at a random moment, again and again. After every kill:

* the hash chain verifies from genesis (no torn or half-written record);
* every document the process had acknowledged (its "N events recorded" line was
  printed — printed only after the commit) is fully present: all its event hashes are
  in the repository;
* the next capture of the same folder succeeds (already captured documents are no-ops).

At the end the repository is complete and ``rebuild`` reproduces its fingerprint.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from serialvault.demo.generator import SiteConfig, SiteGenerator
from serialvault.epcis.hashing import document_hashes
from serialvault.epcis.reader import read_document
from serialvault.store import schema
from serialvault.store.integrity import rebuild, verify_chain
from serialvault.store.repository import Repository
from tests import builders as b
from tests.accounts import make_repo
from tests.conftest import repetitions

SV = [sys.executable, "-m", "serialvault.cli.main"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import orjson

    out = tmp_path_factory.mktemp("site")
    for name, doc in SiteGenerator(SiteConfig(units=72_000, seed=7, max_epcs=2_500)).run():
        (out / name).write_bytes(orjson.dumps(doc))
    return out


def _acknowledged(stdout: str) -> list[str]:
    """Documents whose acknowledgement line reached us (complete lines only)."""
    names = []
    for line in stdout.splitlines(keepends=True):
        if line.endswith("\n") and " events recorded" in line:
            names.append(line.split(":", 1)[0])
    return names


def _hashes(path: Path) -> set[str]:
    return set(document_hashes(read_document(path.read_bytes(), path.name)))


def _recorded_hashes(repo: Repository) -> set[str]:
    with repo.read() as conn:
        return {r[0] for r in conn.execute(sa.select(schema.events.c.event_hash))}


def _trials(db: str, site: Path, tmp_path: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SERIALVAULT_DB": db}
    repo = make_repo(db)
    b.register_site(repo, SiteConfig(units=72_000, seed=7, max_epcs=2_500))
    files = sorted(site.glob("*.jsonld"))
    acked_total: set[str] = set()
    kills = 0
    for trial in range(n):
        log = tmp_path / f"trial{trial}.out"
        # Kill somewhere inside the next new documents: wait until the process has
        # re-acknowledged what earlier trials captured plus 0-1 more, then a random delay
        # shorter than one document's capture.
        target = len(acked_total) + rng.randint(0, 1)
        with log.open("w") as out:
            proc = subprocess.Popen(
                [*SV, "capture", str(site)], env=env, stdout=out, stderr=subprocess.STDOUT
            )
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                if len(_acknowledged(log.read_text())) >= target:
                    break
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.15))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
        acked = _acknowledged(log.read_text())
        acked_total.update(acked)
        with repo.read() as conn:
            audit = verify_chain(conn)
        assert audit.ok, f"trial {trial}: {audit.first_break}"
        recorded = _recorded_hashes(repo)
        for name in acked:
            missing = _hashes(Path(name)) - recorded
            assert not missing, f"trial {trial}: acknowledged {name} lost {len(missing)} events"
    assert kills >= n // 2, f"only {kills} of {n} trials killed the process mid-capture"
    done = subprocess.run([*SV, "capture", str(site)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    recorded = _recorded_hashes(repo)
    for f in files:
        assert _hashes(f) <= recorded
    with repo.read() as conn:
        assert verify_chain(conn).ok
    assert rebuild(repo, actor="t").identical


def test_kill_9_during_capture_sqlite(site: Path, tmp_path: Path) -> None:
    _trials(str(tmp_path / "crash.db"), site, tmp_path, n=repetitions(8, 20), seed=1)


@pytest.mark.postgres
def test_kill_9_during_capture_postgresql(site: Path, tmp_path: Path) -> None:
    from tests.pg import pg_schema_url

    with pg_schema_url() as url:
        _trials(url, site, tmp_path, n=repetitions(8, 20), seed=2)


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find child processes")
def test_the_helper_process_dies_with_a_killed_capture(site: Path, tmp_path: Path) -> None:
    """A forked worker must not outlive its killed parent (it would wait forever)."""
    db = str(tmp_path / "r.db")
    make_repo(db)
    proc = subprocess.Popen(
        [*SV, "capture", str(site), "--db", db],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    workers: list[int] = []
    while not workers and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        workers = _children(proc.pid)
    assert workers, "capture started no helper process"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    alive = workers
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [
            w
            for w in workers
            if Path(f"/proc/{w}").exists()
            and "Z" not in Path(f"/proc/{w}/stat").read_text().rsplit(")", 1)[1].split()[0]
        ]
    assert not alive, f"helper process(es) {alive} outlived the killed capture"
