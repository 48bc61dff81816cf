"""A case or pallet whose child count differs from its packaging configuration is
captured and raises one exception per document, in the same transaction."""

from __future__ import annotations

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from serialvault.domain.packaging import Config, Contents, config_of, mismatches
from serialvault.errors import DocumentRejected
from serialvault.masterdata.model import PACKAGING_ATTRIBUTES, Product
from serialvault.store import schema
from serialvault.store.capture import Capturer, CaptureResult
from serialvault.store.masterdata import add_product
from serialvault.store.repository import Repository
from tests import builders as b

OTHER = ("0102", "12")


def _configure(repo: Repository, units_per_case: int | None, cases_per_pallet: int | None) -> None:
    for product in (b.PRODUCT, OTHER):
        attrs = {
            PACKAGING_ATTRIBUTES["unitsPerCase"]: units_per_case,
            PACKAGING_ATTRIBUTES["casesPerPallet"]: cases_per_pallet,
        }
        gtin = b.gtin14(*product)
        p = Product(gtin=gtin, name=f"P {gtin}", attributes={k: v for k, v in attrs.items() if v})
        add_product(repo, p, actor="tester@test", reason="test master data")


def _capture(repo: Repository, *events: dict[str, object]) -> CaptureResult:
    return Capturer(repo, actor="tester@test").capture_bytes(b.document(*events), "pack.jsonld")


def _exceptions(repo: Repository) -> list[dict[str, object]]:
    with repo.read() as conn:
        rows = conn.execute(
            sa.select(
                schema.exceptions.c.type,
                schema.exceptions.c.reason,
                schema.exceptions.c.identifiers,
            )
        ).all()
    return [{"type": r[0], "reason": r[1], "identifiers": orjson.loads(r[2])} for r in rows]


def test_a_short_case_is_captured_and_raises_one_exception(repo: Repository) -> None:
    _configure(repo, 6, 3)
    units = [b.sgtin(f"S{i}") for i in range(5)]
    full = [b.sgtin(f"F{i}") for i in range(6)]
    short, ok = b.sscc(501), b.sscc(502)
    res = _capture(
        repo,
        b.commission(units + full),
        b.commission_containers([short, ok]),
        b.pack(short, units),
        b.pack(ok, full),
    )
    assert res.recorded == 4  # commission, commission containers, two packings
    (exc,) = _exceptions(repo)
    assert exc["type"] == "count-mismatch"
    assert exc["identifiers"] == [b.dl(short)]
    assert f"case {b.dl(short)} holds 5 units of GTIN {b.GTIN}" in str(exc["reason"])
    assert "says 6" in str(exc["reason"])
    assert any("packaging configuration" in w for w in res.warnings)
    # the exception is written with the events: its seq follows them in the same commit
    assert res.last_seq == repo.head().seq


def test_a_pallet_with_too_few_cases_is_named(repo: Repository) -> None:
    _configure(repo, 2, 3)
    units = [b.sgtin(f"P{i}") for i in range(4)]
    cases = [b.sscc(601), b.sscc(602)]
    pallet = b.sscc(699)
    _capture(
        repo,
        b.commission(units),
        b.commission_containers([*cases, pallet]),
        b.pack(cases[0], units[:2]),
        b.pack(cases[1], units[2:]),
        b.pack(pallet, cases),
    )
    (exc,) = _exceptions(repo)
    assert exc["identifiers"] == [b.dl(pallet)]
    assert "holds 2 cases" in str(exc["reason"])
    assert "says 3" in str(exc["reason"])


@pytest.mark.parametrize(
    ("units_per_case", "mixed"),
    [(4, False), (None, False), (3, True)],
    ids=["exact", "unconfigured", "mixed"],
)
def test_no_exception_without_a_mismatch_to_name(
    repo: Repository, units_per_case: int | None, mixed: bool
) -> None:
    _configure(repo, units_per_case, None)
    units = [b.sgtin(f"M{i}", OTHER if mixed and i == 0 else b.PRODUCT) for i in range(4)]
    case = b.sscc(701)
    _capture(repo, b.commission(units), b.commission_containers([case]), b.pack(case, units))
    assert _exceptions(repo) == []


