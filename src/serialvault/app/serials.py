"""Serial number pools: create a pool, allocate serials to a line, take unused ones
back, see how a pool stands, and the capture policy for serials no pool handed out.

EU FMD (Commission Delegated Regulation (EU) 2016/161, Art. 4(b)): serials of up to 20
characters, randomised so that the probability of guessing one is negligible and in any
case below 1 in 10,000. A pool is sized for the volume it will have in use and refused
when its alphabet and length cannot meet the bound for it (``domain.serials``); serials
come from the operating system's CSPRNG (``secrets``); a serial is handed out once,
ever — not one already allocated, returned, or commissioned as a unit of the GTIN; every
allocation and return is a log record listing its serials, so that ``rebuild`` and a
restore bring the pool back exactly.

Who: a pool fixes a product's serial format and its bound, so ``qa`` or ``admin``
create it (:attr:`Action.SERIAL_POOLS`); a line's operator, the line system's service
account or an admin allocate and return (:attr:`Action.SERIALS`); the serial policy is
configuration, proposed by an admin and in force once a ``qa`` user approves it.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from itertools import islice, pairwise
from operator import eq
from pathlib import Path
from typing import Any

import orjson

from serialvault.app.changes import propose
from serialvault.app.context import open_as, open_to_read
from serialvault.domain import change as cc
from serialvault.domain import serials as rules
from serialvault.domain.access import Action
from serialvault.domain.records import SERIAL_ALLOCATION, SERIAL_POOL, SERIAL_RETURN
from serialvault.errors import (
    ConflictError,
    IdentifierError,
    InputError,
    NotFound,
    RuleViolation,
    UsageError,
)
from serialvault.gs1.epc import CANONICAL_STEM, to_epc_urn
from serialvault.gs1.gtin import Gtin
from serialvault.settings import Settings
from serialvault.store import changes as change_store
from serialvault.store import serials as store
from serialvault.store.project import append_projected
from serialvault.timefmt import now_utc

_SORTED = orjson.OPT_SORT_KEYS
#: Formats ``--out`` writes, by the file's extension.
OUT_FORMATS = {".csv": "csv", ".json": "json"}
LIST_FORMAT = "serialvault.serials/1"
#: Draws of fresh serials before a pool is called too crowded to allocate from (each
#: draw keeps every serial not yet known; with the bound met, the first almost always
#: suffices).
MAX_DRAWS = 50


def _gtin(text: str) -> str:
    return Gtin.parse(text.strip()).gtin14


def _pool_of(conn: Any, gtin: str) -> rules.Pool:
    found = store.pools(conn, [gtin]).get(gtin)
    if found is None:
        raise NotFound(
            f"GTIN {gtin} has no serial number pool: a qa user or admin creates one with"
            f" `serialvault serials pool create {gtin} --expected N`"
        )
    return found


# --------------------------------------------------------------------------- pools


@dataclass(frozen=True)
class PoolResult:
    pool: rules.Pool
    seq: int | None  # of the record; None when nothing changed

    def to_dict(self) -> dict[str, Any]:
        return {**self.pool.to_dict(), "seq": self.seq, "changed": self.seq is not None}


def create_pool(
    settings: Settings,
    db: str | None,
    gtin: str,
    *,
    expected: int,
    length: int = rules.DEFAULT_LENGTH,
    alphabet: str = rules.DEFAULT_ALPHABET,
    low_stock: int | None = None,
    update: bool = False,
    reason: str | None = None,
) -> PoolResult:
    """``serials pool create``: a GTIN's pool, refused unless its alphabet and length
    meet the EU FMD guessing bound for ``expected`` serials (the message names the
    numbers and the shortest length that would). ``update`` records a new version of an
    existing pool with another expected volume or low-stock threshold; its alphabet and
    length stay (the serials already handed out were made with them)."""
    repo, who = open_as(settings, db, Action.SERIAL_POOLS)
    g = _gtin(gtin)
    threshold = rules.default_low_stock(expected) if low_stock is None else low_stock
    pool = rules.Pool(g, alphabet, length, expected, threshold)
    usage = rules.alphabet_problem(alphabet) or rules.length_problem(length)
    if usage is None and not 0 <= threshold <= max(expected, 0):
        usage = f"--low-stock {threshold:,}: from 0 to the expected volume ({expected:,})"
    if usage:
        raise UsageError(usage + "; nothing was recorded")
    bound = rules.bound_problem(expected, alphabet, length)
    if bound:
        raise RuleViolation(f"pool for GTIN {g} refused: {bound}; nothing was recorded")
    with repo.write() as (conn, log):  # read and record under the writer lock
        old = store.pools(conn, [g]).get(g)
        if old is not None and not update:
            raise ConflictError(
                f"GTIN {g} already has a serial number pool (version {old.version}: alphabet"
                f" {old.alphabet!r}, length {old.length}, expected {old.expected:,}); a new"
                " expected volume or threshold is `serials pool create --update`; nothing was"
                " recorded"
            )
        if old is None and update:
            raise NotFound(f"GTIN {g} has no serial number pool to update; nothing was recorded")
        if old is not None:
            if (old.alphabet, old.length) != (alphabet, length):
                raise ConflictError(
                    f"the pool of GTIN {g} makes serials of {old.length} characters of"
                    f" {old.alphabet!r}: a new version keeps them (serials already handed out"
                    " were made with them); nothing was recorded"
                )
            issued = store.stock(conn, old).issued
            if expected < issued:
                raise ConflictError(
                    f"the pool of GTIN {g} has handed out {issued:,} serials: its expected"
                    f" volume cannot be {expected:,}; nothing was recorded"
                )
            pool = rules.Pool(g, alphabet, length, expected, threshold, old.version + 1)
            if (old.expected, old.low_stock) == (expected, threshold):
                return PoolResult(old, None)
        why = reason or (f"serial pool of {g}" + (" updated" if old else " created"))
        rec = append_projected(conn, log, SERIAL_POOL, pool.content(), who.actor, why)
    return PoolResult(pool, rec.seq)


def list_pools(settings: Settings, db: str | None) -> list[dict[str, Any]]:
    """``serials pool list``: every pool and how it stands."""
    repo = open_to_read(settings, db)
    with repo.read() as conn:
        return [store.stock(conn, p).to_dict() for p in store.pools(conn).values()]


def status(settings: Settings, db: str | None, gtin: str) -> dict[str, Any]:
    """``serials status``: a pool's parameters, its serials by state, what remains, the
    low-stock warning, and every allocation with its serials by state."""
    repo = open_to_read(settings, db)
    g = _gtin(gtin)
    with repo.read() as conn:
        pool = _pool_of(conn, g)
        return {**store.stock(conn, pool).to_dict(), "allocations": store.allocations(conn, g)}


# --------------------------------------------------------------------------- allocation


@dataclass
class Allocation:
    """Serials handed out: the record, what remains of the pool, the files written."""

    allocation_id: str
    seq: int
    gtin: str
    to: str
    serials: list[str]
    pool: rules.Pool
    remaining: int
    files: list[str] = field(default_factory=list)

    def warning(self) -> str | None:
        return rules.low_stock_warning(self.pool, self.remaining)

    def to_dict(self, with_serials: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.allocation_id,
            "seq": self.seq,
            "gtin": self.gtin,
            "to": self.to,
            "count": len(self.serials),
            "files": self.files,
            "remaining": self.remaining,
            "warning": self.warning(),
        }
        if with_serials:
            d["serials"] = self.serials
        return d


def _out_format(path: Path) -> str:
    fmt = OUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(
            f"--out {path}: the extension names the format: .csv (one serial a line, with"
            " its element string, Digital Link and EPC URN) or .json (the EPCIS-ready epcList)"
        )
    return fmt


def _urn_head(gtin: str) -> str | None:
    """``urn:epc:id:sgtin:CP.IR.`` when the GS1 company prefix length is known."""
    try:
        return to_epc_urn(f"{CANONICAL_STEM}/01/{gtin}/21/0")[:-1]
    except IdentifierError:
        return None


def render(alloc: Allocation, fmt: str) -> bytes:
    """The list a line commissions from: CSV (``serial,gtin,element_string,
    digital_link,epc_urn``) or JSON whose ``epcList`` is what a commissioning
    ObjectEvent carries (EPC URNs where the company prefix length is known, else the
    GS1 Digital Link URIs EPCIS 2.0 accepts as well). A pool's serials need no escaping
    in any of these forms (``domain.serials``), so each is written as it is."""
    g = alloc.gtin
    dl = f"{CANONICAL_STEM}/01/{g}/21/"
    urn = _urn_head(g)
    if fmt == "csv":
        u = urn or ""
        lines = ["serial,gtin,element_string,digital_link,epc_urn"]
        lines += [f"{s},{g},(01){g}(21){s},{dl}{s},{u + s if urn else ''}" for s in alloc.serials]
        return ("\n".join(lines) + "\n").encode("ascii")
    doc = {
        "format": LIST_FORMAT,
        "allocation": alloc.allocation_id,
        "gtin": g,
        "to": alloc.to,
        "count": len(alloc.serials),
        "epcList": [(urn or dl) + s for s in alloc.serials],
        "serials": alloc.serials,
    }
    return orjson.dumps(doc) + b"\n"


def allocation_body(gtin: str, to: str, serials: list[str]) -> bytes:
    """The ``serials.allocation`` record's body, canonical (RFC 8785): its keys are ASCII
    and its values strings, for which sorted-key ``orjson`` output *is* the canonical
    form (``canonical.py``'s fast path) — written directly, without that module's walk
    over a million serials to find out."""
    return orjson.dumps({"gtin": gtin, "to": to.strip(), "serials": serials}, option=_SORTED)


def _fresh(conn: Any, pool: rules.Pool, count: int, first: list[str]) -> list[str]:
    """``count`` serials, sorted, that no row of the GTIN holds (allocated, returned,
    commissioned — also before the pool existed — or flagged), none twice: a sorted
    draw, its repeats dropped, checked against the pool in one set-based query; the
    few collisions are drawn again."""
    out: list[str] = []
    batch = first
    for _ in range(MAX_DRAWS):
        uniq = batch
        if any(map(eq, batch, islice(batch, 1, None))):  # sorted: repeats are neighbours
            uniq = [s for s, nxt in pairwise(batch) if s != nxt] + batch[-1:]
        if out:  # a later, small draw: not one already chosen
            chosen = set(out)
            uniq = [s for s in uniq if s not in chosen]
        known = store.known(conn, pool.gtin, uniq)
        new = [s for s in uniq if s not in known] if known else uniq
        out = sorted(out + new[: count - len(out)]) if out else new[:count]
        if len(out) == count:
            return out
        batch = sorted(rules.generate(count - len(out) + 16, pool.alphabet, pool.length))
    raise RuleViolation(
        f"pool of GTIN {pool.gtin}: {MAX_DRAWS} draws did not find {count:,} unused serials;"
        " the pool's space is too crowded (see `serialvault serials status`); nothing was"
        " allocated"
    )


def _temp_for(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def allocate(
    settings: Settings,
    db: str | None,
    gtin: str,
    count: int,
    *,
    to: str,
    out: list[Path] | None = None,
    reason: str | None = None,
) -> Allocation:
    """``serials allocate``: hand ``count`` new serials of the GTIN's pool to a line or
    order, record them (one ``serials.allocation`` record listing every serial) and
    write the line's list (``--out``). The files are written beside their names inside
    the transaction and renamed into place after the commit: a file that cannot be
    written allocates nothing, and no list exists of serials that were not recorded."""
    repo, who = open_as(settings, db, Action.SERIALS)
    g = _gtin(gtin)
    if not 1 <= count <= rules.MAX_ALLOCATION:
        raise UsageError(f"--count {count}: from 1 to {rules.MAX_ALLOCATION:,} per allocation")
    problem = rules.target_problem(to)
    if problem:
        raise UsageError(problem)
    outs = [(p, _out_format(p)) for p in out or []]
    with repo.read() as conn:  # draw outside the writer lock: the line's capture goes on
        pool = _pool_of(conn, g)
    first = sorted(rules.generate(count, pool.alphabet, pool.length))
    written: list[tuple[Path, Path]] = []
    try:
        with repo.write() as (conn, log):
            pool = _pool_of(conn, g)  # as it is under the lock
            remaining = pool.expected - store.issued(conn, g)
            if count > remaining:
                raise RuleViolation(rules.Stock.shortfall(store.stock(conn, pool), count) or "")
            serials = _fresh(conn, pool, count, first)
            why = reason or f"{count:,} serials of {g} to {to.strip()}"
            rec = append_projected(
                conn, log, SERIAL_ALLOCATION, allocation_body(g, to, serials), who.actor, why
            )
            done = Allocation(
                rules.allocation_id(rec.seq),
                rec.seq,
                g,
                to.strip(),
                serials,
                pool,
                remaining - count,
            )
            for path, fmt in outs:
                tmp = _temp_for(path)
                written.append((tmp, path))
                _write(tmp, path, render(done, fmt))
    except BaseException:
        for tmp, _path in written:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        raise
    for tmp, path in written:
        tmp.replace(path)
        done.files.append(str(path))
    return done


def _write(tmp: Path, path: Path, data: bytes) -> None:
    try:
        tmp.write_bytes(data)
    except OSError as exc:
        parent = path.parent
        why = f"folder {parent} does not exist" if not parent.exists() else exc.strerror
        raise InputError(f"cannot write {path}: {why}; nothing was allocated") from None


def export(settings: Settings, db: str | None, allocation: str, out: list[Path]) -> list[str]:
    """``serials export``: write an allocation's list again (a lost or damaged file),
    with the serials it still holds unused — a returned or commissioned serial is not
    printed again."""
    repo = open_to_read(settings, db)
    outs = [(p, _out_format(p)) for p in out]
    if not outs:
        raise UsageError("name at least one --out FILE (.csv or .json)")
    with repo.read() as conn:
        a = _allocation_of(conn, allocation)
        serials = store.allocation_serials(conn, a["gtin"], a["seq"], rules.ALLOCATED)
        pool = _pool_of(conn, a["gtin"])
        left = pool.expected - store.issued(conn, a["gtin"])
    alloc = Allocation(
        rules.allocation_id(a["seq"]), a["seq"], a["gtin"], a["to"], serials, pool, left
    )
    for path, fmt in outs:
        tmp = _temp_for(path)
        _write(tmp, path, render(alloc, fmt))
        tmp.replace(path)
    return [str(p) for p, _ in outs]


def _allocation_of(conn: Any, allocation: str) -> dict[str, Any]:
    seq = rules.allocation_seq(allocation)
    found = None if seq is None else store.allocation(conn, seq)
    if found is None:
        raise NotFound(f"no allocation {allocation!r} (see `serialvault serials status GTIN`)")
    return found


# --------------------------------------------------------------------------- returns


def read_serials(path: Path) -> list[str]:
    """Serials from a file: one a line, or the CSV ``serials allocate`` wrote (its first
    column, header skipped); blank lines are ignored."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text") from None
    out = []
    for i, line in enumerate(text.splitlines()):
        first = line.split(",", 1)[0].strip()
        if not first or (i == 0 and first == "serial"):
            continue
        out.append(first)
    return out


