"""The reference workload: a realistic pharmaceutical packaging site as EPCIS 2.0 JSON-LD.

Every test, benchmark and demo uses this data, so it follows what a US/EU serialisation
line actually reports (GS1 US "Applying GS1 Standards for DSCSA and Traceability",
EU FMD):

* master data in the first document's header: several products with NDC-based GTINs
  (GTIN-14 = indicator + ``03`` + NDC10 + check digit), name, dosage form, strength,
  packaging configuration; the site, its packaging lines and the customers' locations;
* per case: one commissioning ObjectEvent (``ADD``, ``commissioning``, ``active``) for the
  case's units with lot and expiry in ILMD, randomised serials (EU FMD Delegated
  Regulation 2016/161 Art. 4: non-sequential serial numbers); units found damaged or
  drawn as samples before packing are decommissioned (``DELETE``, ``decommissioning``,
  ``damaged`` / ``inactive``) — about 0.5 %; the case SSCC is commissioned and the
  units packed into it (AggregationEvent ``ADD``, ``packing``), 120 per case;
* rework, about 0.1 % of units: a packed unit is found defective — unpacked
  (``DELETE``, ``unpacking``), decommissioned, and a spare packed in its place;
* pallets of 40 cases (SSCC), then shipping (ObjectEvent ``OBSERVE``, ``shipping``,
  ``in_transit``) to a customer GLN with purchase order and despatch advice, source and
  destination; the newest pallets stay in the warehouse.

Deterministic for a seed: the same arguments give byte-identical files. Files are
bounded in size (``max_epcs`` EPC references each), named in capture order.
"""

from __future__ import annotations

import math
import random
import string
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from serialvault.gs1.checkdigit import gs1_check_digit

CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
#: GS1 company prefix of the demo manufacturer: ``03`` + a 4-digit labeler code (NDC-based).
LABELER = "0742"
COMPANY_PREFIX = "03" + LABELER
SITE_LOCATION_REF = "000011"
SERIAL_ALPHABET = string.ascii_uppercase.replace("O", "").replace("I", "") + string.digits[1:]
SITE_TZ = timezone(timedelta(hours=-5))
#: CBV 2.0 business transaction identifier form ``urn:epcglobal:cbv:bt:<GLN>:<id>``.
BT = "urn:epcglobal:cbv:bt:"

PRODUCTS = (
    # product code, package code, name, form, strength, net content
    ("0101", "12", "Serialvastatin", "TABLET", "20 mg", "30 tablets"),
    ("0102", "12", "Serialvastatin", "TABLET", "40 mg", "30 tablets"),
    ("0205", "30", "Aggregamab", "INJECTION", "100 mg/mL", "1 vial 2 mL"),
    ("0310", "60", "Chainomycin", "CAPSULE", "250 mg", "20 capsules"),
)
CUSTOMERS = (
    ("0398765", "00001", "Northeast Drug Distribution", "Newark", "NJ"),
    ("0398766", "00002", "Midwest Pharma Wholesale", "Columbus", "OH"),
    ("0398767", "00003", "Pacific Health Supply", "Sacramento", "CA"),
)


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """Parameters of the generated site."""

    units: int
    seed: int = 1
    units_per_case: int = 120
    cases_per_pallet: int = 40
    decommission_rate: float = 0.005
    rework_rate: float = 0.001
    lot_size: int = 48_000
    ship_fraction: float = 0.9
    max_epcs: int = 50_000
    lines: int = 4
    start: datetime = datetime(2026, 1, 5, 11, 0, tzinfo=UTC)


@dataclass(slots=True)
class Summary:
    """What was generated (printed by ``demo generate``)."""

    files: list[str] = field(default_factory=list)
    events: int = 0
    units_commissioned: int = 0
    units_decommissioned: int = 0
    units_reworked: int = 0
    cases: int = 0
    pallets: int = 0
    pallets_shipped: int = 0
    products: int = 0
    lots: int = 0
    epc_references: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


def gtin14(product: str, package: str, indicator: int = 0) -> str:
    body = f"{indicator}03{LABELER}{product}{package}"
    return body + gs1_check_digit(body)


def sgtin_urn(product: str, package: str, serial: str, indicator: int = 0) -> str:
    return f"urn:epc:id:sgtin:{COMPANY_PREFIX}.{indicator}{product}{package}.{serial}"


