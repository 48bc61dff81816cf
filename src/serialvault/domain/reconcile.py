"""Reconciliation rules (DESIGN.md "Reconciliation rules") as pure functions.

Each rule judges facts the store has already gathered (set-based SQL, see
``serialvault.store.reconcile``) and returns a :class:`RuleResult`: rule id, title,
``pass`` / ``fail`` / ``inconclusive``, counts, and a bounded list of example identifiers
— enough for a QA reviewer to look at the records, never a dump of millions. The same
rules serve restore drills, ``serialvault reconcile`` and interface validation.

EU GMP Annex 11 §7.2 asks that the *integrity and accuracy* of restored data be checked;
these rules are that check, record by record (counts per GTIN, lot and status; the
aggregation hierarchy; master data; the audit trail's hash chain; the state fingerprint).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

PASS = "pass"
FAIL = "fail"
INCONCLUSIVE = "inconclusive"

#: Examples kept per finding: enough to look up, bounded for reports.
EXAMPLES = 10

TITLES = {
    "R1": "Counts per (GTIN, lot, status) equal the baseline",
    "R2": "Aggregation hierarchy is intact",
    "R3": "Every unit's history follows the lifecycle",
    "R4": "Master data: every GTIN, lot and expiry known and consistent",
    "R5": "The log's hash chain is intact from genesis to head",
    "R6": "The projection fingerprint equals the baseline's",
    "R7": "Cross-system: the repository agrees with the other system's EPCIS export",
    "R8": "Governance: users, roles, signatures and their records equal the baseline's",
    "R9": "Replaying the log reproduces every projection row",
}


@dataclass
class RuleResult:
    rule: str
    status: str
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    message: str = ""

    @property
    def title(self) -> str:
        return TITLES.get(self.rule, self.rule)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "title": self.title,
            "status": self.status,
            "message": self.message,
            "counts": self.counts,
            "examples": self.examples,
        }


CountKey = tuple[str, str | None, str | None]  # (gtin or kind, lot, status)


def _label(key: CountKey) -> str:
    gtin, lot, status = key
    return f"{gtin} lot {lot or '-'} {status or '-'}"


def r1_counts(
    expected: Mapping[CountKey, int], actual: Mapping[CountKey, int], limit: int = EXAMPLES
) -> RuleResult:
    """R1: the number of units per (GTIN, lot, status) — and of containers per status —
    is the same in both; every difference is a group with both numbers."""
    diffs: list[tuple[int, CountKey, int, int]] = []
    for key in set(expected) | set(actual):
        e, a = expected.get(key, 0), actual.get(key, 0)
        if e != a:
            diffs.append((abs(e - a), key, e, a))
    diffs.sort(key=lambda d: (-d[0], str(d[1])))
    missing = sum(max(0, e - a) for _, _, e, a in diffs)
    extra = sum(max(0, a - e) for _, _, e, a in diffs)
    res = RuleResult(
        "R1",
        FAIL if diffs else PASS,
        {
            "groups_expected": len(expected),
            "groups_actual": len(actual),
            "groups_differing": len(diffs),
            "units_expected": sum(expected.values()),
            "units_actual": sum(actual.values()),
            "units_missing": missing,
            "units_extra": extra,
        },
    )
    if diffs:
        res.examples["differing_groups"] = [
            f"{_label(k)}: expected {e}, found {a}" for _, k, e, a in diffs[:limit]
        ]
        res.message = (
            f"{len(diffs)} (GTIN, lot, status) group(s) differ: {missing} unit(s) missing,"
            f" {extra} extra"
        )
    return res


def find_cycles(edges: Iterable[tuple[str, str]], limit: int = EXAMPLES) -> list[list[str]]:
    """Cycles in a child → parent graph (each node at most one parent), up to ``limit``."""
    parent = dict(edges)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []
    for start in parent:
        if start in state:
            continue
        path: list[str] = []
        node: str | None = start
        while node is not None and node not in state:
            state[node] = 1
            path.append(node)
            node = parent.get(node)
        if node is not None and state.get(node) == 1 and len(cycles) < limit:
            cycles.append(path[path.index(node) :])
        for n in path:
            state[n] = 2
    return cycles


@dataclass
class HierarchyFacts:
    """What the store found about the hierarchy: per check, a count and examples."""

    units: int
    counts: dict[str, int]
    examples: dict[str, list[str]]
    container_edges: list[tuple[str, str]]  # child container → parent container


HIERARCHY_CHECKS = {
    "parent_missing": "parent does not exist",
    "active_in_decommissioned": "active unit inside a decommissioned container",
    "unshipped_in_shipped": "unit not shipped inside a shipped container",
    "unit_as_parent": "a saleable unit (SGTIN) holds other units",
}


def r2_hierarchy(facts: HierarchyFacts, limit: int = EXAMPLES) -> RuleResult:
    """R2: parents exist, no cycles, at most one parent (one ``parent_id`` column makes a
    second parent unrepresentable), no active child in a decommissioned parent, a shipped
    container's children shipped, only containers hold units."""
    cycles = find_cycles(facts.container_edges, limit)
    counts = {k: int(facts.counts.get(k, 0)) for k in HIERARCHY_CHECKS}
    counts["cycles"] = len(cycles)
    examples = {k: list(v[:limit]) for k, v in facts.examples.items() if v}
    if cycles:
        examples["cycles"] = [" → ".join([*c, c[0]]) for c in cycles]
    bad = {k: v for k, v in counts.items() if v}
    res = RuleResult("R2", FAIL if bad else PASS, {"units": facts.units, **counts}, examples)
    if bad:
        res.message = "; ".join(
            f"{v} × {HIERARCHY_CHECKS.get(k, 'cycle in the hierarchy')}" for k, v in bad.items()
        )
    return res