@dataclass(frozen=True)
class Returned:
    allocation_id: str
    gtin: str
    seq: int
    serials: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "allocation": self.allocation_id,
            "gtin": self.gtin,
            "seq": self.seq,
            "count": len(self.serials),
            "never_reused": True,
        }


def return_serials(
    settings: Settings,
    db: str | None,
    allocation: str,
    *,
    serials: list[str] | None = None,
    all_unused: bool = False,
    reason: str,
) -> Returned:
    """``serials return``: hand back serials of an allocation that were not used (a
    batch stopped short, labels destroyed). They are never handed out again — a serial
    printed once may exist on a carton somewhere. Every serial named must be of this
    allocation and still unused, or nothing is returned."""
    if not reason or not reason.strip():
        raise UsageError("a return needs --reason: why the serials were not used")
    if all_unused == bool(serials):
        raise UsageError("name the serials to return (--serial, --file) or --all-unused, not both")
    repo, who = open_as(settings, db, Action.SERIALS)
    with repo.write() as (conn, log):
        a = _allocation_of(conn, allocation)
        aid = rules.allocation_id(a["seq"])
        if all_unused:
            back = store.allocation_serials(conn, a["gtin"], a["seq"], rules.ALLOCATED)
            if not back:
                raise ConflictError(f"{aid} holds no unused serial: nothing was returned")
        else:
            back = sorted(dict.fromkeys(s.strip() for s in serials or []))
            _check_returnable(store.states(conn, a["gtin"], back), back, a["seq"], aid)
        body = {"allocation": aid, "gtin": a["gtin"], "serials": back}
        rec = append_projected(conn, log, SERIAL_RETURN, body, who.actor, reason)
    return Returned(aid, a["gtin"], rec.seq, back)


