"""How long is the GS1 Company Prefix at the front of a GS1 key?

A GS1 key (GTIN, SSCC, GLN, GRAI, …) is written as one run of digits; nothing in the key
says where the GS1 Company Prefix ends and the item, serial or location reference
begins (GS1 General Specifications §1.4.4). EPC pure-identity URIs need that boundary
— ``urn:epc:id:sgtin:0614141.107346.2017`` puts a dot after the company prefix (EPC Tag
Data Standard (TDS) 2.x §6.3, "the number of digits in the GS1 Company Prefix is
significant") — so converting a GS1 Digital Link URI or element string to an EPC URI
needs the prefix length from outside the key.

Two sources, in order:

1. an explicit mapping ``{leading digits: prefix length}`` supplied by the caller — the
   longest key that the digits start with wins. It covers what no public table can
   know: the GS1 US NDC-based GTINs whose company prefix is ``03`` followed by the FDA
   labeler code (so 6 or 7 digits depending on the labeler), prefixes allocated after
   the table was published, and private test prefixes;
2. the GS1 company-prefix length table shipped with ``biip``
   (:meth:`biip.gs1_prefixes.GS1CompanyPrefix.extract`), compiled from GS1's
   published prefix-length list (``gcpprefixformatlist``).

If neither knows the digits, :class:`~serialvault.errors.IdentifierError` says so and
how to supply the length. EPC URIs only allow company prefixes of 6 to 12 digits
(TDS 2.x §6.3), so lengths outside that range are refused too.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from serialvault.errors import IdentifierError

#: Shortest and longest GS1 Company Prefix an EPC URI can carry (TDS 2.x §6.3).
MIN_LENGTH = 6
MAX_LENGTH = 12


def _is_digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


@lru_cache(maxsize=8192)
def _table_length(digits: str) -> int | None:
    """Prefix length from biip's GS1 table, or None when the table has no entry.

    Cached: the table is a trie walk, and bulk conversions look up the same few
    hundred prefixes over and over. ``biip`` is imported here, on first use: its table
    takes a tenth of a second to load, which a command that converts no identifier
    (a log-in) should not pay.
    """
    from biip.gs1_prefixes import GS1CompanyPrefix

    found = GS1CompanyPrefix.extract(digits)
    return None if found is None else len(found.value)


def check_overrides(prefix_lengths: Mapping[str, int]) -> None:
    """Refuse override entries that cannot be right, naming the first bad one.

    >>> check_overrides({"952": 7})
    >>> try:
    ...     check_overrides({"952": 5})
    ... except IdentifierError as exc:
    ...     print(exc.message.split(": ", 2)[2])
    a GS1 Company Prefix in an EPC URI has 6 to 12 digits.
    """
    for prefix, length in prefix_lengths.items():
        if not _is_digits(prefix) or not prefix:
            raise IdentifierError(
                f"Invalid company prefix length override {prefix!r}: {length!r}: "
                "the key must be the leading digits of GS1 keys."
            )
        if isinstance(length, bool) or not isinstance(length, int):
            raise IdentifierError(
                f"Invalid company prefix length override {prefix!r}: {length!r}: "
                "the length must be an integer."
            )
        if not MIN_LENGTH <= length <= MAX_LENGTH:
            raise IdentifierError(
                f"Invalid company prefix length override {prefix!r}: {length}: "
                f"a GS1 Company Prefix in an EPC URI has {MIN_LENGTH} to {MAX_LENGTH} digits."
            )


def company_prefix_length(digits: str, prefix_lengths: Mapping[str, int] | None = None) -> int:
    """Return the length of the GS1 Company Prefix that ``digits`` start with.

    ``digits`` are the key digits *starting with the company prefix*: a GLN, GSRN or
    GSIN as is, a GTIN-14 or SSCC without its first (indicator / extension) digit, a
    GRAI without its leading filler zero.

    >>> company_prefix_length("0614141107346")
    7
    >>> company_prefix_length("0312345678906", {"03123": 7})
    7
    >>> try:
    ...     company_prefix_length("5200001999012")
    ... except IdentifierError as exc:
    ...     print(exc.message.split("; ")[1])
    supply it as prefix_lengths={'5200001': 7} (leading digits -> prefix length).
    """
    if not _is_digits(digits) or not digits:
        raise IdentifierError(
            f"Cannot find a GS1 Company Prefix in {digits!r}: a GS1 key starts with digits."
        )
    if prefix_lengths:
        check_overrides(prefix_lengths)
        best: str | None = None
        for prefix in prefix_lengths:
            if digits.startswith(prefix) and (best is None or len(prefix) > len(best)):
                best = prefix
        if best is not None:
            given = prefix_lengths[best]
            if given > len(digits):
                raise IdentifierError(
                    f"Company prefix length {given} given for {best!r} is longer than "
                    f"the key digits {digits!r}."
                )
            return given
    length = _table_length(digits[: MAX_LENGTH + 1])
    if length is None:
        example = digits[:7]
        raise IdentifierError(
            f"GS1 Company Prefix length unknown for {digits!r}: the GS1 company prefix "
            f"table has no entry for it; supply it as prefix_lengths={{{example!r}: 7}} "
            "(leading digits -> prefix length)."
        )
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise IdentifierError(
            f"GS1 Company Prefix of {digits!r} has {length} digits according to the GS1 "
            f"table; an EPC URI needs {MIN_LENGTH} to {MAX_LENGTH} (supply prefix_lengths "
            "to override)."
        )
    return length


def company_prefix(digits: str, prefix_lengths: Mapping[str, int] | None = None) -> str:
    """Return the GS1 Company Prefix that ``digits`` start with.

    >>> company_prefix("4012345000009")
    '4012345'
    """
    return digits[: company_prefix_length(digits, prefix_lengths)]
