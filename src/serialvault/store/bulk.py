"""Set-based SQL helpers shared by capture, rebuild and queries.

Hot paths (capture, replay, reconcile) must not make one round trip per EPC. These
helpers move many rows per statement with the fastest mechanism each engine offers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

_SQLITE_CHUNK = 5000
_PG_CHUNK = 200_000


def select_in(
    conn: Connection,
    select_sql: str,
    column: str,
    values: Iterable[Any],
    order_by: str = "",
    group_by: str = "",
) -> list[tuple[Any, ...]]:
    """Rows of ``select_sql WHERE column IN values``, in as few queries as the engine allows.

    Runs on the driver's own cursor inside the caller's transaction: rows come back as
    plain tuples, without a result-object per row (this is on every capture batch).
    ``order_by`` (e.g. ``"parent_id, key"``) orders the rows of each query; ``group_by``
    groups them (group by ``column`` first: the values are split into several queries).
    """
    order = (f" GROUP BY {group_by}" if group_by else "") + (
        f" ORDER BY {order_by}" if order_by else ""
    )
    vals = list(values)
    if not vals:
        return []
    out: list[tuple[Any, ...]] = []
    raw: Any = conn.connection.driver_connection
    cur = raw.cursor()
    try:
        if conn.dialect.name == "postgresql":
            # One text parameter split server-side: adapting a Python list element by
            # element costs more than the query itself for tens of thousands of keys.
            # Keys never contain U+001F (GS1 character sets, percent-encoded URIs).
            ints = all(type(v) is int for v in vals)
            for i in range(0, len(vals), _PG_CHUNK):
                part = vals[i : i + _PG_CHUNK]
                if ints:
                    param = "{" + ",".join(map(str, part)) + "}"
                    cond = f"{column} = ANY(CAST(%s AS bigint[]))"
                else:
                    param = "\x1f".join(map(str, part))
                    cond = f"{column} = ANY(string_to_array(%s, chr(31)))"
                cur.execute(f"{select_sql} WHERE {cond}{order}", (param,))
                out += cur.fetchall()
            return out
        for i in range(0, len(vals), _SQLITE_CHUNK):
            part = vals[i : i + _SQLITE_CHUNK]
            marks = ",".join("?" * len(part))
            cur.execute(f"{select_sql} WHERE {column} IN ({marks}){order}", part)
            out += cur.fetchall()
        return out
    finally:
        cur.close()


def bulk_insert(conn: Connection, table: sa.Table, rows: list[tuple[Any, ...]]) -> None:
    """Insert many rows (tuples in column order) with the fastest path of the engine.

    SQLite: one prepared statement, ``executemany``. PostgreSQL: ``COPY … FROM STDIN``
    through psycopg 3, which is several times faster than batched INSERTs.
    """
    if not rows:
        return
    cols = [c.name for c in table.columns]
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        assert raw is not None
        with (
            raw.cursor() as cur,
            cur.copy(f"COPY {table.name} ({', '.join(cols)}) FROM STDIN") as cp,
        ):
            for row in rows:
                cp.write_row(row)
        return
    marks = ", ".join("?" * len(cols))
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({marks})", rows)


def bulk_update(
    conn: Connection, table: sa.Table, key: str, columns: list[str], rows: list[tuple[Any, ...]]
) -> None:
    """Update many rows by ``key``; each row is ``(*values of columns, key value)``.

    PostgreSQL: COPY into a temporary table, then one ``UPDATE … FROM`` (set-based).
    SQLite: ``executemany`` of one prepared UPDATE (no round trips in-process).
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        tmp = f"tmp_upd_{table.name}"
        types = {c.name: c.type.compile(conn.dialect) for c in table.columns}
        coldefs = ", ".join(f"{c} {types[c]}" for c in [*columns, key])
        conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {tmp} ({coldefs}) ON COMMIT DROP")
        conn.exec_driver_sql(f"TRUNCATE {tmp}")
        raw = conn.connection.driver_connection
        assert raw is not None
        with (
            raw.cursor() as cur,
            cur.copy(f"COPY {tmp} ({', '.join([*columns, key])}) FROM STDIN") as cp,
        ):
            for row in rows:
                cp.write_row(row)
        sets = ", ".join(f"{c} = t.{c}" for c in columns)
        conn.exec_driver_sql(
            f"UPDATE {table.name} SET {sets} FROM {tmp} t WHERE {table.name}.{key} = t.{key}"
        )
        return
    sets = ", ".join(f"{c} = ?" for c in columns)
    conn.exec_driver_sql(f"UPDATE {table.name} SET {sets} WHERE {key} = ?", rows)


def update_where_in(
    conn: Connection, table: sa.Table, values: dict[str, Any], column: str, keys: list[Any]
) -> None:
    """``UPDATE table SET values WHERE column IN keys`` — one statement per few thousand keys.

    For many rows that take the same new values (every unit of a shipped pallet).
    """
    if not keys:
        return
    cols = list(values)
    if conn.dialect.name == "postgresql":
        sets = ", ".join(f"{c} = %s" for c in cols)
        sql = f"UPDATE {table.name} SET {sets} WHERE {column} = ANY(CAST(%s AS bigint[]))"
        for i in range(0, len(keys), _PG_CHUNK):
            part = "{" + ",".join(map(str, keys[i : i + _PG_CHUNK])) + "}"
            conn.exec_driver_sql(sql, (*values.values(), part))
        return
    sets = ", ".join(f"{c} = ?" for c in cols)
    for i in range(0, len(keys), _SQLITE_CHUNK):
        chunk = keys[i : i + _SQLITE_CHUNK]
        marks = ",".join("?" * len(chunk))
        conn.exec_driver_sql(
            f"UPDATE {table.name} SET {sets} WHERE {column} IN ({marks})",
            (*values.values(), *chunk),
        )