LIFECYCLE_CHECKS = {
    "invalid_status": "status outside the lifecycle (active, shipped, decommissioned, consumed)",
    "used_uncommissioned": "events name a unit that was never commissioned",
    "event_before_commissioning": "an event before the unit's commissioning",
    "history_mismatch": "the unit's last event is not the one its state was built from",
}


def r3_lifecycle(
    counts: Mapping[str, int], examples: Mapping[str, list[str]], limit: int = EXAMPLES
) -> RuleResult:
    """R3: each serialised unit and logistic unit went through the lifecycle in order
    (EPCIS 2.0 §7.4; CBV 2.0 §7.1): commissioned before any other event, in a status the
    lifecycle knows, and its current state built from its latest event (events declared
    erroneous, EPCIS 2.0 §7.4.1.2, are left out as the lifecycle leaves them out)."""
    c = {k: int(counts.get(k, 0)) for k in (*LIFECYCLE_CHECKS, "units")}
    bad = {k: c[k] for k in LIFECYCLE_CHECKS if c[k]}
    res = RuleResult(
        "R3", FAIL if bad else PASS, c, {k: list(v[:limit]) for k, v in examples.items() if v}
    )
    if bad:
        res.message = "; ".join(f"{v} × {LIFECYCLE_CHECKS[k]}" for k, v in bad.items())
    return res


MASTER_CHECKS = {
    "gtin_unknown": "GTIN of a unit not in product master data",
    "lot_unknown": "(GTIN, lot) of a unit not in the lots",
    "expiry_differs": "unit expiry differs from its lot's expiry",
}


def r4_master_data(
    counts: Mapping[str, int], examples: Mapping[str, list[str]], limit: int = EXAMPLES
) -> RuleResult:
    """R4: every commissioned unit's GTIN is a known product, its lot a known lot, its
    expiry the lot's (CBV 2.0 ILMD: one expiry per GTIN and lot)."""
    c = {k: int(counts.get(k, 0)) for k in (*MASTER_CHECKS, "units_without_lot", "units")}
    bad = {k: c[k] for k in MASTER_CHECKS if c[k]}
    res = RuleResult(
        "R4",
        FAIL if bad else PASS,
        c,
        {k: list(v[:limit]) for k, v in examples.items() if v},
    )
    if bad:
        res.message = "; ".join(f"{v} × {MASTER_CHECKS[k]}" for k, v in bad.items())
    return res


