"""Reading the record: a unit's state and history, a container's contents, a unit's
ancestors, and events filtered like EPCIS 2.0 SimpleEventQuery (EPCIS 2.0 §8.2.7).

Read operations need no role beyond read access; they never write (ALCOA+ "available":
the record is legible to inspectors without changing it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from serialvault.app.context import open_to_read
from serialvault.epcis.jsonld_writer import query_document
from serialvault.settings import Settings
from serialvault.store import queries
from serialvault.store.queries import EventQuery
from serialvault.timefmt import now_utc


@dataclass(frozen=True)
class UnitView:
    key: str
    state: dict[str, Any]
    history: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "history": self.history}


def unit(settings: Settings, db: str | None, epc: str) -> UnitView:
    """A unit's current state and full history (EPC URN, Digital Link or element string)."""
    key = queries.resolve_key(epc)
    with open_to_read(settings, db).read() as conn:
        return UnitView(key, queries.unit_state(conn, key), queries.unit_history(conn, key))


@dataclass(frozen=True)
class ContentsView:
    container: str
    rows: list[dict[str, Any]]
    summary_only: bool = False

    def groups(self) -> list[tuple[int, str, str, int]]:
        """(depth, kind, status, count), sorted."""
        counts: dict[tuple[int, str, str], int] = {}
        for r in self.rows:
            g = (r["depth"], r["kind"], r["status"] or "-")
            counts[g] = counts.get(g, 0) + 1
        return [(d, k, s, n) for (d, k, s), n in sorted(counts.items())]

    def by_depth(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for r in self.rows:
            out[r["depth"]] = out.get(r["depth"], 0) + 1
        return dict(sorted(out.items()))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"container": self.container, "count": len(self.rows)}
        data["by_depth"] = [
            {"depth": d, "kind": k, "status": s, "count": n} for d, k, s, n in self.groups()
        ]
        if not self.summary_only:
            data["contents"] = self.rows
        return data


def contents(
    settings: Settings, db: str | None, epc: str, depth: int | None = None, summary: bool = False
) -> ContentsView:
    """Everything inside a container, at any depth (or down to ``depth``)."""
    key = queries.resolve_key(epc)
    with open_to_read(settings, db).read() as conn:
        return ContentsView(key, queries.contents_detail(conn, key, depth), summary)


@dataclass(frozen=True)
class AncestorsView:
    unit: str
    ancestors: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"unit": self.unit, "ancestors": self.ancestors}


def ancestors(settings: Settings, db: str | None, epc: str) -> AncestorsView:
    """The containers around a unit, innermost first."""
    key = queries.resolve_key(epc)
    with open_to_read(settings, db).read() as conn:
        return AncestorsView(key, queries.ancestors(conn, key))


@dataclass(frozen=True)
class EventsView:
    rows: list[dict[str, Any]]
    document: dict[str, Any] | None = None  # the EPCIS query document, when asked for

    def to_dict(self) -> Any:
        return self.document if self.document is not None else self.rows


def events(settings: Settings, db: str | None, query: EventQuery, full: bool = False) -> EventsView:
    """Events matching ``query``; with ``full``, also the events themselves as an EPCIS
    2.0 query document (each with its recordTime and namespace declarations)."""
    with open_to_read(settings, db).read() as conn:
        rows = queries.query_events(conn, query)
        if not full:
            return EventsView(rows)
        bodies = queries.event_bodies(conn, [r["seq"] for r in rows])
    stored = []
    for r in rows:
        body = bodies[r["seq"]]
        stored.append(
            ({**body["event"], "recordTime": r["record_time"]}, body.get("namespaces") or {})
        )
    return EventsView(rows, query_document(stored, now_utc()))
