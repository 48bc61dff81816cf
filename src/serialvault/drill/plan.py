"""Drill plans: what a backup/restore drill proves, against which objectives.

A plan is a TOML file under change control (EU GMP Annex 11 §10: changes made in a
controlled manner; §7.2: the ability to restore checked periodically). It names the
scenario, the objectives (RTO, RPO, zero loss), where the data comes from and where it is
restored to (always a scratch database, never the live repository), the recovery point,
the reconciliation rules, how often it is due, and who must review it. Every version of
a plan that is used is recorded in the repository's log — who, when, why, and the
SHA-256 of the file — so an inspector can see which plan a drill ran under.

This module is pure: it parses and validates text and renders the template.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

from serialvault.errors import InputError
from serialvault.redact import has_secret, redact_url

FORMAT = "serialvault.drill-plan/1"

#: Scenario → what it simulates (DESIGN.md "Drills"; the issue's list).
SCENARIOS: dict[str, str] = {
    "primary-loss": "the primary database is lost; restore the newest backup",
    "corruption": "random pages of a sandbox copy of the database are damaged; detect, restore",
    "lost-latest-increment": "the newest incremental is lost; restore from what remains",
    "onsite-copy-lost": "the on-site copy is lost; restore from the cloud (S3) copy",
    "ransomware": "the primary and the on-site copy are unreadable; restore from the cloud",
    "bad-change": "a bad change was made; restore to the point before it",
    "tampered-backup": "a backup object is altered; it must be detected, another copy used",
    "post-backup-writes": "records written after the last backup: the RPO is what is lost",
    "rollback": "a copy is rolled back to an older state and a forged newer manifest planted"
    " on it; both must be caught, no older point taken silently",
    "tampered-primary": "the primary's file is altered (a projection row, a log body, a"
    " rewritten or truncated log); the checks must catch it, backups refuse it",
}
RULES = ("R1", "R2", "R4", "R5", "R6", "R8", "R3", "R7", "R9")  # default: the first six
#: What tampered-primary does to its sandbox copy of the primary.
TAMPER_KINDS = ("projection", "log-body", "log-rewrite", "truncate")
ROLES = ("qa", "qa-lead", "validation", "it", "admin", "auditor")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def duration(text: Any, where: str) -> float:
    """Seconds in ``"30s"``, ``"15m"``, ``"4h"``, ``"30d"`` (a number is seconds)."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        if text < 0:
            raise InputError(f"{where}: {text} is negative")
        return float(text)
    m = _DURATION.match(text) if isinstance(text, str) else None
    if not m:
        raise InputError(f"{where}: {text!r} is not a duration (e.g. 30s, 15m, 4h, 30d)")
    return float(m.group(1)) * _UNITS[m.group(2)]


@dataclass(frozen=True, slots=True)
class Objectives:
    rto_s: float
    rpo_s: float
    rpo_records: int | None
    zero_loss: bool


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    before_seq: int | None = None  # bad-change: restore to the point before this seq
    before_time: str | None = None  # bad-change: or before this time (UTC)
    corrupt_pages: int = 8  # corruption: pages of the sandbox copy damaged
    tamper_copy: str | None = None  # tampered-backup, rollback: the copy damaged
    tamper: str = "projection"  # tampered-primary: one of TAMPER_KINDS


@dataclass(frozen=True, slots=True)
class DrillPlan:
    id: str
    title: str
    objectives: Objectives
    scenario: Scenario
    source: str | None  # repository (path or URL); None: the current one (--db)
    copies: tuple[str, ...]  # copy names of the policy or URLs; empty: every copy
    restore_target: str  # a scratch SQLite path or PostgreSQL URL
    recovery_point: str  # "latest", "random" or "seq:N" / "time:T"
    random_window_s: float
    rules: tuple[str, ...]
    frequency_s: float
    reviewer_role: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        o, s = self.objectives, self.scenario
        return {
            "format": FORMAT,
            "id": self.id,
            "title": self.title,
            "objectives": {
                "rto_s": o.rto_s,
                "rpo_s": o.rpo_s,
                "rpo_records": o.rpo_records,
                "zero_loss": o.zero_loss,
            },
            "scenario": {
                "name": s.name,
                "before_seq": s.before_seq,
                "before_time": s.before_time,
                "corrupt_pages": s.corrupt_pages,
                "tamper_copy": s.tamper_copy,
                "tamper": s.tamper,
            },
            "source": self.source,
            "copies": list(self.copies),
            "restore_target": self.restore_target,
            "recovery_point": self.recovery_point,
            "random_window_s": self.random_window_s,
            "rules": list(self.rules),
            "frequency_s": self.frequency_s,
            "reviewer_role": self.reviewer_role,
        }


