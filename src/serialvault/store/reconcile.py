"""Gathering what the reconciliation rules judge, with set-based SQL; baselines.

The rules themselves are pure (``serialvault.domain.reconcile``); this module reads the
facts from a repository — each check one grouped or filtered scan that returns a count
and a few example keys (``count(*) OVER ()`` with ``LIMIT``), never one query per unit —
and writes and reads **baselines**: counts per (GTIN, lot, status), chain head and
fingerprint at a seq, the reference a restored copy is reconciled against in a drill.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from serialvault.domain import reconcile as rules
from serialvault.domain.reconcile import CountKey, HierarchyFacts, RuleResult
from serialvault.domain.records import GOVERNANCE_KINDS
from serialvault.errors import InputError
from serialvault.redact import redact_url
from serialvault.store import identity as ids
from serialvault.store import schema
from serialvault.store.fingerprint import (
    Fingerprint,
    ReadSource,
    fingerprint,
    fingerprint_pool,
    start_fingerprint,
)
from serialvault.store.integrity import check_projections, verify_chain
from serialvault.store.repository import Repository, read_head
from serialvault.timefmt import now_utc

BASELINE_FORMAT = "serialvault.baseline/1"
REPORT_FORMAT = "serialvault.reconciliation/1"


# --------------------------------------------------------------------------- facts


def unit_counts(conn: Connection) -> dict[CountKey, int]:
    """SGTINs per (GTIN, lot, status) and SSCCs per status: one grouped scan each."""
    u = schema.units
    out: dict[CountKey, int] = {}
    for row in conn.execute(
        sa.select(u.c.gtin, u.c.lot, u.c.status, sa.func.count())
        .where(u.c.kind == "sgtin")
        .group_by(u.c.gtin, u.c.lot, u.c.status)
    ):
        out[(str(row[0]), row[1], row[2])] = int(row[3])
    for row in conn.execute(
        sa.select(u.c.status, sa.func.count()).where(u.c.kind == "sscc").group_by(u.c.status)
    ):
        out[("SSCC", None, row[0])] = int(row[1])
    return out


def _keys_and_count(conn: Connection, query: sa.Select[Any], limit: int) -> tuple[int, list[str]]:
    """Examples (``limit`` keys) and the total count, from one scan."""
    q = query.add_columns(sa.func.count().over().label("total")).limit(limit)
    rows = conn.execute(q).all()
    return (int(rows[0][-1]) if rows else 0), [str(r[0]) for r in rows]


def hierarchy_facts(conn: Connection, limit: int = rules.EXAMPLES) -> HierarchyFacts:
    u = schema.units
    child, parent = u.alias("c"), u.alias("p")
    joined = child.join(parent, parent.c.id == child.c.parent_id)
    checks: dict[str, sa.Select[Any]] = {
        "parent_missing": sa.select(child.c.key).where(
            child.c.parent_id.is_not(None),
            ~sa.exists().where(parent.c.id == child.c.parent_id),
        ),
        "active_in_decommissioned": sa.select(child.c.key)
        .select_from(joined)
        .where(parent.c.status == "decommissioned", child.c.status == "active"),
        "unshipped_in_shipped": sa.select(child.c.key)
        .select_from(joined)
        .where(parent.c.status == "shipped", child.c.status == "active"),
    }
    counts: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    for name, q in checks.items():
        counts[name], examples[name] = _keys_and_count(conn, q, limit)
    # a cycle can only run through containers (each member has a child)
    edges = [
        (str(a), str(b))
        for a, b in conn.execute(
            sa.select(child.c.key, parent.c.key)
            .select_from(joined)
            .where(child.c.is_container == 1)
        )
    ]
    units = int(conn.execute(sa.select(sa.func.count()).select_from(u)).scalar_one())
    return HierarchyFacts(units, counts, examples, edges)


def master_facts(
    conn: Connection, limit: int = rules.EXAMPLES
) -> tuple[dict[str, int], dict[str, list[str]]]:
    """R4's facts: every count from one scan of the SGTINs joined to products and lots;
    examples are fetched only for the checks that found something."""
    u, p, lots = schema.units, schema.products, schema.lots
    sg = u.c.kind == "sgtin"
    joined = u.outerjoin(p, p.c.gtin == u.c.gtin).outerjoin(
        lots, sa.and_(lots.c.gtin == u.c.gtin, lots.c.lot == u.c.lot)
    )
    conditions = {
        "units_without_lot": u.c.lot.is_(None),
        "gtin_unknown": p.c.gtin.is_(None),
        "lot_unknown": sa.and_(u.c.lot.is_not(None), lots.c.gtin.is_(None)),
        "expiry_differs": sa.and_(
            lots.c.gtin.is_not(None), u.c.expiry.is_distinct_from(lots.c.expiry)
        ),
    }

    def total(cond: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((cond, 1), else_=0)), 0)

    row = conn.execute(
        sa.select(sa.func.count(), *(total(c) for c in conditions.values()))
        .select_from(joined)
        .where(sg)
    ).one()
    counts = {"units": int(row[0])}
    counts.update({k: int(v) for k, v in zip(conditions, row[1:], strict=True)})
    examples: dict[str, list[str]] = {}
    for name in ("gtin_unknown", "lot_unknown", "expiry_differs"):
        if counts[name]:
            q = sa.select(u.c.key).select_from(joined).where(sg, conditions[name]).limit(limit)
            examples[name] = [str(r[0]) for r in conn.execute(q)]
    return counts, examples


@dataclass
class _PendingConsistent:
    repo: Repository
    conn: Connection
    head: Any
    pool: Any
    pending: Any
    check_head: bool

    def result(self) -> Fingerprint:
        try:
            fp: Fingerprint | None = self.pending.result() if self.pending else None
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True, cancel_futures=True)
        if fp is not None and (not self.check_head or self.repo.head() == self.head):
            return fp
        return fingerprint(self.conn)


def start_consistent_fingerprint(repo: Repository, conn: Connection) -> _PendingConsistent:
    """Start hashing ``conn``'s state in worker processes where that is sound; the
    caller's thread is free until :meth:`result`.

    PostgreSQL: the workers import ``conn``'s exported snapshot. SQLite: each worker reads
    in its own transaction; every change to a projection appends to the log in the same
    transaction (DESIGN.md principle 1), so an unchanged head after the workers finish
    proves they all saw ``conn``'s state — otherwise it is recomputed in ``conn``.
    """
    from serialvault.store.engine import sqlite_path

    head = read_head(conn)
    pool = fingerprint_pool()
    if pool is None:
        return _PendingConsistent(repo, conn, head, None, None, False)
    if repo.dialect == "postgresql":
        snap = str(conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one())
        source = ReadSource(url=repo.url, snapshot=snap)
        return _PendingConsistent(
            repo, conn, head, pool, start_fingerprint(conn, source, pool), False
        )
    path = sqlite_path(repo.url)
    if path is None:
        pool.shutdown()
        return _PendingConsistent(repo, conn, head, None, None, False)
    pending = start_fingerprint(conn, ReadSource(sqlite_file=str(path)), pool)
    return _PendingConsistent(repo, conn, head, pool, pending, True)


def lifecycle_facts(
    conn: Connection, limit: int = rules.EXAMPLES
) -> tuple[dict[str, int], dict[str, list[str]]]:
    """R3's facts from one grouped scan of the unit↔event links (events declared
    erroneous left out): each unit's first and last event against its commissioning and
    its ``last_seq``."""
    known = "('active', 'shipped', 'decommissioned', 'consumed')"
    history = (
        "WITH h AS (SELECT e.unit_id AS uid, min(e.seq) AS first_seq, max(e.seq) AS last_seq"
        " FROM event_epcs e JOIN events ev ON ev.seq = e.seq"
        " WHERE ev.declared_by_seq IS NULL GROUP BY e.unit_id)"
    )
    flags = {
        "invalid_status": f"u.status IS NOT NULL AND u.status NOT IN {known}",
        "used_uncommissioned": "u.commissioned_seq IS NULL AND h.uid IS NOT NULL",
        "event_before_commissioning": "h.first_seq < u.commissioned_seq",
        "history_mismatch": "u.commissioned_seq IS NOT NULL AND h.last_seq <> u.last_seq",
    }
    sums = ", ".join(
        f"coalesce(sum(CASE WHEN {cond} THEN 1 ELSE 0 END), 0)" for cond in flags.values()
    )
    base = " FROM units u LEFT JOIN h ON h.uid = u.id WHERE u.kind IN ('sgtin', 'sscc')"
    row = conn.execute(sa.text(f"{history} SELECT count(*), {sums}{base}")).one()
    counts = {"units": int(row[0])}
    counts.update({name: int(v) for name, v in zip(flags, row[1:], strict=True)})
    examples: dict[str, list[str]] = {}
    for name, cond in flags.items():
        if counts[name]:
            rows = conn.execute(
                sa.text(
                    f"{history} SELECT u.key{base} AND ({cond}) ORDER BY u.id LIMIT {int(limit)}"
                )
            ).all()
            examples[name] = [str(r[0]) for r in rows]
    return counts, examples


def consistent_fingerprint(repo: Repository, conn: Connection) -> Fingerprint:
    """The fingerprint of ``conn``'s state (see :func:`start_consistent_fingerprint`)."""
    return start_consistent_fingerprint(repo, conn).result()


