"""Micro-benchmarks of the hot paths below capture, with medians (part of ``make bench``).

Each figure is the median of ``--repeat`` timings of one operation on synthetic or
reference-workload data built here; nothing is asserted (speed is measured, not tested).

* validation of a 100k-EPC document (1,000 ObjectEvents × 100 SGTIN URNs);
* the GS1 event hash of a 120-SGTIN event;
* canonical key of an SGTIN URN (first sight, then cached);
* reading an EPCIS XML document with 100k EPCs;
* prepare (read, validate, hash, facts, bodies) of one 50k-EPC reference document;
* fingerprint and rebuild of a repository holding a reference site (``--units``).

Run: ``.venv/bin/python bench/micro.py [--units 100000] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from serialvault.demo.generator import SiteConfig, SiteGenerator
from serialvault.domain.prepare import prepare_bytes
from serialvault.epcis.hashing import event_hash
from serialvault.epcis.model import STANDARD_PREFIXES
from serialvault.epcis.reader import read_json
from serialvault.epcis.validate import validate_document
from serialvault.epcis.xml_reader import read_xml
from serialvault.gs1.epc import canonical_key
from serialvault.store.capture import Capturer
from serialvault.store.fingerprint import fingerprint
from serialvault.store.integrity import rebuild
from serialvault.store.repository import Repository

CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


def timings(fn: Callable[[], Any], repeat: int) -> list[float]:
    """Seconds per run. The per-EPC result cache is emptied before each run, so every
    run sees its identifiers for the first time, as capture of a new document does."""
    fn()  # warm-up: compiled schemas, GTIN-part caches, imports
    out = []
    for _ in range(repeat):
        canonical_key.cache_clear()
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def _object_event(n: int, base: int) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-01-05T06:00:00.000-05:00",
        "eventTimeZoneOffset": "-05:00",
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"},
        "epcList": [f"urn:epc:id:sgtin:0614141.107346.{base + i}" for i in range(n)],
        "ilmd": {"cbvmda:lotNumber": "L1", "cbvmda:itemExpirationDate": "2027-01-31"},
    }


def _json_doc(events: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(
        {
            "@context": [CONTEXT],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-01-05T11:00:00Z",
            "epcisBody": {"eventList": events},
        }
    )


def _xml_doc(n_events: int, per_event: int) -> bytes:
    head = (
        "<eventTime>2026-01-05T06:00:00Z</eventTime>"
        "<eventTimeZoneOffset>+00:00</eventTimeZoneOffset>"
    )
    parts = [
        '<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0"'
        ' creationDate="2026-01-05T11:00:00Z"><EPCISBody><EventList>'
    ]
    for e in range(n_events):
        epcs = "".join(
            f"<epc>urn:epc:id:sgtin:0614141.107346.{e * per_event + i}</epc>"
            for i in range(per_event)
        )
        parts.append(
            f"<ObjectEvent>{head}<epcList>{epcs}</epcList><action>OBSERVE</action></ObjectEvent>"
        )
    parts.append("</EventList></EPCISBody></epcis:EPCISDocument>")
    return "".join(parts).encode()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--units", type=int, default=100_000, help="site for fingerprint/rebuild")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    rows: list[tuple[str, str, list[float], str]] = []

    doc = read_json(_json_doc([_object_event(100, e * 100) for e in range(1000)]))
    t = timings(lambda: validate_document(doc), args.repeat)
    rows.append(
        (
            "validate a 100k-EPC document",
            "100,000 EPCs",
            t,
            f"{1e5 / statistics.median(t):,.0f} EPC/s",
        )
    )

    evs = [_object_event(120, e * 120) for e in range(100)]
    ns = dict(STANDARD_PREFIXES)
    t = timings(lambda: [event_hash(ev, ns) for ev in evs], args.repeat)
    rows.append(
        (
            "event hash of a 120-SGTIN event",
            "100 events",
            t,
            f"{statistics.median(t) * 1e4:.0f} µs/event",
        )
    )

    urns = [f"urn:epc:id:sgtin:0614141.107346.X{i}" for i in range(200_000)]

    def keys_first_sight() -> None:
        for u in urns:
            canonical_key(u)

    t = timings(keys_first_sight, args.repeat)
    rows.append(
        (
            "canonical key, first sight",
            "200,000 URNs",
            t,
            f"{statistics.median(t) / 2e5 * 1e6:.2f} µs/call",
        )
    )

    xml = _xml_doc(1000, 100)
    t = timings(lambda: read_xml(xml, "big.xml"), args.repeat)
    rows.append(("read EPCIS XML", "100,000 EPCs", t, f"{1e5 / statistics.median(t):,.0f} EPC/s"))

    with tempfile.TemporaryDirectory() as tmp:
        site = [
            (n, orjson.dumps(d))
            for n, d in SiteGenerator(SiteConfig(units=args.units, seed=1)).run()
        ]
        name, data = max(site, key=lambda x: len(x[1]))
        t = timings(lambda: prepare_bytes(data, name), args.repeat)
        p = prepare_bytes(data, name)
        rows.append(
            (
                "prepare one reference document",
                f"{p.epcs:,} EPC refs",
                t,
                f"{p.epcs / statistics.median(t):,.0f} EPC refs/s",
            )
        )

        repo = Repository.open(str(Path(tmp) / "m.db"), must_exist=False)
        repo.init("bench")
        cap = Capturer(repo, actor="bench")
        for n, d in site:
            cap.capture_bytes(d, n)
        with repo.read() as conn:
            n_rows = sum(ts.rows for ts in fingerprint(conn).tables.values())

        def fp() -> None:
            with repo.read() as conn:
                fingerprint(conn)

        t = timings(fp, args.repeat)
        rows.append(
            (
                "fingerprint (SQLite)",
                f"{n_rows:,} rows",
                t,
                f"{n_rows / statistics.median(t):,.0f} rows/s",
            )
        )
        t = timings(lambda: rebuild(repo, actor="bench"), max(1, args.repeat // 2))
        rows.append(("rebuild = replay + 2 fingerprints (SQLite)", f"{args.units:,} units", t, "-"))

    print(f"## Micro-benchmarks (`bench/micro.py --units {args.units} --repeat {args.repeat}`)\n")
    print("| operation | size | median s | runs s | rate |")
    print("| --- | --- | --- | --- | --- |")
    for op, size, t, rate in rows:
        runs = " / ".join(f"{x:.3f}" for x in t)
        print(f"| {op} | {size} | {statistics.median(t):.3f} | {runs} | {rate} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