_KEYS = {
    "objectives": {"rto", "rpo", "rpo_records", "zero_loss"},
    "scenario": {"name", "before_seq", "before_time", "corrupt_pages", "tamper_copy", "tamper"},
    "source": {"db", "copies"},
    "restore": {"target", "recovery_point", "random_window"},
    "rules": {"check"},
    "schedule": {"frequency"},
    "review": {"role"},
}


def _table(data: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise InputError(f"{where}: [{name}] must be a table")
    unknown = sorted(set(value) - _KEYS[name])
    if unknown:  # a misspelt key must not silently fall back to a default
        raise InputError(f"{where}: unknown key(s) in [{name}]: {', '.join(unknown)}")
    return value


def _str(d: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = d.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: {key} must be a non-empty string")
    return value


_TOP = frozenset(
    {"format", "id", "title", "objectives", "scenario", "source", "restore", "rules"}
    | {"schedule", "review"}
)


def parse_plan(text: str, where: str = "plan") -> DrillPlan:
    """Parse and validate a plan; every refusal names the field and what was wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{where}: not valid TOML: {exc}") from None
    if data.get("format") != FORMAT:
        raise InputError(f"{where}: format must be {FORMAT!r}, not {data.get('format')!r}")
    unknown = sorted(set(data) - _TOP)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}")
    plan_id = _str(data, "id", where)
    if not _ID.match(plan_id):
        raise InputError(
            f"{where}: id {plan_id!r} must be lower-case letters, digits, '.', '_' or '-'"
        )
    title = _str(data, "title", where)
    objectives = _objectives(_table(data, "objectives", where), where)
    scenario = _scenario(_table(data, "scenario", where), where)
    source, copies = _source(_table(data, "source", where), where)
    target, point, window = _restore(_table(data, "restore", where), where, plan_id)
    _refuse_secrets(
        where,
        [("source.db", source), ("restore.target", target)]
        + [(f"source.copies[{i}]", c) for i, c in enumerate(copies)],
    )
    rules = _table(data, "rules", where).get("check", list(RULES[:6]))
    if not isinstance(rules, list) or not rules or any(r not in RULES for r in rules):
        raise InputError(
            f"{where}: rules.check must be a non-empty list of {', '.join(sorted(RULES))}"
        )
    sched = _table(data, "schedule", where)
    frequency = duration(sched.get("frequency", "30d"), f"{where}: schedule.frequency")
    if frequency <= 0:
        raise InputError(f"{where}: schedule.frequency must be more than 0")
    role = _str(_table(data, "review", where), "role", where + ": review", "qa")
    if role not in ROLES:
        raise InputError(f"{where}: review.role {role!r} is not one of {', '.join(ROLES)}")
    return DrillPlan(
        plan_id,
        title,
        objectives,
        scenario,
        source,
        tuple(copies),
        target,
        point,
        window,
        tuple(rules),
        frequency,
        role,
        data,
    )


def _objectives(obj: dict[str, Any], where: str) -> Objectives:
    rpo_records = obj.get("rpo_records")
    if rpo_records is not None and (not isinstance(rpo_records, int) or rpo_records < 0):
        raise InputError(f"{where}: objectives.rpo_records must be a whole number ≥ 0")
    zero_loss = obj.get("zero_loss", False)
    if not isinstance(zero_loss, bool):
        raise InputError(f"{where}: objectives.zero_loss must be true or false")
    return Objectives(
        rto_s=duration(obj.get("rto", "4h"), f"{where}: objectives.rto"),
        rpo_s=duration(obj.get("rpo", "15m"), f"{where}: objectives.rpo"),
        rpo_records=rpo_records,
        zero_loss=zero_loss,
    )


def _scenario(sc: dict[str, Any], where: str) -> Scenario:
    name = _str(sc, "name", where + ": scenario")
    if name not in SCENARIOS:
        raise InputError(f"{where}: scenario.name {name!r} is not one of {', '.join(SCENARIOS)}")
    before_seq = sc.get("before_seq")
    if before_seq is not None and (not isinstance(before_seq, int) or before_seq < 2):
        raise InputError(f"{where}: scenario.before_seq must be a seq ≥ 2")
    before_time = sc.get("before_time")
    if before_time is not None and not isinstance(before_time, str):
        raise InputError(f"{where}: scenario.before_time must be a UTC timestamp string")
    if name == "bad-change" and before_seq is None and before_time is None:
        raise InputError(f"{where}: scenario bad-change needs before_seq or before_time")
    pages = sc.get("corrupt_pages", 8)
    if not isinstance(pages, int) or not 1 <= pages <= 10_000:
        raise InputError(f"{where}: scenario.corrupt_pages must be between 1 and 10000")
    tamper_copy = sc.get("tamper_copy")
    if tamper_copy is not None and not isinstance(tamper_copy, str):
        raise InputError(f"{where}: scenario.tamper_copy must be a copy name or URL")
    tamper = sc.get("tamper", "projection")
    if tamper not in TAMPER_KINDS:
        raise InputError(
            f"{where}: scenario.tamper {tamper!r} is not one of {', '.join(TAMPER_KINDS)}"
        )
    return Scenario(name, before_seq, before_time, pages, tamper_copy, tamper)


def _source(src: dict[str, Any], where: str) -> tuple[str | None, list[str]]:
    source = src.get("db")
    if source is not None and not isinstance(source, str):
        raise InputError(f"{where}: source.db must be a path or URL")
    copies = src.get("copies", [])
    if not isinstance(copies, list) or not all(isinstance(c, str) and c for c in copies):
        raise InputError(f"{where}: source.copies must be a list of copy names or URLs")
    return source, copies


def _restore(rs: dict[str, Any], where: str, plan_id: str) -> tuple[str, str, float]:
    target = _str(rs, "target", where + ": restore", f"drill-sandbox/{plan_id}.db")
    point = rs.get("recovery_point", "latest")
    if not isinstance(point, str) or not (
        point in ("latest", "random") or point.startswith(("seq:", "time:"))
    ):
        raise InputError(f"{where}: restore.recovery_point must be latest, random, seq:N or time:T")
    if point.startswith("seq:") and not point[4:].isdigit():
        raise InputError(f"{where}: restore.recovery_point {point!r}: seq:N needs a number")
    window = duration(rs.get("random_window", "1d"), f"{where}: restore.random_window")
    return target, point, window


def _refuse_secrets(where: str, urls: list[tuple[str, str | None]]) -> None:
    """A plan is recorded in the hash-chained log and goes into every evidence package:
    a password in it could never be removed (DESIGN.md "Security")."""
    for field_name, value in urls:
        if isinstance(value, str) and has_secret(value):
            raise InputError(
                f"{where}: {field_name} holds a password or secret ({redact_url(value)}): a plan"
                " is recorded in the permanent log; use ~/.pgpass, PGPASSWORD or a secret"
                " file for database passwords, the AWS environment or profile for S3"
            )


def plan_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def template(scenario: str, plan_id: str | None = None) -> str:
    """A commented plan for ``scenario`` that runs as it is against the current repository
    and its configured copies."""
    if scenario not in SCENARIOS:
        raise InputError(f"scenario {scenario!r} is not one of {', '.join(SCENARIOS)}")
    pid = plan_id or scenario
    if not _ID.match(pid):
        raise InputError(f"plan id {pid!r} must be lower-case letters, digits, '.', '_' or '-'")
    extra = {
        "bad-change": "before_seq = 2           # restore to the point just before this seq\n"
        '# before_time = "2026-11-25T10:00:00Z"  # or before this time (UTC)\n',
        "corruption": "corrupt_pages = 8        # pages of the sandbox copy damaged\n",
        "tampered-backup": '# tamper_copy = "onsite"  # the copy whose object is altered'
        " (default: the first)\n",
        "rollback": '# tamper_copy = "onsite"  # the copy rolled back (default: the first)\n',
        "tampered-primary": 'tamper = "projection"     # projection | log-body | log-rewrite'
        " | truncate\n",
    }.get(scenario, "")
    zero = (
        "false"
        if scenario in ("post-backup-writes", "lost-latest-increment", "bad-change")
        else "true"
    )
    rules = (
        '["R1", "R2", "R4", "R5", "R6", "R8", "R9"]'
        if scenario == "tampered-primary"
        else '["R1", "R2", "R4", "R5", "R6", "R8"]'
    )
    return f'''# serialvault drill plan — keep this file under change control.
# Every version used by a drill is recorded in the repository's log (who, when, why,
# SHA-256 of this file). `serialvault drill record PLAN --reason "…"` records an edit.
format = "{FORMAT}"
id = "{pid}"
title = "{scenario}: {SCENARIOS[scenario]}"

[objectives]
rto = "4h"                 # fault → restored and verified
rpo = "15m"                # the most data, in time, the scenario may lose
# rpo_records = 0          # …and in log records
zero_loss = {zero}           # every unit and container reconciles with the baseline

[scenario]
name = "{scenario}"        # {" | ".join(SCENARIOS)}
{extra}
[source]
# db = "serialvault.db"    # the repository drilled (default: --db / SERIALVAULT_DB)
copies = []                # copy names of the backup policy or URLs (default: every copy)

[restore]
target = "drill-sandbox/{pid}.db"   # a scratch SQLite file or postgresql:// URL, never live
recovery_point = "latest"  # latest | random (within random_window) | seq:N | time:T
random_window = "1d"

[rules]
check = {rules}   # add "R3" (lifecycle of every unit), "R9" (projections vs log)

[schedule]
frequency = "30d"          # `drill due` lists plans not run within this

[review]
role = "qa"                # who must sign the evidence off
'''
