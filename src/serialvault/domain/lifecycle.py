"""The unit lifecycle and hierarchy rules, applied to events in order.

Pure: the store hands over a :class:`Snapshot` (the current state of every identifier
the events touch, with complete subtrees of containers and the ancestors of parents),
the :class:`Engine` applies events in document order and returns what changed — or
the issues that reject the document. Nothing here reads or writes a database, so the
same code serves capture, ``rebuild`` (replay of the log) and tests.

The rules (EPCIS 2.0 §7.4 event semantics, CBV 2.0 §7.1/§7.2 business steps and
dispositions):

* ObjectEvent ``ADD`` commissions: a serialised unit (SGTIN) or logistic unit (SSCC) is
  commissioned once, ever — a serial is never reused (EU FMD Delegated Regulation
  2016/161 Art. 4(b)); an SGTIN's product (GTIN) must be in master data; lot and expiry
  come from ILMD (``cbvmda:lotNumber``, ``cbvmda:itemExpirationDate``) and a lot has one
  expiry.
* Nothing may be packed, unpacked, shipped, observed or decommissioned unless it is
  commissioned and not decommissioned.
* AggregationEvent ``ADD`` packs children into a parent: a child has at most one parent,
  packing must not create a cycle, neither side may have left the site (shipped).
  ``DELETE`` unpacks the listed children, or all children when none are listed
  (EPCIS 2.0 §7.4.3). ``OBSERVE`` confirms an existing aggregation.
* Business step ``shipping`` marks the object and everything inside it shipped;
  ``receiving``/``accepting`` brings it back to active.
* ObjectEvent ``DELETE`` decommissions. For a container, the contents are released
  (unpacked) — unless the container is destroyed (disposition ``destroyed`` or business
  step ``destroying``), in which case everything inside is decommissioned too. A unit
  decommissioned while packed leaves its parent.
* TransformationEvent consumes its inputs and commissions its outputs.
* Error declarations (EPCIS 2.0 §7.4.1.2, ``errorDeclaration``): the declared event is
  flagged erroneous and the state of every identifier it touched is recomputed from that
  identifier's remaining history; corrective events are ordinary events.

Identifiers other than SGTIN/SSCC (GRAI, GIAI, non-GS1 URIs) are recorded with the
events that name them but have no lifecycle; they may not be an aggregation parent or
child, because the hierarchy holds serialised goods and logistic units only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from serialvault.domain.facts import EventFacts, classify_key
from serialvault.errors import Issue
from serialvault.gs1.epc import canonical_key

ACTIVE = "active"
SHIPPED = "shipped"
DECOMMISSIONED = "decommissioned"
CONSUMED = "consumed"

_SHIP_STEPS = frozenset({"shipping"})
_RECEIVE_STEPS = frozenset({"receiving", "accepting"})
_DESTROY_STEPS = frozenset({"destroying"})
_DESTROY_DISPOSITIONS = frozenset({"destroyed"})
_GONE = frozenset({DECOMMISSIONED, CONSUMED})
#: ``_declare`` result for a declaration identical to one already recorded
_REPEATED = -1

#: Why a product unknown to master data is refused, and how it gets there: under change
#: control, never from a document's header (Annex 11 §10).
NOT_IN_MD = (
    "is not in master data (a product enters it under change control: `serialvault product"
    " add` or `serialvault masterdata import`, then a qa user's approval)"
)


@dataclass(slots=True)
class Unit:
    """Current state of one identifier (a row of the ``units`` projection)."""

    id: int
    key: str
    kind: str
    gtin: str | None
    status: str | None = None
    disposition: str | None = None
    parent_id: int | None = None
    lot: str | None = None
    expiry: str | None = None
    biz_location: str | None = None
    commissioned_seq: int | None = None
    last_seq: int = 0
    last_event_time: str | None = None
    #: 1 once anything has been packed into it (never reset): lets the contents query
    #: stop at leaves without probing the index for children that cannot exist.
    is_container: int = 0

    @property
    def tracked(self) -> bool:
        return self.kind != "other"

    def row(self) -> tuple[object, ...]:
        """The ``units`` row, columns in schema order."""
        row: tuple[object, ...] = _UNIT_ROW(self)
        return row


#: Columns of a unit that events change (all but id, key, kind, gtin), in schema order.
UNIT_MUTABLE = (
    "status",
    "disposition",
    "parent_id",
    "lot",
    "expiry",
    "biz_location",
    "commissioned_seq",
    "last_seq",
    "last_event_time",
    "is_container",
)
#: What recomputing a unit after an error declaration sets (the parent is relinked, and
#: ``is_container`` never goes back).
_REFOLDED = tuple(c for c in UNIT_MUTABLE if c not in ("parent_id", "is_container"))
#: C-level attribute getters: build row tuples without a Python frame per unit.
_UNIT_ROW = attrgetter("id", "key", "kind", "gtin", *UNIT_MUTABLE)
#: the mutable columns followed by the id, for UPDATE … WHERE id = ?
UNIT_UPDATE_ROW = attrgetter(*UNIT_MUTABLE, "id")


@dataclass(frozen=True, slots=True)
class EventRef:
    """An event already recorded: enough to detect duplicates and resolve declarations."""

    seq: int
    event_hash: str
    event_id: str | None
    is_declaration: bool
    declared_by_seq: int | None = None


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One past effect on a unit, for recomputing its state after an error declaration."""

    seq: int
    role: str
    facts: EventFacts
    #: for role 'child' of an aggregation: the parent's unit id
    parent_id: int | None = None
    declared: bool = False


