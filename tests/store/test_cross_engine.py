"""The same log gives the same projections on SQLite and on PostgreSQL.

A site is captured into SQLite; its log is copied record for record into an empty
PostgreSQL schema and replayed there. The chain verifies on PostgreSQL and the
fingerprint — every projection row — is identical: surrogate ids, timestamps, hashes
and the fingerprint's canonical rows do not depend on the engine.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from serialvault.demo.generator import SiteConfig, SiteGenerator
from serialvault.store import schema
from serialvault.store.capture import Capturer
from serialvault.store.fingerprint import fingerprint
from serialvault.store.integrity import replay, verify_chain
from serialvault.store.repository import Repository, insert_log, iter_log
from tests import builders as b
from tests.pg import pg_schema_url


@pytest.mark.postgres
def test_sqlite_log_replayed_on_postgresql_gives_the_same_fingerprint(tmp_path: Path) -> None:
    src = Repository.open(str(tmp_path / "src.db"), must_exist=False)
    src.init("t")
    cap = Capturer(src, actor="t")
    b.register_site(src, SiteConfig(units=3000, seed=11, max_epcs=3000))
    for name, doc in SiteGenerator(SiteConfig(units=3000, seed=11, max_epcs=3000)).run():
        cap.capture_bytes(orjson.dumps(doc), name)
    # an error declaration and a rejected document take part too
    u = b.sgtin("X1")
    shipment = b.ship([u])
    cap.capture_bytes(
        b.document(b.commission([u], lot="L00001", expiry="2028-01-31")), "late.jsonld"
    )
    with pytest.raises(Exception, match="rejected"):
        cap.capture_bytes(b.document(b.observe([b.sgtin("NOPE")])), "bad.jsonld")
    cap.capture_bytes(b.document(shipment), "ship.jsonld")
    cap.capture_bytes(b.document(b.declare_error(shipment)), "declare.jsonld")
    with src.read() as conn:
        expected = fingerprint(conn)
        records = list(iter_log(conn))
        meta = conn.execute(sa.select(schema.meta)).all()
    with pg_schema_url() as url:
        dst = Repository.open(url, must_exist=False)
        dst.migrate()
        with dst.write() as (conn, _app):
            conn.execute(schema.meta.insert(), [dict(r._mapping) for r in meta])
            insert_log(conn, records)
            replay(conn, iter_log(conn))
        with dst.read() as conn:
            assert verify_chain(conn).ok
            got = fingerprint(conn)
    assert got.tables == expected.tables
    assert got.value == expected.value