def r5_chain(ok: bool, records: int, head_seq: int, first_break: str | None) -> RuleResult:
    """R5: every log record's body hash and chain hash recompute, from genesis to head
    (21 CFR 11.10(e): the audit trail cannot be altered unnoticed)."""
    res = RuleResult("R5", PASS if ok else FAIL, {"records_checked": records, "head_seq": head_seq})
    if not ok:
        res.message = f"first break: {first_break}"
        res.examples["first_break"] = [str(first_break)]
    return res


def r6_fingerprint(
    expected: Mapping[str, Any] | None, actual: Mapping[str, Any], limit: int = EXAMPLES
) -> RuleResult:
    """R6: the fingerprint (per-table multiset hashes) equals the expected one; a
    difference names the tables and their row counts."""
    if expected is None:
        return RuleResult("R6", INCONCLUSIVE, message="no expected fingerprint to compare with")
    if expected.get("head_seq") != actual.get("head_seq"):
        return RuleResult(
            "R6",
            INCONCLUSIVE,
            {
                "expected_seq": int(expected.get("head_seq") or 0),
                "actual_seq": int(actual.get("head_seq") or 0),
            },
            message="the two states are at different seqs: fingerprints are not comparable",
        )
    et, at = expected.get("tables", {}), actual.get("tables", {})
    differing = sorted(t for t in set(et) | set(at) if et.get(t) != at.get(t))
    res = RuleResult(
        "R6",
        PASS if expected.get("fingerprint") == actual.get("fingerprint") else FAIL,
        {"tables": len(at), "tables_differing": len(differing)},
    )
    if res.status == FAIL:
        res.examples["tables"] = [
            f"{t}: expected {et.get(t, {}).get('rows', 0)} rows, found"
            f" {at.get(t, {}).get('rows', 0)} (sums differ)"
            for t in differing[:limit]
        ]
        res.message = f"fingerprint differs in {', '.join(differing) or 'the combination'}"
    return res


#: What R8 compares: each a mapping from an item (a user id, a signature's seq, a
#: record kind) to its canonical description.
GOVERNANCE_SECTIONS = ("accounts", "signatures", "tokens", "records")


def r8_governance(
    expected: Mapping[str, Mapping[str, str]] | None,
    actual: Mapping[str, Mapping[str, str]],
    limit: int = EXAMPLES,
) -> RuleResult:
    """R8: accounts (name, kind, status, roles, reviewer keys, password versions),
    signatures (signer, meaning, what was signed), tokens and the count of every
    governance record kind equal the baseline's — who could act and who signed what
    come back from a restore exactly (21 CFR 11.10(e), 11.70; DESIGN.md R8). R6 sees a
    difference as a changed table sum; R8 names the account or signature."""
    if expected is None:
        return RuleResult(
            "R8", INCONCLUSIVE, message="the baseline holds no governance records to compare"
        )
    counts: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    for section in GOVERNANCE_SECTIONS:
        exp, act = expected.get(section, {}), actual.get(section, {})
        counts[section] = len(act)
        wrong = []
        for key in sorted(set(exp) | set(act)):
            if exp.get(key) != act.get(key):
                wrong.append(
                    f"{key}: expected {exp.get(key, '(none)')}, found {act.get(key, '(none)')}"
                )
        if wrong:
            counts[f"{section}_differing"] = len(wrong)
            examples[section] = wrong[:limit]
    res = RuleResult("R8", FAIL if examples else PASS, counts, examples)
    if examples:
        res.message = "governance differs in " + ", ".join(sorted(examples))
    return res


