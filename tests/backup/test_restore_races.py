"""A restore into a live repository never costs an acknowledged capture.

Once a capture says "recorded, head seq N", that record is in the repository — even
when a restore replaces the file or the database at the same moment. The writer takes
the restore's lock into account: a restore waits for an active writer, and a writer
that waited for the restore (or whose file was moved away under it) refuses instead of
acknowledging into a file that is no longer the repository.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from serialvault.backup import restore as rs
from serialvault.backup import take
from serialvault.backup.crypto import load_encryption_key, load_verify_key
from serialvault.domain.records import DRILL_RUN
from serialvault.errors import OlderRecoveryPoint, SerialvaultError, StoreError
from serialvault.store.integrity import verify_chain
from serialvault.store.repository import Repository, replacing_sqlite
from tests import builders as b
from tests.backup.conftest import copy_of, grow, new_repo, policy_for

_WRITER = """
import sys, signal
from serialvault.errors import SerialvaultError
from serialvault.store.repository import Repository
from tests import builders as b
from tests.backup.conftest import capture
# a flag, not sys.exit from the handler: a SystemExit raised inside the driver's
# connect is turned into an ordinary connection error there, and the loop would go on
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
url, w = sys.argv[1], sys.argv[2]
n = 0
while not stop:
    n += 1
    epcs = [b.sgtin(f"RACE{w}N{n}X{i}") for i in range(3)]
    try:
        capture(Repository.open(url), b.commission(epcs))
    except SerialvaultError:
        continue  # refused (a restore in progress, the file replaced): not acknowledged
    except Exception:
        continue  # a database error is a refusal too: nothing was acknowledged
    print(epcs[0], flush=True)  # acknowledged
"""


def _append(repo: Repository, note: str) -> int:
    with repo.write() as (_conn, log):
        return log.append(DRILL_RUN, {"note": note}, "tester@test", "race").seq


def test_a_writer_that_waited_for_the_swap_records_nothing(tmp_path: Path) -> None:
    live = tmp_path / "live.db"
    repo = new_repo(str(live))
    replacement = tmp_path / "other.db"
    shutil.copy(live, replacement)
    outcome: list[object] = []

    def writer() -> None:
        try:
            outcome.append(_append(Repository(repo.url), "waited"))
        except SerialvaultError as exc:
            outcome.append(exc)

    with replacing_sqlite(live) as existing:
        assert existing.head is not None
        assert existing.head.seq == 1
        t = threading.Thread(target=writer)
        t.start()
        time.sleep(0.5)  # the writer is now blocked on the old file's lock
        assert not outcome
        existing.swap(replacement)
    t.join(30)
    assert len(outcome) == 1
    assert isinstance(outcome[0], StoreError), outcome
    assert "nothing was recorded" in str(outcome[0])
    assert Repository.open(str(live)).head().seq == 1  # the new file: untouched


def test_a_writer_never_acknowledges_into_a_file_moved_away(tmp_path: Path) -> None:
    live = tmp_path / "live.db"
    repo = new_repo(str(live))
    shutil.copy(live, tmp_path / "twin.db")
    with (  # noqa: PT012 - the replacement happens inside the transaction
        pytest.raises(StoreError, match="was replaced while this command had it open"),
        repo.write() as (_conn, log),
    ):
        log.append(DRILL_RUN, {"note": "late"}, "tester@test", "race")
        (tmp_path / "twin.db").replace(live)  # an operator's mv, mid-transaction
    assert Repository.open(str(live)).head().seq == 1


def test_a_repository_being_restored_refuses_writers(tmp_path: Path) -> None:
    repo = new_repo(str(tmp_path / "live.db"))
    with repo.write_raw() as conn:
        conn.exec_driver_sql("INSERT INTO meta(key, value) VALUES ('restore_state', 'loading')")
    with pytest.raises(StoreError, match="being restored"):
        _append(Repository(repo.url), "no")


@pytest.mark.parametrize(
    "engine", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_captures_during_a_restore_are_never_acknowledged_then_lost(
    engine: str, tmp_path: Path, keys: dict[str, str]
) -> None:
    from tests.pg import pg_schema_url

    def run(url: str) -> None:
        repo = new_repo(url)
        grow(repo, products=True)
        copy = (tmp_path / "copy").as_uri()
        pol = policy_for(keys)
        take.full_backup(repo, pol, [copy_of(copy)], actor="t")
        # writers are other processes, as captures are (a fork of this process while
        # a thread of it held a library lock would deadlock the restore's workers)
        writers = [
            subprocess.Popen(
                [sys.executable, "-c", _WRITER, url, str(w)],
                stdout=subprocess.PIPE,
                text=True,
                cwd=Path(__file__).resolve().parents[2],
            )
            for w in range(2)
        ]
        outcomes: list[object] = []
        try:
            for _ in range(4):
                time.sleep(0.3)
                try:
                    outcomes.append(
                        rs.restore(
                            [copy_of(copy)],
                            url,
                            verify_key=load_verify_key(keys["public_key"]),
                            key=load_encryption_key(keys["encryption_key"]),
                            force=True,
                        ).head_seq
                    )
                except OlderRecoveryPoint as exc:  # captures got in first: refused, fine
                    outcomes.append(exc)
                take.full_backup(Repository.open(url), pol, [copy_of(copy)], actor="t")
        finally:
            for w in writers:
                w.terminate()
        acked = []
        for w in writers:
            try:
                out = w.communicate(timeout=60)[0]
            except subprocess.TimeoutExpired:
                w.kill()
                raise
            acked += [line.strip() for line in out.splitlines()]
        final = Repository.open(url)
        with final.read() as conn:
            assert verify_chain(conn).ok
            keys_present = {str(r[0]) for r in conn.exec_driver_sql("SELECT key FROM units").all()}
        assert acked, "the writers captured nothing: the test proved nothing"
        lost = [e for e in acked if b.dl(e) not in keys_present and e not in keys_present]
        assert not lost, f"{len(lost)} acknowledged captures are not in the repository"
        assert outcomes

    if engine == "sqlite":
        run(str(tmp_path / "live.db"))
    else:
        with pg_schema_url() as url:
            run(url)