def _check_returnable(
    found: dict[str, tuple[str, int | None]], serials: list[str], seq: int, aid: str
) -> None:
    foreign = [s for s in serials if s not in found or found[s][1] != seq]
    if foreign:
        raise NotFound(
            f"{len(foreign)} serial(s) are not of {aid}: {', '.join(foreign[:10])}; nothing"
            " was returned"
        )
    used = [s for s in serials if found[s][0] != rules.ALLOCATED]
    if used:
        states = ", ".join(f"{s} ({found[s][0]})" for s in used[:10])
        raise ConflictError(
            f"{len(used)} serial(s) of {aid} are no longer unused: {states}; a commissioned"
            " serial leaves through a decommissioning event, a returned one is returned"
            " already; nothing was returned"
        )


# --------------------------------------------------------------------------- policy


def policy(settings: Settings, db: str | None) -> dict[str, Any]:
    """``serials policy show``: the serial policy in force (and from which change), and
    any draft waiting for approval."""
    repo = open_to_read(settings, db)
    now = now_utc()
    with repo.read() as conn:
        history = change_store.changes(conn, object_type="serial-policy", object_key="serials")
        in_force = store.policy_in_force(conn, now)
    v = cc.effective_version(history, now)
    drafts = [c.change_id for c in history if c.status == cc.DRAFT]
    return {
        "policy": in_force,
        "version": v.version if v else None,
        "change": v.change_id if v else None,
        "default": v is None,
        "drafts": drafts,
    }


def set_policy(
    settings: Settings, db: str | None, unallocated: str, *, reason: str | None
) -> cc.Change:
    """``serials policy set``: propose what capture does with a commissioned serial its
    GTIN's pool never handed out — ``reject`` the document or capture it and ``flag``
    it — a draft change, in force once a ``qa`` user other than the proposer approves
    it (EU GMP Annex 11 §10)."""
    new = {"unallocated": unallocated}
    problem = rules.policy_problem(new)
    if problem:
        raise UsageError(problem)
    repo, who = open_as(settings, db, Action.CONFIGURE)
    with repo.read() as conn:
        current = store.policy_in_force(conn, now_utc())
    return propose(
        repo,
        who,
        "serial-policy",
        "serials",
        new,
        reason=reason or "serial policy",
        before=current,
    )