def test_a_rejected_document_raises_no_count_exception(repo: Repository) -> None:
    _configure(repo, 6, None)
    units = [b.sgtin(f"R{i}") for i in range(2)]
    case = b.sscc(801)
    with pytest.raises(DocumentRejected):
        _capture(
            repo,
            b.commission(units),
            b.commission_containers([case]),
            b.pack(case, units),
            b.observe([b.sgtin("NEVER")]),
        )
    assert [e["type"] for e in _exceptions(repo)] == ["rule-violation"]


@given(
    found=st.integers(min_value=1, max_value=50),
    expected=st.integers(min_value=1, max_value=50),
    level=st.sampled_from(["sgtin", "sscc"]),
)
def test_the_rule_flags_exactly_the_counts_that_differ(
    found: int, expected: int, level: str
) -> None:
    container = "https://id.gs1.org/00/003074200000000017"
    held = {container: Contents(found, frozenset({level}), frozenset({b.GTIN}))}
    config = {b.GTIN: Config(expected, expected, 1)}
    got = mismatches(held, config)
    assert bool(got) == (found != expected)
    mixed = {container: Contents(found, frozenset({"sgtin", "sscc"}), frozenset({b.GTIN}))}
    two = {container: Contents(found, frozenset({level}), frozenset({b.GTIN, "x"}))}
    assert mismatches(mixed, config) == mismatches(two, config) == []


def test_counts_that_are_not_whole_positive_numbers_are_no_configuration() -> None:
    uri = PACKAGING_ATTRIBUTES["unitsPerCase"]
    assert config_of({uri: "24"}, 1).units_per_case == 24
    for bad in (0, -3, "x", True, 2.5, None):
        assert config_of({uri: bad}, 1).units_per_case is None


def test_a_pallet_whose_cases_hold_two_products_is_not_checked(repo: Repository) -> None:
    """Three cases on a pallet configured for two — but one case holds another product:
    no single configuration applies, so nothing is named (and no false exception)."""
    _configure(repo, 2, 2)
    ours = [b.sgtin(f"A{i}") for i in range(4)]
    theirs = [b.sgtin(f"O{i}", OTHER) for i in range(2)]
    cases, pallet = [b.sscc(901), b.sscc(902), b.sscc(903)], b.sscc(909)
    _capture(
        repo,
        b.commission(ours),
        b.commission(theirs),
        b.commission_containers([*cases, pallet]),
        b.pack(cases[0], ours[:2]),
        b.pack(cases[1], ours[2:]),
        b.pack(cases[2], theirs),
        b.pack(pallet, cases),
    )
    assert _exceptions(repo) == []
    more = [b.sgtin(f"M{i}") for i in range(4)]
    same, full = [b.sscc(911), b.sscc(912), b.sscc(913)], b.sscc(919)
    _capture(
        repo,
        b.commission([*more, b.sgtin("M9"), b.sgtin("M8")]),
        b.commission_containers([*same, full]),
        b.pack(same[0], more[:2]),
        b.pack(same[1], more[2:]),
        b.pack(same[2], [b.sgtin("M9"), b.sgtin("M8")]),
        b.pack(full, same),
    )
    (exc,) = _exceptions(repo)  # one product throughout: the pallet of three is named
    assert exc["identifiers"] == [b.dl(full)]


def test_sgtin_cases_on_a_pallet_are_counted_against_cases_per_pallet(repo: Repository) -> None:
    """The DSCSA pattern of GS1 US: cases are SGTINs of a case-level GTIN, shipped on an
    SSCC pallet. Their count is the pallet's, compared with the case product's
    ``casesPerPallet`` — never with a units-per-case figure."""
    case_gtin = b.gtin14(*OTHER)
    attrs = {
        PACKAGING_ATTRIBUTES["packagingLevel"]: "case",
        PACKAGING_ATTRIBUTES["unitsPerCase"]: 3,  # what it would wrongly be compared with
        PACKAGING_ATTRIBUTES["casesPerPallet"]: 2,
    }
    add_product(repo, Product(gtin=case_gtin, name="Case", attributes=attrs), actor="t", reason="r")
    cases = [b.sgtin(f"C{i}", OTHER) for i in range(3)]
    pallet = b.sscc(950)
    _capture(repo, b.commission(cases), b.commission_containers([pallet]), b.pack(pallet, cases))
    (exc,) = _exceptions(repo)
    assert exc["identifiers"] == [b.dl(pallet)]
    assert "pallet" in str(exc["reason"])
    assert "holds 3 cases" in str(exc["reason"])
    assert "says 2" in str(exc["reason"])
