"""The fingerprint computed by worker processes equals the serial one, on both engines;
on PostgreSQL the workers see the caller's exported snapshot, not later commits."""

from __future__ import annotations

from pathlib import Path

import pytest

from serialvault.store.fingerprint import (
    ReadSource,
    fingerprint,
    fingerprint_parallel,
    fingerprint_pool,
    start_fingerprint,
)
from tests.backup.conftest import grow, new_repo
from tests.pg import pg_schema_url


def test_parallel_equals_serial_on_a_sqlite_file(tmp_path: Path) -> None:
    repo = new_repo(str(tmp_path / "r.db"))
    grow(repo, 300, products=True)
    grow(repo, 7)
    with repo.read() as conn:
        serial = fingerprint(conn)
        for workers in (1, 2, 3):
            par = fingerprint_parallel(
                conn, ReadSource(sqlite_file=str(tmp_path / "r.db")), workers
            )
            assert par.value == serial.value
            assert par.tables == serial.tables
            assert par.head_seq == serial.head_seq


@pytest.mark.postgres
def test_parallel_workers_read_the_exported_snapshot_on_postgresql() -> None:
    with pg_schema_url() as url:
        repo = new_repo(url)
        grow(repo, 200, products=True)
        pool = fingerprint_pool(2)
        assert pool is not None
        with pool, repo.read() as conn:
            snap = str(conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one())
            serial = fingerprint(conn)
            grow(repo, 50)  # committed meanwhile: invisible to this snapshot
            pending = start_fingerprint(conn, ReadSource(url=url, snapshot=snap), pool)
            assert pending.result().value == serial.value
        with repo.read() as conn:
            assert fingerprint(conn).value != serial.value


def test_an_empty_repository_has_the_same_fingerprint_either_way(tmp_path: Path) -> None:
    repo = new_repo(str(tmp_path / "e.db"))
    with repo.read() as conn:
        par = fingerprint_parallel(conn, ReadSource(sqlite_file=str(tmp_path / "e.db")))
        assert par.value == fingerprint(conn).value
