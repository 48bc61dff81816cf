"""Rework: unpack, repack, replace and decommission, as the EPCIS events a line writes.

A rework changes the physical hierarchy, so the record must say so the way a line
system would: EPCIS 2.0 events (§7.4.2 ObjectEvent, §7.4.3 AggregationEvent) with the
CBV 2.0 business step and disposition (§7.1, §7.2), captured through the normal
pipeline — every lifecycle and hierarchy rule applies, and a rework that breaks one (a
second parent, a unit that was never commissioned) is refused like any capture, with an
exception record and nothing changed. The events are one document, all or nothing.

A rework names the exception it answers (``--exception EX-n``): the document's name
says so (kept in each event's log record), and after the capture commits an
``exception.action`` of kind ``rework`` lists the events' seqs in the exception's
history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from serialvault.app import exceptions as exc_app
from serialvault.app.context import open_as
from serialvault.domain.access import Action
from serialvault.errors import ConflictError, NotFound, SerialvaultError, UsageError
from serialvault.identity.auth import Principal
from serialvault.settings import Settings
from serialvault.store import queries
from serialvault.store.capture import Capturer
from serialvault.store.repository import Repository
from serialvault.timefmt import now_utc

CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"

#: ``--reason`` of a decommissioning → (CBV 2.0 §7.1 business step, §7.2 disposition).
#: ``destroyed`` uses ``destroying``: the standard's destruction, which takes the
#: contents of a container with it (the lifecycle rules decommission them too); every
#: other reason decommissions the object itself, and a container's contents are
#: released (unpacked), not decommissioned.
REASONS: dict[str, tuple[str, str]] = {
    "damaged": ("decommissioning", "damaged"),
    "destroyed": ("destroying", "destroyed"),
    "sample": ("sampling", "non_sellable_other"),
    "expired": ("decommissioning", "expired"),
    "recalled": ("decommissioning", "recalled"),
    "stolen": ("decommissioning", "stolen"),
    "other": ("decommissioning", "inactive"),
}


@dataclass
class Reworked:
    """What a rework did: the events captured, their seqs, the exception linked."""

    operation: str
    events: list[dict[str, Any]]
    first_seq: int | None
    last_seq: int | None
    exception: str | None = None
    link_seq: int | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "events": [
                {
                    "type": e["type"],
                    "action": e["action"],
                    "bizStep": e.get("bizStep"),
                    "disposition": e.get("disposition"),
                    **({"parentID": e["parentID"]} if "parentID" in e else {}),
                    **{k: e[k] for k in ("epcList", "childEPCs") if k in e},
                }
                for e in self.events
            ],
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "exception": self.exception,
            "link_seq": self.link_seq,
            "warnings": self.warnings,
        }


def _key(text: str, what: str) -> str:
    try:
        return queries.resolve_key(text)
    except ValueError as exc:
        raise UsageError(f"{what} {text!r}: {exc}") from None


def _state(repo: Repository, key: str) -> dict[str, Any] | None:
    with repo.read() as conn:
        try:
            return queries.unit_state(conn, key)
        except NotFound:
            return None


def _event(etype: str, when: str, location: str | None, **fields: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {"type": etype, "eventTime": when, "eventTimeZoneOffset": "+00:00"}
    ev.update({k: v for k, v in fields.items() if v is not None})
    if location:
        ev["bizLocation"] = {"id": location}
    return ev


def _capture(
    repo: Repository,
    who: Principal,
    settings: Settings,
    operation: str,
    events: list[dict[str, Any]],
    exception: str | None,
) -> Reworked:
    """Capture the rework's events as one document (all or nothing), then link them."""
    if exception is not None:
        exc_app.check_open(repo, exception)
    now = now_utc()
    doc = {
        "@context": [CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": now,
        "epcisBody": {"eventList": events},
    }
    label = f"rework {operation}" + (f" for {exception.upper()}" if exception else "")
    capturer = Capturer(
        repo,
        actor=who.actor,
        reason=label,
        extra_schemas=settings.extra_schemas(),
        limits=settings.limits,
    )
    result = capturer.capture_bytes(orjson.dumps(doc), f"{label} at {now}")
    out = Reworked(operation, events, result.first_seq, result.last_seq, warnings=result.warnings)
    if exception is not None and result.first_seq is not None:
        seqs = list(range(result.first_seq, (result.last_seq or result.first_seq) + 1))
        out.exception = exception.upper()
        try:
            out.link_seq = exc_app.link_rework(
                repo, who, exception, operation, [str(s) for s in seqs]
            )
        except SerialvaultError as exc:  # closed meanwhile: the events stand, say so
            out.warnings.append(
                f"the events are recorded (log seq {seqs[0]}–{seqs[-1]}, their document"
                f" names {out.exception}), but the exception could not be linked: {exc.message}"
            )
    return out


def _open(settings: Settings, db: str | None) -> tuple[Repository, Principal]:
    return open_as(settings, db, Action.REWORK)


def unpack(
    settings: Settings,
    db: str | None,
    container: str,
    *,
    children: list[str] | None = None,
    exception: str | None = None,
) -> Reworked:
    """``rework unpack``: take the named children (default: all) out of a container —
    one AggregationEvent ``DELETE``, business step ``unpacking``."""
    parent = _key(container, "CONTAINER")
    repo, who = _open(settings, db)
    state = _state(repo, parent)
    if state is None:
        raise NotFound(f"{parent} is not recorded in this repository; nothing was changed")
    keys = [_key(c, "--child") for c in children or []]
    if not keys:
        with repo.read() as conn:
            keys = [k for _d, k, _kind, _p in queries.contents(conn, parent, 1).rows]
        if not keys:
            raise ConflictError(f"{parent} holds nothing to unpack; nothing was changed")
    when = now_utc()
    ev = _event(
        "AggregationEvent",
        when,
        state.get("biz_location"),
        parentID=parent,
        childEPCs=keys,
        action="DELETE",
        bizStep="unpacking",
    )
    return _capture(repo, who, settings, "unpack", [ev], exception)


def repack(
    settings: Settings,
    db: str | None,
    into: str,
    children: list[str],
    *,
    exception: str | None = None,
) -> Reworked:
    """``rework repack``: pack children into a container — one AggregationEvent ``ADD``,
    business step ``packing``; a logistic unit (SSCC) not yet commissioned is
    commissioned first, in the same document."""
    if not children:
        raise UsageError("rework repack needs at least one --child EPC")
    parent = _key(into, "--into")
    keys = [_key(c, "--child") for c in children]
    repo, who = _open(settings, db)
    state = _state(repo, parent)
    when = now_utc()
    events = []
    location = state.get("biz_location") if state else None
    if state is None:
        if "/00/" not in parent:
            raise NotFound(
                f"{parent} is not recorded in this repository, and only a logistic unit"
                " (SSCC) is commissioned by a repack; nothing was changed"
            )
        first = _state(repo, keys[0])
        location = first.get("biz_location") if first else None
        events.append(
            _event(
                "ObjectEvent",
                when,
                location,
                epcList=[parent],
                action="ADD",
                bizStep="commissioning",
                disposition="active",
            )
        )
    events.append(
        _event(
            "AggregationEvent",
            when,
            location,
            parentID=parent,
            childEPCs=keys,
            action="ADD",
            bizStep="packing",
            disposition="in_progress",
        )
    )
    return _capture(repo, who, settings, "repack", events, exception)


def replace(
    settings: Settings,
    db: str | None,
    old: str,
    new: str,
    *,
    reason: str = "damaged",
    exception: str | None = None,
) -> Reworked:
    """``rework replace``: a damaged unit leaves its case and a unit of the same product
    takes its place — unpack the old unit, decommission it (``--reason``), commission
    the new one with the old one's lot and expiry when it is not yet commissioned, and
    pack it into the same case: one document, all or nothing."""
    if reason not in REASONS:
        raise UsageError(f"--reason {reason!r}: one of {', '.join(REASONS)}")
    old_key, new_key = _key(old, "--old"), _key(new, "--new")
    if old_key == new_key:
        raise UsageError("--old and --new name the same unit")
    repo, who = _open(settings, db)
    gone = _state(repo, old_key)
    if gone is None:
        raise NotFound(f"--old {old_key} is not recorded in this repository; nothing was changed")
    parent = gone.get("parent")
    if not parent:
        raise ConflictError(
            f"--old {old_key} is not packed in anything: there is nothing to replace it in"
            " (rework decommission takes a loose unit out); nothing was changed"
        )
    fresh = _state(repo, new_key)
    new_gtin = fresh["gtin"] if fresh else _gtin_of(new_key)
    if new_gtin != gone["gtin"]:
        raise ConflictError(
            f"--new {new_key} is product {new_gtin}, --old {old_key} is {gone['gtin']}: a"
            " replacement is the same product; nothing was changed"
        )
    events, warnings = _replacement(gone, old_key, new_key, fresh is None, REASONS[reason])
    done = _capture(repo, who, settings, "replace", events, exception)
    done.warnings = warnings + done.warnings
    return done


def _replacement(
    gone: dict[str, Any], old_key: str, new_key: str, commission: bool, how: tuple[str, str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The events of a replacement, in order: unpack the old unit, decommission it,
    commission the new one (with the old one's lot and expiry) when it is not yet, pack
    it into the old one's case."""
    step, disposition = how
    parent = gone["parent"]
    when = now_utc()
    loc = gone.get("biz_location")
    events = [
        _event(
            "AggregationEvent",
            when,
            loc,
            parentID=parent,
            childEPCs=[old_key],
            action="DELETE",
            bizStep="unpacking",
        ),
        _event(
            "ObjectEvent",
            when,
            loc,
            epcList=[old_key],
            action="DELETE",
            bizStep=step,
            disposition=disposition,
        ),
    ]
    warnings = []
    if commission:
        ilmd = {
            k: v
            for k, v in (
                ("cbvmda:lotNumber", gone.get("lot")),
                ("cbvmda:itemExpirationDate", gone.get("expiry")),
            )
            if v
        }
        events.append(
            _event(
                "ObjectEvent",
                when,
                loc,
                epcList=[new_key],
                action="ADD",
                bizStep="commissioning",
                disposition="active",
                ilmd=ilmd or None,
            )
        )
        warnings.append(
            f"{new_key} was not commissioned: commissioned now with lot {gone.get('lot')}"
            f" and expiry {gone.get('expiry')} of the unit it replaces"
        )
    events.append(
        _event(
            "AggregationEvent",
            when,
            loc,
            parentID=parent,
            childEPCs=[new_key],
            action="ADD",
            bizStep="packing",
            disposition="in_progress",
        )
    )
    return events, warnings


def _gtin_of(key: str) -> str | None:
    """The GTIN of an SGTIN key (a Digital Link ``…/01/GTIN/21/serial``), else ``None``."""
    parts = key.split("/")
    if "01" in parts and "21" in parts:
        i = parts.index("01")
        return parts[i + 1] if i + 1 < len(parts) else None
    return None


def decommission(
    settings: Settings,
    db: str | None,
    epc: str,
    *,
    reason: str,
    exception: str | None = None,
) -> Reworked:
    """``rework decommission``: take a unit or container out of the supply chain — one
    ObjectEvent ``DELETE`` with the business step and disposition of ``--reason``
    (``REASONS``). ``destroyed`` decommissions a container's contents with it, as CBV
    ``destroying`` means; any other reason releases the contents."""
    if reason not in REASONS:
        raise UsageError(f"--reason {reason!r}: one of {', '.join(REASONS)}")
    key = _key(epc, "EPC")
    repo, who = _open(settings, db)
    state = _state(repo, key)
    if state is None:
        raise NotFound(f"{key} is not recorded in this repository; nothing was changed")
    step, disposition = REASONS[reason]
    ev = _event(
        "ObjectEvent",
        now_utc(),
        state.get("biz_location"),
        epcList=[key],
        action="DELETE",
        bizStep=step,
        disposition=disposition,
    )
    return _capture(repo, who, settings, f"decommission ({reason})", [ev], exception)
