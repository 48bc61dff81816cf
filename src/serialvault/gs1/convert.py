"""Conversions between the three spellings of a GS1 identifier.

* GS1 element strings — what a barcode carries: ``(01)09521234543213(21)ABC`` in
  human-readable form or with FNC1 separators as scanned (GS1 General Specifications §3);
* EPC pure-identity URNs — ``urn:epc:id:sgtin:9521234.054321.ABC`` (EPC Tag Data
  Standard §6);
* GS1 Digital Link URIs — ``https://id.gs1.org/01/09521234543213/21/ABC`` (GS1 Digital
  Link URI Syntax 1.2 §4).

Element strings and Digital Links share the Application Identifiers, so they convert
without further knowledge; EPC URNs need the GS1 Company Prefix length, which
:mod:`serialvault.gs1.company_prefix` finds (biip's prefix table, plus overrides).
Parsing and validation stay with the modules that own them (:mod:`element_string`,
:mod:`epc`); this module only maps between them.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from serialvault.errors import IdentifierError
from serialvault.gs1.element_string import ElementString
from serialvault.gs1.epc import EpcKey

#: Primary GS1 keys and the key qualifiers that may follow them in a Digital Link path,
#: in path order (GS1 Digital Link URI Syntax 1.2 §4.5, Table 4-1).
_QUALIFIERS: dict[str, tuple[str, ...]] = {
    "00": (),
    "01": ("22", "10", "21"),
    "253": (),
    "255": (),
    "401": (),
    "402": (),
    "414": ("254",),
    "417": (),
    "8003": (),
    "8004": (),
    "8006": ("22", "10", "21"),
    "8010": ("8011",),
    "8017": ("8019",),
    "8018": ("8019",),
}


def element_string_to_key(text: str, *, reference_year: int) -> EpcKey:
    """The GS1 key an element string or scan identifies (most fine-grained level).

    ``(01)…(17)…(10)…(21)…`` identifies the serialised unit (01 + 21); data attributes
    such as expiry are not part of the identity. ``reference_year`` is GenSpecs §7.12's
    "current year" for an expiry date in the scan (it is validated, not used).
    """
    es = ElementString.parse(text, reference_year=reference_year)
    pairs = dict(es.elements())
    primary = next((ai for ai in _QUALIFIERS if ai in pairs), None)
    if primary is None:
        raise IdentifierError(
            f"{text!r} carries no GS1 key (one of AI {', '.join(sorted(_QUALIFIERS))})"
        )
    path = [f"/{primary}/{quote(pairs[primary], safe='')}"]
    path += [f"/{ai}/{quote(pairs[ai], safe='')}" for ai in _QUALIFIERS[primary] if ai in pairs]
    return EpcKey.parse("https://id.gs1.org" + "".join(path))


def element_string_to_digital_link(text: str, *, reference_year: int) -> str:
    """Canonical GS1 Digital Link URI of what an element string or scan identifies."""
    return element_string_to_key(text, reference_year=reference_year).digital_link()


def element_string_to_epc_urn(
    text: str, *, reference_year: int, prefix_lengths: Mapping[str, int] | None = None
) -> str:
    """EPC URN of what an element string or scan identifies (needs the prefix length)."""
    key = element_string_to_key(text, reference_year=reference_year)
    return key.epc_urn(prefix_lengths)


def to_element_string(uri: str) -> str:
    """The human-readable element string of an EPC URN or GS1 Digital Link URI.

    >>> to_element_string("urn:epc:id:sgtin:0614141.107346.2017")
    '(01)10614141073464(21)2017'
    """
    return "".join(f"({ai}){value}" for ai, value in EpcKey.parse(uri).ai_pairs)
