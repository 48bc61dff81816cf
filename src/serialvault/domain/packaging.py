"""Packaging configuration check: a case or pallet whose child count differs from its
product's packaging configuration (pure).

A product's master data says how many units go in a case (``unitsPerCase``) and how
many cases on a pallet (``casesPerPallet``). EPCIS does not forbid a short case — the
last case of a lot often is one — so a mismatch is not a rejection: the document is
captured and the mismatch becomes an exception for review (issue: "captured and raises
an exception"; EU GMP Annex 11 §4.8 and 21 CFR 211.192 ask for deviations to be
recorded and investigated, not silently accepted). Containers are SSCCs (GS1 General
Specifications §2.2.1); a case is an SSCC holding SGTINs of one GTIN, a pallet an SSCC
holding SSCCs whose units are of one GTIN — or SGTINs of a GTIN whose packaging level
is ``case`` (the GS1 US DSCSA guideline serialises cases as SGTINs with their own
GTIN, and ships them on SSCC pallets). Mixed or unconfigured products are not
checked: there is no configuration to compare with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from serialvault.masterdata.model import PACKAGING_ATTRIBUTES

UNITS_PER_CASE = PACKAGING_ATTRIBUTES["unitsPerCase"]
CASES_PER_PALLET = PACKAGING_ATTRIBUTES["casesPerPallet"]


@dataclass(frozen=True, slots=True)
class Config:
    """A product's packaging configuration, from the version in force."""

    units_per_case: int | None
    cases_per_pallet: int | None
    version: int
    level: str | None = None  # packagingLevel: 'each', 'pack', 'case' …


@dataclass(frozen=True, slots=True)
class Contents:
    """What a container holds: how many children, of which kinds, and the GTINs of the
    units in it (its own children for a case; its cases' children for a pallet)."""

    count: int
    kinds: frozenset[str]
    gtins: frozenset[str | None]


@dataclass(frozen=True, slots=True)
class Mismatch:
    container: str
    level: str  # 'case' | 'pallet'
    gtin: str
    found: int
    expected: int
    version: int

    def __str__(self) -> str:
        what = "units" if self.level == "case" else "cases"
        return (
            f"{self.level} {self.container} holds {self.found} {what} of GTIN {self.gtin};"
            f" its packaging configuration (version {self.version}) says {self.expected}"
        )


def config_of(attributes: Mapping[str, object], version: int) -> Config:
    """The configuration in a product's attributes (counts that are not positive whole
    numbers are no configuration)."""

    def count(uri: str) -> int | None:
        v = attributes.get(uri)
        if isinstance(v, bool):
            return None
        if isinstance(v, str) and v.strip().isdigit():
            v = int(v.strip())
        return v if isinstance(v, int) and v > 0 else None

    level = attributes.get(PACKAGING_ATTRIBUTES["packagingLevel"])
    return Config(
        count(UNITS_PER_CASE),
        count(CASES_PER_PALLET),
        version,
        level.strip().lower() if isinstance(level, str) else None,
    )


def mismatches(contents: Mapping[str, Contents], config: Mapping[str, Config]) -> list[Mismatch]:
    """Every container whose child count differs from the configuration of the one
    product it holds (SGTIN children: a case; SSCC children: a pallet)."""
    out: list[Mismatch] = []
    for container, c in contents.items():
        if c.kinds not in ({"sgtin"}, {"sscc"}) or len(c.gtins) != 1 or None in c.gtins:
            continue
        (gtin,) = c.gtins
        assert gtin is not None
        cfg = config.get(gtin)
        if cfg is None:
            continue
        # SSCCs inside, or SGTINs that are themselves cases: a pallet
        level = "pallet" if c.kinds == {"sscc"} or cfg.level == "case" else "case"
        expected = cfg.units_per_case if level == "case" else cfg.cases_per_pallet
        if expected is not None and c.count != expected:
            out.append(Mismatch(container, level, gtin, c.count, expected, cfg.version))
    return out