def r9_projections(
    ok: bool, head_seq: int, rows: int, tables: list[str], examples: list[str]
) -> RuleResult:
    """R9: the projections equal the log replayed into a scratch database, row by row.

    What R6 cannot see: a row edited in the database file agrees with a fingerprint (or
    a baseline) taken from the same edited rows. Only the log is chained (21 CFR 11.10(e)),
    so only a replay of it shows that a projection was altered outside it.
    """
    res = RuleResult(
        "R9",
        PASS if ok else FAIL,
        {"head_seq": head_seq, "rows": rows, "tables_differing": len(tables)},
    )
    if not ok:
        res.examples = {"rows": examples[:EXAMPLES], "tables": tables}
        res.message = f"projections differ from the log in {', '.join(tables)}: " + "; ".join(
            examples[:3]
        )
    else:
        res.message = f"every projection equals the log replayed to seq {head_seq}"
    return res


UnitState = tuple[str | None, str | None, str | None]  # (status, lot, parent key)


def r7_cross_system(
    ours_events: set[str],
    theirs_events: set[str],
    ours_units: Mapping[str, UnitState],
    theirs_units: Mapping[str, UnitState],
    rejected: list[str],
    *,
    scope: str = "full",
    limit: int = EXAMPLES,
) -> RuleResult:
    """R7: events (by GS1 event hash) and units (status, lot, parent) of this repository
    against those of another system's EPCIS export — the interface validation between a
    site server (L3) and the enterprise system (L4), or with a partner.

    ``scope="export"`` compares only what the export holds (a partner's shipment): no
    event or unit is "missing" merely for being outside it.
    """
    extra_events = sorted(theirs_events - ours_events)
    missing_events = sorted(ours_events - theirs_events) if scope == "full" else []
    keys = set(theirs_units) if scope == "export" else set(ours_units) | set(theirs_units)
    missing_units: list[str] = []
    extra_units: list[str] = []
    diffs: dict[str, list[str]] = {"status": [], "lot": [], "parent": []}
    counts = {"status": 0, "lot": 0, "parent": 0}
    for key in sorted(keys):
        o, t = ours_units.get(key), theirs_units.get(key)
        if o is None:
            extra_units.append(key)
            continue
        if t is None:
            missing_units.append(key)
            continue
        for i, field_name in enumerate(("status", "lot", "parent")):
            if o[i] != t[i]:
                counts[field_name] += 1
                if len(diffs[field_name]) < limit:
                    diffs[field_name].append(f"{key}: ours {o[i]!r}, theirs {t[i]!r}")
    res = RuleResult(
        "R7",
        PASS,
        {
            "events_ours": len(ours_events),
            "events_theirs": len(theirs_events),
            "events_missing": len(missing_events),
            "events_extra": len(extra_events),
            "units_compared": len(keys),
            "units_missing": len(missing_units),
            "units_extra": len(extra_units),
            "status_differs": counts["status"],
            "lot_differs": counts["lot"],
            "parent_differs": counts["parent"],
            "documents_rejected": len(rejected),
        },
    )
    found = {
        "events_missing": missing_events,
        "events_extra": extra_events,
        "units_missing": missing_units,
        "units_extra": extra_units,
        "status_differs": diffs["status"],
        "lot_differs": diffs["lot"],
        "parent_differs": diffs["parent"],
        "documents_rejected": rejected,
    }
    res.examples = {k: v[:limit] for k, v in found.items() if v}
    bad = {k: res.counts[k] for k in found if res.counts.get(k)}
    if bad:
        res.status = FAIL
        res.message = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in bad.items())
    return res


def verdict(results: Iterable[RuleResult]) -> str:
    """``fail`` if any rule fails, else ``inconclusive`` if any is, else ``pass``."""
    statuses = {r.status for r in results}
    if FAIL in statuses:
        return FAIL
    return INCONCLUSIVE if INCONCLUSIVE in statuses else PASS