# --------------------------------------------------------------------------- baseline


@dataclass
class Baseline:
    """The reference state a restored copy is reconciled against."""

    repository_id: str | None
    head_seq: int
    chain_head: str
    fingerprint: dict[str, Any]
    counts: dict[CountKey, int]
    created_at: str = field(default_factory=now_utc)
    source: str = ""
    #: R8's facts (``governance_facts``); ``None`` in a baseline from before accounts.
    governance: dict[str, dict[str, str]] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": BASELINE_FORMAT,
            "created_at": self.created_at,
            "source": self.source,
            "repository_id": self.repository_id,
            "head_seq": self.head_seq,
            "chain_head": self.chain_head,
            "fingerprint": self.fingerprint,
            "counts": [[g, lot, s, n] for (g, lot, s), n in sorted(self.counts.items(), key=str)],
            "governance": self.governance,
        }

    @classmethod
    def from_dict(cls, d: Any, where: str = "baseline") -> Baseline:
        if not isinstance(d, dict) or d.get("format") != BASELINE_FORMAT:
            raise InputError(f"{where} is not a {BASELINE_FORMAT} document")
        try:
            counts = {(str(g), lot, s): int(n) for g, lot, s, n in d["counts"]}
            return cls(
                repository_id=d.get("repository_id"),
                head_seq=int(d["head_seq"]),
                chain_head=str(d["chain_head"]),
                fingerprint=dict(d["fingerprint"]),
                counts=counts,
                created_at=str(d.get("created_at", "")),
                source=str(d.get("source", "")),
                governance=_governance_of(d.get("governance")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{where}: missing or malformed field ({exc})") from None


def _governance_of(raw: Any) -> dict[str, dict[str, str]] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise InputError("baseline: governance must map each section to an object")
    return {str(k): {str(i): str(x) for i, x in v.items()} for k, v in raw.items()}


def governance_facts(conn: Connection) -> dict[str, dict[str, str]]:
    """R8's facts: each account, signature and token as one canonical line, and how many
    records of each governance kind the log holds (one read, a few hundred rows)."""
    accounts = {}
    for a in ids.accounts(conn):
        versions = len(ids.password_hashes(conn, a.user_id, 1_000_000))
        accounts[a.user_id] = (
            f"{a.name} | {a.kind} | {a.status} | {','.join(a.roles)} | keys"
            f" {','.join(a.reviewer_keys) or '-'} | {versions} password(s)"
        )
    signatures = {
        str(x.seq): f"{x.signer} ({x.name}) {x.meaning} {x.subject} {x.sha256}"
        for x in ids.signatures(conn)
    }
    t = schema.tokens
    tokens = {
        str(r.token_id): f"{r.user_id} revoked at {r.revoked_seq}" if r.revoked_seq else r.user_id
        for r in conn.execute(sa.select(t.c.token_id, t.c.user_id, t.c.revoked_seq))
    }
    lg = schema.log
    rows = conn.execute(
        sa.select(lg.c.kind, sa.func.count())
        .where(lg.c.kind.in_(GOVERNANCE_KINDS))
        .group_by(lg.c.kind)
    )
    records = {str(k): str(n) for k, n in rows}
    return {"accounts": accounts, "signatures": signatures, "tokens": tokens, "records": records}


def take_baseline(repo: Repository) -> Baseline:
    """Counts, chain head, fingerprint and governance facts of one consistent read."""
    with repo.read() as conn:
        head = read_head(conn)
        counts = unit_counts(conn)
        fp = consistent_fingerprint(repo, conn)
        gov = governance_facts(conn)
        rid = conn.execute(
            sa.select(schema.meta.c.value).where(schema.meta.c.key == "repository_id")
        ).scalar()
    return Baseline(
        rid,
        head.seq,
        head.chain_hash,
        fp.to_dict(),
        counts,
        source=repo.display_url,
        governance=gov,
    )


def load_baseline(data: bytes, where: str) -> Baseline:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{where} is not JSON: {exc}") from None
    return Baseline.from_dict(doc, where)


# --------------------------------------------------------------------------- run


@dataclass
class Report:
    target: str
    against: str
    results: list[RuleResult]
    units: int
    seconds: float
    head_seq: int
    #: the exceptions the failed rules opened or were linked to (EX-n)
    exceptions: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return rules.verdict(self.results)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "target": self.target,
            "against": redact_url(self.against),
            "verdict": self.verdict,
            "head_seq": self.head_seq,
            "units": self.units,
            "seconds": round(self.seconds, 3),
            "units_per_s": round(self.units / self.seconds) if self.seconds else None,
            "rules": [r.to_dict() for r in self.results],
            "exceptions": self.exceptions,
        }


def reconcile(
    repo: Repository,
    expected: Baseline,
    *,
    against: str,
    limit: int = rules.EXAMPLES,
    on_rule: Callable[[str], None] | None = None,
    known_fingerprint: str | None = None,
    lifecycle: bool = False,
    projections: bool = False,
) -> Report:
    """Run R1, R2, R4, R5 and R6 on ``repo`` against ``expected`` (one consistent read);
    with ``lifecycle``, R3 too (a grouped scan of every unit↔event link, about as costly
    as the other rules' own scans: 1.7 s more at 1M units, so it is asked for); with
    ``projections``, R9 (the log replayed into a scratch database, every projection
    compared: a rebuild's cost, so it is asked for too).

    ``known_fingerprint``: the fingerprint of this very state, already computed (a
    restore's check computes it on the database it has just built). When it equals the
    expected one, R6 passes without hashing every row again; otherwise the fingerprint
    is recomputed so that the differing tables can be named.
    """
    t0 = time.perf_counter()
    step = on_rule or (lambda _r: None)
    results: list[RuleResult] = []
    with repo.read() as conn:
        head = read_head(conn)
        # the fingerprint (R6) is hashed by worker processes while this one runs R1–R5
        reuse = (
            known_fingerprint is not None
            and known_fingerprint == expected.fingerprint.get("fingerprint")
            and head.seq == expected.head_seq
        )
        pending = None if reuse else start_consistent_fingerprint(repo, conn)
        step("R1")
        results.append(rules.r1_counts(expected.counts, unit_counts(conn), limit))
        step("R2")
        facts = hierarchy_facts(conn, limit)
        results.append(rules.r2_hierarchy(facts, limit))
        if lifecycle:
            step("R3")
            results.append(rules.r3_lifecycle(*lifecycle_facts(conn, limit), limit=limit))
        step("R4")
        results.append(rules.r4_master_data(*master_facts(conn, limit), limit=limit))
        step("R5")
        audit = verify_chain(conn)
        results.append(
            rules.r5_chain(
                audit.ok,
                audit.checked,
                audit.head_seq,
                None if audit.first_break is None else str(audit.first_break),
            )
        )
        step("R6")
        actual = expected.fingerprint if pending is None else pending.result().to_dict()
        r6 = rules.r6_fingerprint(expected.fingerprint, actual, limit)
        if pending is None:
            r6.message = "equal to the fingerprint the restore computed of this state"
        if r6.status == rules.PASS and head.chain_hash != expected.chain_head:
            r6 = RuleResult(
                "R6",
                rules.FAIL,
                r6.counts,
                {"chain_head": [f"expected {expected.chain_head}, found {head.chain_hash}"]},
                "same fingerprint but a different chain head",
            )
        results.append(r6)
        step("R8")
        results.append(rules.r8_governance(expected.governance, governance_facts(conn), limit))
        if projections:
            step("R9")
            pc = check_projections(conn)
            results.append(
                rules.r9_projections(
                    pc.ok, pc.head_seq, pc.rows_compared, pc.tables_differing, pc.examples
                )
            )
    return Report(
        repo.display_url, against, results, facts.units, time.perf_counter() - t0, head.seq
    )


# --------------------------------------------------------------------------- R7


def _unit_states(conn: Connection) -> dict[str, rules.UnitState]:
    u = schema.units
    p = u.alias("p")
    rows = conn.execute(
        sa.select(u.c.key, u.c.status, u.c.lot, p.c.key)
        .select_from(u.outerjoin(p, p.c.id == u.c.parent_id))
        .where(u.c.kind.in_(("sgtin", "sscc")))
    )
    return {str(r[0]): (r[1], r[2], r[3]) for r in rows}


def _event_hashes(conn: Connection) -> set[str]:
    e = schema.events
    return {str(r[0]) for r in conn.execute(sa.select(e.c.event_hash))}


def cross_system(
    repo: Repository,
    export: list[Path],
    workdir: Path,
    *,
    scope: str = "full",
    actor: str = "reconcile",
    limit: int = rules.EXAMPLES,
) -> Report:
    """R7: capture the other system's EPCIS export into a scratch repository (with this
    repository's product master data), then compare events and units.

    The export goes through the same validation and business rules as any capture, so a
    document the rules reject is itself a finding (named, with its reason).
    """
    from serialvault.store.capture import Capturer
    from serialvault.store.masterdata import add_product
    from serialvault.store.projector import load_products

    if scope not in ("full", "export"):
        raise InputError(f"--scope {scope!r}: use full or export")
    t0 = time.perf_counter()
    scratch = Repository.open(str(workdir / "export.db"), must_exist=False)
    scratch.init(actor, "scratch repository for cross-system reconciliation")
    with repo.read() as conn:
        gtins = [str(r[0]) for r in conn.execute(sa.select(schema.products.c.gtin))]
        products = load_products(conn, gtins)
    reason = "product master data copied from the repository for R7"
    for product, _v in products.values():  # a document header adds none (change control)
        add_product(scratch, product, actor=actor, reason=reason)
    rejected: list[str] = []
    cap = Capturer(scratch, actor=actor, reason="cross-system reconciliation")
    for path, outcome in cap.capture_files(export, parallel=False):
        if isinstance(outcome, Exception):
            rejected.append(f"{path.name}: {outcome}")
    with repo.read() as conn:
        head = read_head(conn)
        ours_e, ours_u = _event_hashes(conn), _unit_states(conn)
    with scratch.read() as conn:
        theirs_e, theirs_u = _event_hashes(conn), _unit_states(conn)
    scratch.engine.dispose()
    result = rules.r7_cross_system(
        ours_e, theirs_e, ours_u, theirs_u, rejected, scope=scope, limit=limit
    )
    return Report(
        repo.display_url,
        ", ".join(str(p) for p in export),
        [result],
        len(ours_u),
        time.perf_counter() - t0,
        head.seq,
    )


# --------------------------------------------------------------------------- state at a seq


def replay_into_sqlite(source: Repository, seq: int, dest_path: Path, batch: int = 5000) -> None:
    """A new SQLite repository at ``dest_path`` holding ``source``'s log records 1..seq,
    their projections rebuilt by the code ``rebuild`` uses (DESIGN.md R6, R9)."""
    from serialvault.store.integrity import replay
    from serialvault.store.repository import insert_log, iter_log, migrate_on

    for p in (dest_path, Path(f"{dest_path}-wal"), Path(f"{dest_path}-shm")):
        p.unlink(missing_ok=True)
    dest = Repository.open(str(dest_path), must_exist=False)
    try:
        with dest.write_raw() as conn:
            migrate_on(conn)
            with source.read() as src:
                meta = [
                    {"key": str(r[0]), "value": str(r[1])}
                    for r in src.execute(sa.select(schema.meta.c.key, schema.meta.c.value))
                    if str(r[0]) in ("format", "repository_id", "created_at")
                ]
                conn.execute(schema.meta.insert(), meta)
                run: list[Any] = []
                for record in iter_log(src, 1, seq):
                    run.append(record)
                    if len(run) >= batch:
                        insert_log(conn, run)
                        replay(conn, iter(run), parallel=False)
                        run = []
                if run:
                    insert_log(conn, run)
                    replay(conn, iter(run), parallel=False)
    finally:
        dest.engine.dispose()


def baseline_at(source: Repository, seq: int, scratch: Path, batch: int = 5000) -> Baseline:
    """The baseline of ``source`` as it was at ``seq``, independent of any backup: its
    own log records 1..seq replayed into a scratch SQLite repository by the code
    ``rebuild`` uses (DESIGN.md R6: replaying the log reproduces the projections).

    What a drill compares a restore to a past point with (bad change, lost increment,
    writes after the last backup), where the live repository has moved on.
    """
    replay_into_sqlite(source, seq, scratch, batch)
    dest = Repository.open(str(scratch))
    try:
        return take_baseline(dest)
    finally:
        dest.engine.dispose()
        for p in (scratch, Path(f"{scratch}-wal"), Path(f"{scratch}-shm")):
            p.unlink(missing_ok=True)
