"""Sandbox copies of a repository, and the faults drills inject into them.

Drills never touch the live primary (DESIGN.md "Drills"): they copy it and damage the
copy. The damage is what an unlucky operator or an attacker with write access to the
database file would do — flipped bytes in random pages; a projection row edited in
place; a log body edited; the log rewritten from one record on with every chain hash
recomputed; the newest record deleted — so the evidence shows which check catches each.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import orjson
from sqlalchemy.exc import SQLAlchemyError

from serialvault.domain.chain import body_hash, chain_hash
from serialvault.errors import StoreError
from serialvault.store import schema
from serialvault.store.engine import sqlite_path
from serialvault.store.export import copy_sqlite
from serialvault.store.repository import Repository

TAMPER_KINDS = ("projection", "log-body", "log-rewrite", "truncate")


def clone_primary(repo: Repository, dest: Path) -> None:
    """A sandbox SQLite copy of ``repo``: the file itself for SQLite, the log replayed
    into a fresh file for PostgreSQL (the same records, projections and fingerprint)."""
    path = sqlite_path(repo.url)
    if path is not None:
        copy_sqlite(path, dest)
        return
    from serialvault.store.reconcile import replay_into_sqlite

    replay_into_sqlite(repo, repo.head().seq, dest)


def _data_pages(con: sqlite3.Connection) -> list[int] | None:
    """Pages of the b-trees that hold the record — the log, the projections and their
    indexes — that hold cells (``dbstat``); ``None`` where SQLite lacks ``dbstat``.
    Working state (sessions), the schema version and the repository's identity row are
    not the record the drill proves."""
    record = {"log", *(t.name for t in schema.PROJECTIONS)}
    trees = {
        str(name)
        for name, table in con.execute("SELECT name, tbl_name FROM sqlite_master")
        if table in record
    }
    try:
        rows = con.execute(
            "SELECT name, pageno FROM dbstat WHERE ncell > 0 AND pagetype IN ('leaf', 'internal')"
        ).fetchall()
    except sqlite3.OperationalError:
        return None
    return sorted({int(p) for name, p in rows if name in trees and int(p) != 1})


def _cell_bytes(page: bytes) -> list[int]:
    """Offsets in a b-tree page that hold cells: the cell content area (its start in
    header bytes 5-6, 0 meaning 65536; SQLite file format §1.6) less the freeblocks
    chained from header bytes 1-2 (space freed by an update or delete: no data)."""
    size = len(page)
    start = int.from_bytes(page[5:7], "big") or 65536
    free: set[int] = set()
    block = int.from_bytes(page[1:3], "big")
    while 0 < block < size - 4 and block not in free:
        length = int.from_bytes(page[block + 2 : block + 4], "big")
        free.update(range(block, min(size, block + max(length, 4))))
        block = int.from_bytes(page[block : block + 2], "big")
    cells = [i for i in range(start, size) if i not in free] if 8 <= start < size else []
    return cells or list(range(8, size))


def corrupt_pages(src: Path, dest: Path, pages: int, rnd: random.Random) -> list[int]:
    """A consistent copy of ``src`` with one byte flipped in each of ``pages`` random pages
    that hold the record's rows, inside the page's cell content area — the bytes that are
    data, so that every flip is damage to be found (a flip in a page's unused space or
    on a free page damages nothing, and a drill that counted it as "not found" would
    blame the checks for the fault model). Never page 1, the header: the damage is in
    the data rather than a refusal to open. Returns the page numbers damaged."""
    copy_sqlite(src, dest)
    size = dest.stat().st_size
    with sqlite3.connect(dest) as con:
        page_size = int(con.execute("PRAGMA page_size").fetchone()[0])
        candidates = _data_pages(con)
    if candidates is None:
        candidates = list(range(2, size // page_size + 1))
    chosen = sorted(rnd.sample(candidates, min(pages, len(candidates))))
    with dest.open("r+b") as fh:
        for page in chosen:
            fh.seek((page - 1) * page_size)
            offset = (page - 1) * page_size + rnd.choice(_cell_bytes(fh.read(page_size)))
            fh.seek(offset)
            byte = fh.read(1)
            fh.seek(offset)
            fh.write(bytes([byte[0] ^ 0xFF]))
    return chosen


def integrity_check(path: Path) -> str | None:
    """SQLite's own page-level check: ``None`` when it says ok, else its first complaint."""
    with sqlite3.connect(path) as con:
        problems = [r[0] for r in con.execute("PRAGMA integrity_check(20)")]
    return None if problems == ["ok"] else str(problems[0])


def tamper(path: Path, kind: str, rnd: random.Random) -> str:
    """Damage the sandbox repository at ``path`` as ``kind`` says; returns what was done."""
    if kind not in TAMPER_KINDS:
        raise StoreError(f"unknown tampering {kind!r}: use one of {', '.join(TAMPER_KINDS)}")
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        head = con.execute("SELECT max(seq) FROM log").fetchone()[0] or 0
        if head < 3:
            raise StoreError("the repository is too small to tamper with (fewer than 3 records)")
        if kind == "projection":
            row = (
                con.execute(
                    "SELECT id, key, status FROM units"
                    " WHERE status IN ('shipped', 'decommissioned')"
                    " ORDER BY id LIMIT 1"
                ).fetchone()
                or con.execute(
                    "SELECT id, key, status FROM units WHERE status IS NOT NULL ORDER BY id LIMIT 1"
                ).fetchone()
            )
            if row is None:
                raise StoreError("no unit to tamper with")
            new = "active" if row[2] != "active" else "shipped"
            con.execute("UPDATE units SET status = ? WHERE id = ?", (new, row[0]))
            done = f"units.status of {row[1]} changed from {row[2]} to {new} in the file"
        elif kind == "log-body":
            seq = rnd.randint(2, head - 1)
            body = con.execute("SELECT body FROM log WHERE seq = ?", (seq,)).fetchone()[0]
            doc = orjson.loads(body)
            doc["tampered"] = True
            con.execute("UPDATE log SET body = ? WHERE seq = ?", (orjson.dumps(doc).decode(), seq))
            done = f"the body of log record seq {seq} edited (hashes left as they were)"
        elif kind == "log-rewrite":
            seq = rnd.randint(2, head - 1)
            rows = con.execute(
                "SELECT seq, recorded_at, kind, actor, reason, body FROM log WHERE seq >= ?"
                " ORDER BY seq",
                (seq,),
            ).fetchall()
            prev = con.execute("SELECT chain_hash FROM log WHERE seq = ?", (seq - 1,)).fetchone()[0]
            for s, at, k, actor, reason, body in rows:
                actor = "mallory@forged" if s == seq else actor
                bh = body_hash(body.encode("utf-8"))
                prev = chain_hash(prev, s, at, k, actor, reason, bh)
                con.execute(
                    "UPDATE log SET actor = ?, body_hash = ?, chain_hash = ? WHERE seq = ?",
                    (actor, bh, prev, s),
                )
            done = (
                f"log rewritten from seq {seq}: its actor changed and every chain hash from"
                f" there to seq {head} recomputed"
            )
        else:
            con.execute("DELETE FROM log WHERE seq = ?", (head,))
            done = f"log record seq {head} (the newest) deleted"
        con.execute("COMMIT")
        return done
    finally:
        con.close()


#: What reading a damaged SQLite file can raise (drills count it as detection).
DatabaseError = sqlite3.DatabaseError
SQLITE_VERSION = sqlite3.sqlite_version
StoreFailure = SQLAlchemyError