@dataclass(slots=True)
class Snapshot:
    """What the store provides before a batch of events is applied."""

    units: dict[str, Unit]
    #: parent id -> child ids, complete for every id in ``complete``
    children: dict[int, set[int]]
    complete: set[int]
    products: set[str]
    lots: dict[tuple[str, str], str | None]
    next_id: int
    events_by_hash: dict[str, list[EventRef]] = field(default_factory=dict)
    events_by_id: dict[str, list[EventRef]] = field(default_factory=dict)
    #: unit id -> full effect history, for units an error declaration will recompute
    histories: dict[int, list[HistoryItem]] = field(default_factory=dict)
    #: declaration seq -> its ``errorDeclaration`` object, for originals already declared
    declarations: dict[int, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class EventRow:
    seq: int
    facts: EventFacts
    record_time: str
    declares_seq: int | None = None


@dataclass(slots=True)
class Changes:
    """Everything a batch changes, for the store to write in one transaction."""

    new_units: dict[int, Unit] = field(default_factory=dict)
    dirty_units: dict[int, Unit] = field(default_factory=dict)
    events: list[EventRow] = field(default_factory=list)
    event_epcs: list[tuple[int, int, str]] = field(default_factory=list)
    new_lots: dict[tuple[str, str], tuple[str | None, int]] = field(default_factory=dict)
    #: original seq -> declaration seq
    declared: dict[int, int] = field(default_factory=dict)
    duplicates: list[EventFacts] = field(default_factory=list)
    #: the same new values for many units at once (a pallet shipped): ``(column values,
    #: unit ids)``, to be written in order *before* ``dirty_units`` (which hold final
    #: state and win for any unit in both)
    group_updates: list[tuple[dict[str, object], list[int]]] = field(default_factory=list)


class Engine:
    """Applies events to a :class:`Snapshot`; collects :class:`Changes` and issues."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snap = snapshot
        self.units = snapshot.units
        self.by_id: dict[int, Unit] = {u.id: u for u in snapshot.units.values()}
        self.children = snapshot.children
        self.next_id = snapshot.next_id
        self.changes = Changes()
        self.issues: list[Issue] = []
        # hot-path aliases of what ``changes`` and ``snap`` hold
        self._new = self.changes.new_units
        self._dirty = self.changes.dirty_units
        self._epcs = self.changes.event_epcs
        self._histories = snapshot.histories
        self._doc_hashes: dict[tuple[str, bool], int] = {}
        self._doc_ids: dict[str, tuple[str, int]] = {}
        self._f: EventFacts | None = None

    # ------------------------------------------------------------------ helpers
    def _issue(self, code: str, message: str, fld: str | None, ident: str | None) -> None:
        f = self._f
        self.issues.append(
            Issue(
                message=message,
                code=code,
                event_index=f.index if f else None,
                event_id=f.event_id if f else None,
                event_hash=f.event_hash if f else None,
                field=fld,
                identifier=ident,
            )
        )

    def _touch(self, u: Unit, seq: int, role: str, f: EventFacts) -> None:
        """Record that event ``seq`` touched ``u`` in ``role`` (hot path: keep it lean)."""
        uid = u.id
        if uid not in self._new:
            self._dirty[uid] = u
        u.last_seq = seq
        u.last_event_time = f.event_time
        self._epcs.append((uid, seq, role))
        if self._histories:
            hist = self._histories.get(uid)
            if hist is not None:
                hist.append(HistoryItem(seq, role, f, u.parent_id if role == "child" else None))

    def _create(self, key: str, kind: str, gtin: str | None) -> Unit:
        """A new identifier; it has no children yet, so its (empty) subtree is complete."""
        u = Unit(self.next_id, key, kind, gtin)
        self.next_id += 1
        self.units[key] = u
        self.by_id[u.id] = u
        self._new[u.id] = u
        return u

    def _identifier(self, key: str) -> Unit:
        """The row of an identifier without lifecycle, created on first sight."""
        u = self.units.get(key)
        if u is None:
            kind, gtin = classify_key(key)
            u = self._create(key, kind, gtin)
        return u

    @staticmethod
    def _apply_place(u: Unit, f: EventFacts) -> None:
        if f.disposition is not None:
            u.disposition = f.disposition
        if f.biz_location is not None:
            u.biz_location = f.biz_location

    def _usable(self, key: str, fld: str, *, allow_shipped: bool = True) -> Unit | None:
        """The tracked unit behind ``key`` if it may take part in an event, else an issue."""
        u = self.units.get(key)
        if u is None or u.status is None:
            self._issue(
                "not-commissioned",
                f"{key} has not been commissioned",
                fld,
                key,
            )
            return None
        if u.status in _GONE:
            self._issue(
                "decommissioned",
                f"{key} is {u.status} (seq {u.last_seq}) and can take part in no further event",
                fld,
                key,
            )
            return None
        if not allow_shipped and u.status == SHIPPED:
            self._issue(
                "shipped",
                f"{key} has been shipped (seq {u.last_seq}); it must be received before it"
                " can be packed or unpacked",
                fld,
                key,
            )
            return None
        return u

    def _descendants(self, root: Unit) -> list[Unit]:
        out: list[Unit] = []
        stack = [root.id]
        while stack:
            uid = stack.pop()
            if uid not in self.snap.complete and uid not in self._new:
                raise RuntimeError(f"internal: subtree of unit id {uid} was not loaded")
            for cid in sorted(self.children.get(uid, ())):
                out.append(self.by_id[cid])
                stack.append(cid)
        return out

    def _ancestor_ids(self, u: Unit) -> set[int]:
        seen: set[int] = set()
        pid = u.parent_id
        while pid is not None and pid not in seen:
            seen.add(pid)
            p = self.by_id.get(pid)
            if p is None:
                raise RuntimeError(f"internal: ancestor unit id {pid} was not loaded")
            pid = p.parent_id
        return seen

    def _link(self, child: Unit, parent: Unit | None) -> None:
        if child.parent_id is not None:
            self.children.setdefault(child.parent_id, set()).discard(child.id)
        child.parent_id = parent.id if parent is not None else None
        if parent is not None:
            self.children.setdefault(parent.id, set()).add(child.id)
            parent.is_container = 1

    # ------------------------------------------------------------------ entry
    def apply(self, f: EventFacts, seq: int, record_time: str) -> bool:
        """Apply one event as log record ``seq``. False when it is a duplicate (no-op)."""
        self._f = f
        is_decl = f.declaration is not None
        if self._is_duplicate(f, is_decl):
            self.changes.duplicates.append(f)
            return False
        n_issues = len(self.issues)
        if f.event_id and not is_decl:
            self._check_event_id(f, seq)
        row = EventRow(seq, f, record_time)
        if is_decl:
            declared = self._declare(f, seq)
            if declared == _REPEATED:
                self.changes.duplicates.append(f)
                return False
            row.declares_seq = declared
        elif f.event_type == "ObjectEvent":
            self._object_event(f, seq)
        elif f.event_type == "AggregationEvent":
            self._aggregation_event(f, seq)
        elif f.event_type == "TransformationEvent":
            self._transformation_event(f, seq)
        else:  # TransactionEvent, AssociationEvent
            self._reference_event(f, seq)
        if len(self.issues) == n_issues:
            self._doc_hashes[(f.event_hash, is_decl)] = seq
            if f.event_id and not is_decl:
                self._doc_ids[f.event_id] = (f.event_hash, seq)
        self.changes.events.append(row)
        return True

    def _is_duplicate(self, f: EventFacts, is_decl: bool) -> bool:
        """An event already recorded (same GS1 event hash) — not for declarations.

        The event hash leaves ``errorDeclaration`` out (CBV 2.0 §8.9), so a declaration
        hashes like the event it declares; whether it repeats an earlier declaration is
        decided in :meth:`_declare` by comparing the declarations themselves.
        """
        if is_decl:
            return False
        if (f.event_hash, False) in self._doc_hashes:
            return True
        return any(not ref.is_declaration for ref in self.snap.events_by_hash.get(f.event_hash, ()))

    def _check_event_id(self, f: EventFacts, seq: int) -> None:
        assert f.event_id is not None
        for ref in self.snap.events_by_id.get(f.event_id, ()):
            if not ref.is_declaration and ref.event_hash != f.event_hash:
                self._issue(
                    "event-id-conflict",
                    f"eventID {f.event_id} already identifies a different event (seq {ref.seq})",
                    "eventID",
                    f.event_id,
                )
                return
        prior = self._doc_ids.get(f.event_id)
        if prior is not None and prior[0] != f.event_hash:
            self._issue(
                "event-id-conflict",
                f"eventID {f.event_id} is used by two different events in this document",
                "eventID",
                f.event_id,
            )

    # ------------------------------------------------------------------ commissioning
    def _commission_all(
        self, keys: tuple[str, ...], f: EventFacts, seq: int, list_name: str, role: str
    ) -> None:
        """Commission every key of one event (ObjectEvent ADD epcList, Transformation outputs).

        The checks that depend only on the event (product in master data, lot expiry) are
        made once per GTIN, not once per EPC: a line commissions hundreds of units of one
        product and lot per event.
        """
        seen: set[str] = set()
        gtin_ok: dict[str, bool] = {}
        units = self.units
        for i, key in enumerate(keys):
            if key in seen:
                self._issue("duplicate-epc", f"{key} is listed twice", f"{list_name}[{i}]", key)
                continue
            seen.add(key)
            kind, gtin = classify_key(key)
            if kind == "other":
                self._touch(self._identifier(key), seq, role, f)
                continue
            u = units.get(key)
            if u is not None and u.status is not None:
                if u.status in _GONE:
                    msg = (
                        f"{key} was commissioned at seq {u.commissioned_seq} and is now"
                        f" {u.status}; a serial number is never reused"
                    )
                else:
                    msg = f"{key} is already commissioned (seq {u.commissioned_seq})"
                self._issue("already-commissioned", msg, f"{list_name}[{i}]", key)
                continue
            if gtin is not None:
                ok = gtin_ok.get(gtin)
                if ok is None:
                    ok = gtin_ok[gtin] = self._product_and_lot(
                        gtin, key, f, seq, f"{list_name}[{i}]"
                    )
                if not ok:
                    continue
            if u is None:
                u = self._create(key, kind, gtin)
            u.status = ACTIVE
            u.disposition = f.disposition
            u.biz_location = f.biz_location
            if kind == "sgtin":
                u.lot, u.expiry = f.lot, f.expiry
            u.commissioned_seq = seq
            u.parent_id = None
            self._touch(u, seq, role, f)

    def _product_and_lot(self, gtin: str, key: str, f: EventFacts, seq: int, fld: str) -> bool:
        if gtin not in self.snap.products:
            self._issue("unknown-product", f"product GTIN {gtin} of {key} {NOT_IN_MD}", fld, key)
            return False
        return f.lot is None or self._check_lot(gtin, f, seq)

    def _check_lot(self, gtin: str, f: EventFacts, seq: int) -> bool:
        assert f.lot is not None
        lk = (gtin, f.lot)
        if lk in self.changes.new_lots:
            known: str | None = self.changes.new_lots[lk][0]
        elif lk in self.snap.lots:
            known = self.snap.lots[lk]
        else:
            self.changes.new_lots[lk] = (f.expiry, seq)
            self.snap.lots[lk] = f.expiry
            return True
        if known != f.expiry:
            self._issue(
                "lot-expiry-conflict",
                f"lot {f.lot} of GTIN {gtin} has expiry {known or 'none'}, this event says"
                f" {f.expiry or 'none'}",
                "ilmd.cbvmda:itemExpirationDate",
                f.lot,
            )
            return False
        return True

    def _check_classes(self, f: EventFacts) -> None:
        for cls in f.quantity_classes:
            try:
                key = canonical_key(cls)
            except ValueError:
                continue
            if key.startswith("https://id.gs1.org/01/"):
                gtin = key[22:36]
                if gtin not in self.snap.products:
                    self._issue(
                        "unknown-product",
                        f"product GTIN {gtin} of class {cls} {NOT_IN_MD}",
                        "quantityList",
                        cls,
                    )

    # ------------------------------------------------------------------ event types
    def _object_event(self, f: EventFacts, seq: int) -> None:
        if f.action == "ADD":
            self._commission_all(f.epcs, f, seq, "epcList", "epc")
            self._check_classes(f)
            return
        for i, key in enumerate(f.epcs):
            kind, _ = classify_key(key)
            if kind == "other":
                self._touch(self._identifier(key), seq, "epc", f)
                continue
            u = self._usable(key, f"epcList[{i}]")
            if u is None:
                continue
            if f.action == "DELETE":
                self._decommission(u, f, seq, "epc")
            else:
                self._observe(u, f, seq, "epc")

    def _observe(self, u: Unit, f: EventFacts, seq: int, role: str) -> None:
        self._apply_place(u, f)
        self._touch(u, seq, role, f)
        if f.biz_step in _SHIP_STEPS:
            self._set_status_tree(u, SHIPPED, f, seq)
        elif f.biz_step in _RECEIVE_STEPS:
            self._set_status_tree(u, ACTIVE, f, seq)

    def _set_status_tree(self, u: Unit, status: str, f: EventFacts, seq: int) -> None:
        """Give ``u`` and everything inside it ``status`` (shipping, receiving a pallet).

        Thousands of units per pallet, all given the same values: they are written as one
        group update (``Changes.group_updates``) rather than row by row, and the
        per-descendant work of ``_touch`` and ``_apply_place`` is inlined here.
        """
        u.status = status
        disposition, location, when = f.disposition, f.biz_location, f.event_time
        values: dict[str, object] = {"status": status, "last_seq": seq, "last_event_time": when}
        if disposition is not None:
            values["disposition"] = disposition
        if location is not None:
            values["biz_location"] = location
        group: list[int] = []
        new, dirty, epcs, histories = self._new, self._dirty, self._epcs, self._histories
        for d in self._descendants(u):
            d.status = status
            if disposition is not None:
                d.disposition = disposition
            if location is not None:
                d.biz_location = location
            d.last_seq = seq
            d.last_event_time = when
            uid = d.id
            if uid not in new and uid not in dirty:
                group.append(uid)
            epcs.append((uid, seq, "via"))
            if histories and uid in histories:
                histories[uid].append(HistoryItem(seq, "via", f, None))
        if group:
            self.changes.group_updates.append((values, group))

    def _decommission(self, u: Unit, f: EventFacts, seq: int, role: str) -> None:
        destroy = f.disposition in _DESTROY_DISPOSITIONS or f.biz_step in _DESTROY_STEPS
        if destroy:
            for d in self._descendants(u):
                d.status = DECOMMISSIONED
                self._apply_place(d, f)
                self._touch(d, seq, "via", f)
        else:
            for cid in sorted(self.children.get(u.id, ())):
                child = self.by_id[cid]
                self._link(child, None)
                self._touch(child, seq, "via", f)
        if u.parent_id is not None:
            self._link(u, None)
        u.status = DECOMMISSIONED
        self._apply_place(u, f)
        self._touch(u, seq, role, f)

    def _aggregation_event(self, f: EventFacts, seq: int) -> None:
        if f.parent is None:
            if f.action in ("ADD", "DELETE"):
                self._issue(
                    "missing-parent",
                    f"an AggregationEvent with action {f.action} needs a parentID",
                    "parentID",
                    None,
                )
                return
            for i, key in enumerate(f.children):
                u = self._usable(key, f"childEPCs[{i}]")
                if u is not None:
                    self._observe(u, f, seq, "child")
            return
        if classify_key(f.parent)[0] == "other":
            self._issue(
                "untracked-parent",
                f"parentID {f.parent} is neither an SGTIN nor an SSCC; the hierarchy holds"
                " serialised items and logistic units only",
                "parentID",
                f.parent,
            )
            return
        packing = f.action == "ADD"
        parent = self._usable(f.parent, "parentID", allow_shipped=f.action == "OBSERVE")
        if parent is None:
            return
        untracked = False
        units = self.units
        for i, key in enumerate(f.children):
            u = units.get(key)
            if (u.kind if u is not None else classify_key(key)[0]) == "other":
                untracked = True
                self._issue(
                    "untracked-child",
                    f"child {key} is neither an SGTIN nor an SSCC",
                    f"childEPCs[{i}]",
                    key,
                )
        if untracked:
            return
        if packing:
            self._pack(parent, f, seq)
        elif f.action == "DELETE":
            self._unpack(parent, f, seq)
        else:
            self._confirm(parent, f, seq)

    def _pack(self, parent: Unit, f: EventFacts, seq: int) -> None:
        ancestors = self._ancestor_ids(parent) | {parent.id}
        self._apply_place(parent, f)
        self._touch(parent, seq, "parent", f)
        pid = parent.id
        parent.is_container = 1
        siblings = self.children.setdefault(pid, set())
        units = self.units
        disposition, location = f.disposition, f.biz_location
        seen: set[str] = set()
        for i, key in enumerate(f.children):
            if key in seen:
                self._issue("duplicate-epc", f"{key} is listed twice", f"childEPCs[{i}]", key)
                continue
            seen.add(key)
            child = units.get(key)
            if child is None or child.status != ACTIVE:
                child = self._usable(key, f"childEPCs[{i}]", allow_shipped=False)
                if child is None:
                    continue
            if child.id in ancestors:
                what = "itself" if child.id == pid else f"a container that holds {f.parent}"
                self._issue(
                    "cycle",
                    f"packing {key} into {f.parent} would create a cycle: {key} is {what}",
                    f"childEPCs[{i}]",
                    key,
                )
                continue
            current = child.parent_id
            if current is not None and current != pid:
                self._issue(
                    "already-packed",
                    f"{key} is already packed in {self.by_id[current].key}; unpack it first",
                    f"childEPCs[{i}]",
                    key,
                )
                continue
            if current is None:
                child.parent_id = pid
                siblings.add(child.id)
            if disposition is not None:
                child.disposition = disposition
            if location is not None:
                child.biz_location = location
            self._touch(child, seq, "child", f)

    def _unpack(self, parent: Unit, f: EventFacts, seq: int) -> None:
        if parent.status == SHIPPED:
            self._issue(
                "shipped",
                f"{f.parent} has been shipped (seq {parent.last_seq}); it must be received"
                " before it can be unpacked",
                "parentID",
                f.parent,
            )
            return
        targets: list[tuple[str, Unit | None, str]] = []
        if f.children:
            for i, key in enumerate(f.children):
                targets.append((key, self.units.get(key), f"childEPCs[{i}]"))
        else:
            targets = [
                (self.by_id[c].key, self.by_id[c], "childEPCs")
                for c in sorted(self.children.get(parent.id, ()))
            ]
        self._apply_place(parent, f)
        self._touch(parent, seq, "parent", f)
        for key, child, fld in targets:
            if child is None or child.status is None:
                self._issue("not-commissioned", f"{key} has not been commissioned", fld, key)
                continue
            if child.parent_id != parent.id:
                self._issue("not-in-parent", f"{key} is not packed in {f.parent}", fld, key)
                continue
            self._link(child, None)
            self._apply_place(child, f)
            self._touch(child, seq, "child", f)

    def _confirm(self, parent: Unit, f: EventFacts, seq: int) -> None:
        self._observe(parent, f, seq, "parent")
        for i, key in enumerate(f.children):
            fld = f"childEPCs[{i}]"
            child = self._usable(key, fld)
            if child is None:
                continue
            if child.parent_id != parent.id:
                self._issue("not-in-parent", f"{key} is not packed in {f.parent}", fld, key)
                continue
            if child.last_seq != seq:
                self._apply_place(child, f)
                self._touch(child, seq, "child", f)

    def _transformation_event(self, f: EventFacts, seq: int) -> None:
        for i, key in enumerate(f.inputs):
            if classify_key(key)[0] == "other":
                self._touch(self._identifier(key), seq, "input", f)
                continue
            u = self._usable(key, f"inputEPCList[{i}]")
            if u is None:
                continue
            if u.parent_id is not None:
                self._link(u, None)
            u.status = CONSUMED
            self._apply_place(u, f)
            self._touch(u, seq, "input", f)
        self._commission_all(f.outputs, f, seq, "outputEPCList", "output")
        self._check_classes(f)

    def _reference_event(self, f: EventFacts, seq: int) -> None:
        """TransactionEvent / AssociationEvent: references only, no state change."""
        named: list[tuple[str, str, str]] = []
        if f.parent is not None:
            named.append((f.parent, "parentID", "parent"))
        named += [(k, f"epcList[{i}]", "epc") for i, k in enumerate(f.epcs)]
        named += [(k, f"childEPCs[{i}]", "child") for i, k in enumerate(f.children)]
        for key, fld, role in named:
            if classify_key(key)[0] == "other":
                self._touch(self._identifier(key), seq, role, f)
                continue
            u = self._usable(key, fld)
            if u is not None:
                if f.event_type == "TransactionEvent":
                    self._apply_place(u, f)
                self._touch(u, seq, role, f)

    # ------------------------------------------------------------------ declarations
    def _declare(self, f: EventFacts, seq: int) -> int | None:
        """Flag the declared event erroneous and recompute what it touched.

        Returns the declared event's seq, ``None`` after an issue, or ``_REPEATED`` when
        the very same declaration was recorded before (a no-op, like any duplicate).
        """
        original = self._find_original(f)
        if original is None:
            return None
        earlier = original.declared_by_seq or self.changes.declared.get(original.seq)
        if earlier is not None:
            previous = self.snap.declarations.get(earlier)
            if previous is not None and dict(previous) == dict(f.declaration or {}):
                return _REPEATED
            self._issue(
                "declared-twice",
                f"event seq {original.seq} has already been declared erroneous",
                "errorDeclaration",
                f.event_id or f.event_hash,
            )
            return None
        excluded = {original.seq} | set(self.changes.declared)
        affected = [
            uid
            for uid, hist in self.snap.histories.items()
            if any(h.seq == original.seq for h in hist)
        ]
        new_states: dict[int, Unit] = {}
        for uid in sorted(affected):
            state = self._refold(uid, excluded)
            if state is None:
                return None
            new_states[uid] = state
        for uid, state in new_states.items():
            u = self.by_id[uid]
            new_parent = self.by_id.get(state.parent_id) if state.parent_id is not None else None
            self._link(u, new_parent)
            for name in _REFOLDED:
                setattr(u, name, getattr(state, name))
            if u.id not in self.changes.new_units:
                self.changes.dirty_units[u.id] = u
        self.changes.declared[original.seq] = seq
        self.snap.declarations[seq] = dict(f.declaration or {})
        return original.seq

    def _find_original(self, f: EventFacts) -> EventRef | None:
        candidates: list[EventRef] = []
        if f.event_id:
            candidates = [
                r for r in self.snap.events_by_id.get(f.event_id, ()) if not r.is_declaration
            ]
        if not candidates:
            candidates = [
                r for r in self.snap.events_by_hash.get(f.event_hash, ()) if not r.is_declaration
            ]
        if not candidates:
            ref = f.event_id or f.event_hash
            self._issue(
                "declared-unknown",
                f"declares event {ref} erroneous, but no such event is recorded",
                "errorDeclaration",
                ref,
            )
            return None
        return candidates[0]

    def _refold(self, uid: int, excluded: set[int]) -> Unit | None:
        """Recompute one unit's state from its history without the excluded events."""
        u = self.by_id[uid]
        s = Unit(id=u.id, key=u.key, kind=u.kind, gtin=u.gtin)
        for h in sorted(self.snap.histories[uid], key=lambda h: h.seq):
            if h.seq in excluded or h.declared:
                continue
            hf = h.facts
            commissions = (
                hf.event_type == "ObjectEvent" and hf.action == "ADD"
            ) or h.role == "output"
            if not s.tracked:
                s.last_seq, s.last_event_time = h.seq, hf.event_time
                continue
            if commissions:
                s.status = ACTIVE
                s.commissioned_seq = h.seq
                s.lot, s.expiry = (hf.lot, hf.expiry) if s.kind == "sgtin" else (None, None)
                s.parent_id = None
            elif s.status is None or s.status in _GONE:
                self._issue(
                    "declaration-breaks-history",
                    f"without the declared event, {u.key} would be"
                    f" {'uncommissioned' if s.status is None else s.status} when event seq"
                    f" {h.seq} uses it; declare that event erroneous first (earlier in this"
                    " document or before)",
                    "errorDeclaration",
                    u.key,
                )
                return None
            else:
                self._refold_effect(s, h)
            self._apply_place(s, hf)
            s.last_seq, s.last_event_time = h.seq, hf.event_time
        return s

    @staticmethod
    def _refold_effect(s: Unit, h: HistoryItem) -> None:
        hf = h.facts
        if h.role == "input":
            s.status, s.parent_id = CONSUMED, None
        elif hf.event_type == "ObjectEvent" and hf.action == "DELETE":
            destroy = hf.disposition in _DESTROY_DISPOSITIONS or hf.biz_step in _DESTROY_STEPS
            if h.role == "epc" or destroy:
                s.status = DECOMMISSIONED
            if h.role == "epc" or not destroy:
                s.parent_id = None
        elif h.role == "child" and hf.event_type == "AggregationEvent":
            if hf.action == "ADD":
                s.parent_id = h.parent_id
            elif hf.action == "DELETE":
                s.parent_id = None
        if hf.biz_step in _SHIP_STEPS and hf.action == "OBSERVE":
            s.status = SHIPPED
        elif hf.biz_step in _RECEIVE_STEPS and hf.action == "OBSERVE":
            s.status = ACTIVE


def referenced_keys(facts: Iterable[EventFacts]) -> set[str]:
    """Every identifier a batch of events names (what the store must load)."""
    keys: set[str] = set()
    for f in facts:
        keys.update(f.epcs)
        keys.update(f.children)
        keys.update(f.inputs)
        keys.update(f.outputs)
        if f.parent:
            keys.add(f.parent)
    return keys


def gtins_of(facts: Iterable[EventFacts]) -> set[str]:
    """The product GTINs a batch needs master data for.

    Only commissioning checks master data (ObjectEvent ADD, TransformationEvent outputs,
    and class-level quantities), so only those identifiers are looked at.
    """
    out: set[str] = set()
    for f in facts:
        commissioned: tuple[str, ...] = f.outputs
        if f.event_type == "ObjectEvent" and f.action == "ADD":
            commissioned = f.epcs
        for k in commissioned:
            if k.startswith("https://id.gs1.org/01/"):
                out.add(k[22:36])
        for cls in f.quantity_classes:
            try:
                key = canonical_key(cls)
            except ValueError:
                continue
            if key.startswith("https://id.gs1.org/01/"):
                out.add(key[22:36])
    return out