def sscc_urn(extension: int, serial_ref: int) -> str:
    ref = f"{extension}{serial_ref:010d}"
    return f"urn:epc:id:sscc:{COMPANY_PREFIX}.{ref}"


def sgln_urn(prefix: str, location_ref: str, extension: str = "0") -> str:
    return f"urn:epc:id:sgln:{prefix}.{location_ref}.{extension}"


def gln13(prefix: str, location_ref: str) -> str:
    body = prefix + location_ref
    return body + gs1_check_digit(body)


class _Clock:
    """Monotonic event time on the site's clock (UTC-05:00), one step per action."""

    def __init__(self, start: datetime) -> None:
        self.t = start

    def tick(self, seconds: float) -> tuple[str, str]:
        self.t += timedelta(seconds=seconds)
        local = self.t.astimezone(SITE_TZ)
        return local.isoformat(timespec="milliseconds"), "-05:00"


class _Writer:
    """Collects events into documents of bounded size."""

    def __init__(self, cfg: SiteConfig, header: dict[str, Any], summary: Summary) -> None:
        self.cfg = cfg
        self.header: dict[str, Any] | None = header
        self.events: list[dict[str, Any]] = []
        self.epcs = 0
        self.summary = summary
        self.docs: list[tuple[str, dict[str, Any]]] = []

    def add(self, event: dict[str, Any], epcs: int) -> None:
        self.events.append(event)
        self.epcs += epcs
        self.summary.events += 1
        self.summary.epc_references += epcs
        if self.epcs >= self.cfg.max_epcs:
            self.flush()

    def flush(self) -> None:
        if not self.events:
            return
        n = len(self.docs) + 1
        doc: dict[str, Any] = {
            "@context": [CONTEXT],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": self.events[-1]["eventTime"],
        }
        if self.header is not None:
            doc["epcisHeader"] = self.header
            self.header = None
        doc["epcisBody"] = {"eventList": self.events}
        self.docs.append((f"{n:05d}-site-events.jsonld", doc))
        self.events = []
        self.epcs = 0


def master_data(cfg: SiteConfig) -> dict[str, Any]:
    site = sgln_urn(COMPANY_PREFIX, SITE_LOCATION_REF)
    classes = []
    for product, package, name, form, strength, net in PRODUCTS:
        classes.append(
            {
                "id": f"https://id.gs1.org/01/{gtin14(product, package)}",
                "attributes": [
                    {
                        "id": "urn:epcglobal:cbv:mda#additionalTradeItemIdentification",
                        "attribute": f"{LABELER}-{product}-{package}",
                    },
                    {
                        "id": "urn:epcglobal:cbv:mda#additionalTradeItemIdentificationTypeCode",
                        "attribute": "US_FDA_NDC",
                    },
                    {"id": "urn:epcglobal:cbv:mda#regulatedProductName", "attribute": name},
                    {"id": "urn:epcglobal:cbv:mda#dosageFormType", "attribute": form},
                    {"id": "urn:epcglobal:cbv:mda#strengthDescription", "attribute": strength},
                    {"id": "urn:epcglobal:cbv:mda#netContentDescription", "attribute": net},
                    {
                        "id": "urn:epcglobal:cbv:mda#manufacturerOfTradeItemPartyName",
                        "attribute": "Serialvault Demo Pharma Inc.",
                    },
                    {"id": "urn:serialvault:mda:packagingLevel", "attribute": "each"},
                    {"id": "urn:serialvault:mda:unitsPerCase", "attribute": cfg.units_per_case},
                    {"id": "urn:serialvault:mda:casesPerPallet", "attribute": cfg.cases_per_pallet},
                ],
            }
        )
    locations = [
        _location(site, "Demo Pharma packaging site", "1 Serial Way", "Raleigh", "NC"),
        *(
            _location(
                sgln_urn(COMPANY_PREFIX, SITE_LOCATION_REF, f"L{i}"),
                f"Packaging line {i}",
                "1 Serial Way",
                "Raleigh",
                "NC",
            )
            for i in range(1, cfg.lines + 1)
        ),
        *(_location(sgln_urn(p, ref), n, "100 Commerce Dr", c, s) for p, ref, n, c, s in CUSTOMERS),
    ]
    return {
        "epcisMasterData": {
            "vocabularyList": [
                {"type": "urn:epcglobal:epcis:vtype:EPCClass", "vocabularyElementList": classes},
                {"type": "urn:epcglobal:epcis:vtype:Location", "vocabularyElementList": locations},
            ]
        }
    }


