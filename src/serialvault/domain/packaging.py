"""Packaging configuration check: a case or pallet whose child count differs from its
product's packaging configuration (pure).

A product's master data says how many units go in a case (``unitsPerCase``) and how
many cases on a pallet (``casesPerPallet``). EPCIS does not forbid a short case — the
last case of a lot often is one — so a mismatch is not a rejection: the document is
captured and the mismatch becomes an exception for review (issue: "captured and raises
an exception"; EU GMP Annex 11 §4.8 and 21 CFR 211.192 ask for deviations to be
recorded and investigated, not silently accepted). Containers are SSCCs (GS1 General
Specifications §2.2.1); a case is an SSCC holding SGTINs of one GTIN, a pallet an SSCC
holding SSCCs whose units are of one GTIN. Mixed or unconfigured products are not
checked: there is no configuration to compare with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from serialvault.masterdata.model import PACKAGING_ATTRIBUTES

UNITS_PER_CASE = PACKAGING_ATTRIBUTES["unitsPerCase"]
CASES_PER_PALLET = PACKAGING_ATTRIBUTES["casesPerPallet"]
_SGTIN = "https://id.gs1.org/01/"
_SSCC = "https://id.gs1.org/00/"


@dataclass(frozen=True, slots=True)
class Config:
    """A product's packaging configuration, from the version recorded now."""

    units_per_case: int | None
    cases_per_pallet: int | None
    version: int


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


def gtin_of(key: str) -> str | None:
    """The GTIN-14 of an SGTIN key (``None`` for anything else).

    >>> gtin_of("https://id.gs1.org/01/00307420101127/21/A1")
    '00307420101127'
    """
    if key.startswith(_SGTIN) and "/21/" in key:
        return key[len(_SGTIN) : len(_SGTIN) + 14]
    return None


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

    return Config(count(UNITS_PER_CASE), count(CASES_PER_PALLET), version)


def mismatches(
    containers: Sequence[str],
    children: Mapping[str, Sequence[str]],
    config: Mapping[str, Config],
) -> list[Mismatch]:
    """Every container among ``containers`` whose child count differs from the
    configuration of the one product it holds. ``children`` maps a container key to its
    children's keys, and holds the cases of each pallet too."""
    out: list[Mismatch] = []
    for parent in containers:
        kids = children.get(parent, ())
        if not parent.startswith(_SSCC) or not kids:
            continue
        if all(gtin_of(k) for k in kids):
            gtins = {gtin_of(k) for k in kids}
            level = "case"
        elif all(k.startswith(_SSCC) for k in kids):
            gtins = {gtin_of(u) for case in kids for u in children.get(case, ())}
            level = "pallet"
        else:
            continue
        if len(gtins) != 1 or None in gtins:
            continue
        (gtin,) = gtins
        assert gtin is not None
        c = config.get(gtin)
        expected = (
            None if c is None else (c.units_per_case if level == "case" else c.cases_per_pallet)
        )
        if c is not None and expected is not None and len(kids) != expected:
            out.append(Mismatch(parent, level, gtin, len(kids), expected, c.version))
    return out