def _location(ident: str, name: str, street: str, city: str, state: str) -> dict[str, Any]:
    return {
        "id": ident,
        "attributes": [
            {"id": "urn:epcglobal:cbv:mda#name", "attribute": name},
            {"id": "urn:epcglobal:cbv:mda#streetAddressOne", "attribute": street},
            {"id": "urn:epcglobal:cbv:mda#city", "attribute": city},
            {"id": "urn:epcglobal:cbv:mda#state", "attribute": state},
            {"id": "urn:epcglobal:cbv:mda#countryCode", "attribute": "US"},
        ],
    }


class SiteGenerator:
    """Generates the site's documents in capture order."""

    def __init__(self, cfg: SiteConfig) -> None:
        if cfg.units < 1:
            raise ValueError("units must be at least 1")
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.clock = _Clock(cfg.start)
        self.summary = Summary(products=len(PRODUCTS))
        self.writer = _Writer(cfg, master_data(cfg), self.summary)
        self.serials: set[str] = set()
        self.next_sscc = 1
        self.site = sgln_urn(COMPANY_PREFIX, SITE_LOCATION_REF)
        self.site_gln = gln13(COMPANY_PREFIX, SITE_LOCATION_REF)

    # -------------------------------------------------------------- primitives
    def _event_id(self) -> str:
        return f"urn:uuid:{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"

    def _serial(self) -> str:
        while True:
            s = "".join(self.rng.choices(SERIAL_ALPHABET, k=12))
            if s not in self.serials:
                self.serials.add(s)
                return s

    def _sscc(self, extension: int) -> str:
        urn = sscc_urn(extension, self.next_sscc)
        self.next_sscc += 1
        return urn

    def _base(self, etype: str, seconds: float, line: int) -> dict[str, Any]:
        t, off = self.clock.tick(seconds)
        return {
            "type": etype,
            "eventTime": t,
            "eventTimeZoneOffset": off,
            "eventID": self._event_id(),
        }

    def _where(self, ev: dict[str, Any], line: int) -> None:
        ev["readPoint"] = {"id": sgln_urn(COMPANY_PREFIX, SITE_LOCATION_REF, f"L{line}")}
        ev["bizLocation"] = {"id": self.site}

    # -------------------------------------------------------------- events
    def _commission(self, epcs: list[str], line: int, lot: str | None, expiry: str | None) -> None:
        ev = self._base("ObjectEvent", 2.0, line)
        ev.update(
            {"epcList": epcs, "action": "ADD", "bizStep": "commissioning", "disposition": "active"}
        )
        self._where(ev, line)
        if lot is not None:
            ev["ilmd"] = {"cbvmda:lotNumber": lot, "cbvmda:itemExpirationDate": expiry}
        self.writer.add(ev, len(epcs))

    def _decommission(self, epcs: list[str], line: int, disposition: str) -> None:
        ev = self._base("ObjectEvent", 1.0, line)
        ev.update(
            {
                "epcList": epcs,
                "action": "DELETE",
                "bizStep": "decommissioning",
                "disposition": disposition,
            }
        )
        self._where(ev, line)
        self.writer.add(ev, len(epcs))

    def _aggregate(self, parent: str, children: list[str], action: str, line: int) -> None:
        ev = self._base("AggregationEvent", 3.0, line)
        step = "packing" if action == "ADD" else "unpacking"
        ev.update(
            {
                "parentID": parent,
                "childEPCs": children,
                "action": action,
                "bizStep": step,
                "disposition": "in_progress",
            }
        )
        self._where(ev, line)
        self.writer.add(ev, len(children) + 1)

    def _ship(self, pallets: list[str], order: int) -> None:
        prefix, ref, *_ = CUSTOMERS[order % len(CUSTOMERS)]
        ev = self._base("ObjectEvent", 30.0, 1)
        ev.update(
            {
                "epcList": pallets,
                "action": "OBSERVE",
                "bizStep": "shipping",
                "disposition": "in_transit",
                "readPoint": {"id": sgln_urn(COMPANY_PREFIX, SITE_LOCATION_REF, "DOCK1")},
                "bizLocation": {"id": self.site},
                "bizTransactionList": [
                    {
                        "type": "po",
                        "bizTransaction": f"{BT}{gln13(prefix, ref)}:PO{order:07d}",
                    },
                    {
                        "type": "desadv",
                        "bizTransaction": f"{BT}{self.site_gln}:DA{order:07d}",
                    },
                ],
                "sourceList": [
                    {"type": "owning_party", "source": self.site},
                    {"type": "location", "source": self.site},
                ],
                "destinationList": [
                    {"type": "owning_party", "destination": sgln_urn(prefix, ref)},
                    {"type": "location", "destination": sgln_urn(prefix, ref)},
                ],
            }
        )
        self.writer.add(ev, len(pallets))

    # -------------------------------------------------------------- the site
    def run(self) -> Iterator[tuple[str, dict[str, Any]]]:
        cfg = self.cfg
        s = self.summary
        cases_total = math.ceil(cfg.units / cfg.units_per_case)
        lot_cases = max(1, cfg.lot_size // cfg.units_per_case)
        pallet_cases: list[str] = []
        ready_pallets: list[str] = []
        order = 0
        for case_no in range(cases_total):
            line = case_no % cfg.lines + 1
            product, package, *_ = PRODUCTS[(case_no // lot_cases) % len(PRODUCTS)]
            lot_no = case_no // lot_cases
            lot = f"L{lot_no + 1:05d}"
            made = cfg.start.date() + timedelta(days=lot_no)
            expiry = _end_of_month(made.year + 2, made.month)
            if case_no % lot_cases == 0:
                s.lots += 1
            n_bad = self._count(cfg.units_per_case, cfg.decommission_rate)
            n_rework = self._count(cfg.units_per_case, cfg.rework_rate)
            units = [
                sgtin_urn(product, package, self._serial())
                for _ in range(cfg.units_per_case + n_bad + n_rework)
            ]
            self._commission(units, line, lot, expiry)
            s.units_commissioned += len(units)
            bad, spares, packed = (
                units[:n_bad],
                units[n_bad : n_bad + n_rework],
                units[n_bad + n_rework :],
            )
            if bad:
                damaged = [u for u in bad if self.rng.random() < 0.6]
                samples = [u for u in bad if u not in damaged]
                if damaged:
                    self._decommission(damaged, line, "damaged")
                if samples:
                    self._decommission(samples, line, "inactive")
                s.units_decommissioned += len(bad)
            case = self._sscc(0)
            self._commission([case], line, None, None)
            self._aggregate(case, list(packed), "ADD", line)
            for spare in spares:
                victim = packed[self.rng.randrange(len(packed))]
                packed.remove(victim)
                self._aggregate(case, [victim], "DELETE", line)
                self._decommission([victim], line, "damaged")
                self._aggregate(case, [spare], "ADD", line)
                packed.append(spare)
                s.units_reworked += 1
                s.units_decommissioned += 1
            s.cases += 1
            pallet_cases.append(case)
            last = case_no == cases_total - 1
            if len(pallet_cases) == cfg.cases_per_pallet or (last and pallet_cases):
                pallet = self._sscc(1)
                self._commission([pallet], 1, None, None)
                self._aggregate(pallet, pallet_cases, "ADD", 1)
                s.pallets += 1
                ready_pallets.append(pallet)
                pallet_cases = []
            ship_now = len(ready_pallets) >= 2 or (last and ready_pallets)
            if ship_now and (last or self.rng.random() < cfg.ship_fraction):
                self._ship(ready_pallets, order)
                order += 1
                s.pallets_shipped += len(ready_pallets)
                ready_pallets = []
        self.writer.flush()
        for name, doc in self.writer.docs:
            s.files.append(name)
            yield name, doc

    def _count(self, n: int, rate: float) -> int:
        """Binomial(n, rate) with the seeded generator (small n: direct trials)."""
        return sum(1 for _ in range(n) if self.rng.random() < rate)


def _end_of_month(year: int, month: int) -> str:
    nxt = datetime(year + (month == 12), month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).date().isoformat()
