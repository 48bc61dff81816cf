r"""GS1 element strings: barcode scans and their human-readable form.

A GS1 barcode (GS1 DataMatrix, GS1-128, GS1 QR Code, GS1 DataBar) carries a
concatenation of *element strings*, each an Application Identifier (AI) followed by its
data (GS1 General Specifications §3, §7.8). Variable-length data is ended by FNC1, which
a scanner transmits as the ASCII group separator ``\x1d`` (GenSpecs §7.8); a scanner
may also prefix the symbology identifier (ISO/IEC 15424: ``]d2`` GS1 DataMatrix,
``]C1`` GS1-128, ``]Q3`` GS1 QR Code, ``]e0`` GS1 DataBar). The human-readable
interpretation (HRI) writes each AI in parentheses: ``(01)09521234543213(21)ABC``
(GenSpecs §4.15).

Splitting the data into element strings is done by ``biip`` (its AI table and
patterns); every value we recognise is then re-validated by our own value classes, so a
scan accepted here is as valid as a value parsed directly: check digits, GS1 character
set 82, real calendar dates with the GenSpecs §7.12 century, and the mandatory
associations of GenSpecs §4.14.2 (a serial, lot or expiry belongs to a GTIN; a GLN
extension to a GLN).

>>> scan = "]d2010952123454321317250300\x1d10LOT1\x1d21ABC"
>>> es = ElementString.parse(scan, reference_year=2024)
>>> es.gtin.gtin14, es.serial, es.lot.value, es.expiry.to_iso()
('09521234543213', 'ABC', 'LOT1', '2025-03-31')
>>> es.to_hri()
'(01)09521234543213(17)250300(10)LOT1(21)ABC'
>>> es.to_element_string()
'01095212345432131725030010LOT1\x1d21ABC'

GS1 Digital Link URIs and EPC URIs are other syntaxes for the same keys; they live in
``serialvault.gs1.epc``, not here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TypeVar

from biip import ParseConfig, ParseError
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_element_strings import GS1ElementString
from biip.gs1_messages import GS1Message
from biip.symbology import GS1Symbology, SymbologyIdentifier

from serialvault.errors import IdentifierError
from serialvault.gs1.gln import Gln, Sgln, check_extension
from serialvault.gs1.gtin import Gtin
from serialvault.gs1.lot import Expiry, Lot
from serialvault.gs1.sgtin import Sgtin, parse_serial
from serialvault.gs1.sscc import Sscc

__all__ = ["ElementString", "ScanResult", "parse_element_string"]

_T = TypeVar("_T")

# biip would check dates with the wall-clock century; the pure core decides the century
# from the caller's reference year (GenSpecs §7.12), so biip only splits and pattern-checks.
_BIIP_CONFIG = ParseConfig(gs1_element_strings_verify_date=False)

GS = "\x1d"

#: The AIs given their own fields, in canonical order within their length class.
_PRIORITY = {"00": 0, "01": 1, "17": 2, "414": 3, "10": 4, "21": 5, "254": 6}

#: Mandatory associations (GenSpecs §4.14.2; the GS1 Barcode Syntax Dictionary ``req=``
#: entries): an AI on the left is only meaningful together with one of those on the right.
_REQUIRES: dict[str, tuple[str, ...]] = {
    "10": ("01", "02", "8006", "8026"),
    "17": ("01", "02", "255", "8006", "8026"),
    "21": ("01", "8006"),
    "254": ("414",),
}

_WS_AROUND_PARENS = re.compile(r"\s*([()])\s*")
_HRI_PAIR = re.compile(r"\((\d+)\)([^(]+)")


@lru_cache(maxsize=1024)
def _variable_length(ai: str) -> bool:
    """True when the AI is not of predefined length, so FNC1 must end it (GenSpecs §7.8)."""
    try:
        info = GS1ApplicationIdentifier.extract(ai)
    except ParseError:
        return True
    return info.ai != ai or info.separator_required


def _order_key(pair: tuple[str, str]) -> tuple[bool, int, str]:
    # Predefined-length AIs first (no FNC1 needed after them), then variable-length ones;
    # within each, the identifiers we know in a fixed order, then the rest by AI.
    ai = pair[0]
    return (_variable_length(ai), _PRIORITY.get(ai, 100), ai)


@dataclass(frozen=True, slots=True)
class ElementString:
    """The recognised content of one GS1 barcode (or its HRI text).

    Fields we understand are typed and validated: ``gtin`` (AI 01), ``serial`` (AI 21),
    ``lot`` (AI 10), ``expiry`` (AI 17), ``sscc`` (AI 00), ``gln`` (AI 414) and
    ``gln_extension`` (AI 254, exactly as scanned). Every other AI is kept in ``extra``
    as ``(ai, value)`` pairs in canonical order, pattern-checked by biip (and
    check-digit-checked when it is a GTIN, GLN or SSCC) but not interpreted.
    ``symbology_identifier`` is how it was scanned (``"]d2"``); it is not part of the
    content, so it does not take part in equality.
    """

    gtin: Gtin | None = None
    serial: str | None = None
    lot: Lot | None = None
    expiry: Expiry | None = None
    sscc: Sscc | None = None
    gln: Gln | None = None
    gln_extension: str | None = None
    extra: tuple[tuple[str, str], ...] = ()
    symbology_identifier: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.extra, key=_order_key))
        if ordered != self.extra:
            object.__setattr__(self, "extra", ordered)

    # -- parsing -----------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str, *, reference_year: int) -> ElementString:
        """Parse HRI text (starts with ``(``) or scanned data (anything else).

        ``reference_year`` is the "current year" of GenSpecs §7.12 for an expiry date.
        """
        if isinstance(text, str) and text.strip().startswith("("):
            return cls.parse_hri(text, reference_year=reference_year)
        return cls.parse_scan(text, reference_year=reference_year)

    @classmethod
    def parse_hri(cls, text: str, *, reference_year: int) -> ElementString:
        """Parse the human-readable form ``(01)09521234543213(21)ABC``.

        White space around the parentheses is allowed (HRI is often printed with
        spaces); any other white space, and any text that is not part of an
        ``(AI)value`` pair, is an error rather than silently dropped.

        >>> try:
        ...     ElementString.parse_hri("(01)09521234543213(21)A(B", reference_year=2025)
        ... except IdentifierError as exc:
        ...     print(exc)  # doctest: +NORMALIZE_WHITESPACE
        Invalid element string '(01)09521234543213(21)A(B': '(B' is not an (AI)value pair;
        a value containing '(' cannot be written in HRI.
        """
        label = "element string"
        if not isinstance(text, str):
            raise IdentifierError(
                f"Invalid {label} {text!r}: expected a string, got {type(text).__name__}."
            )
        hri = _WS_AROUND_PARENS.sub(r"\1", text.strip())
        space = next((ch for ch in hri if ch.isspace()), None)
        if space is not None:
            raise IdentifierError(
                f"Invalid {label} {text!r}: character {space!r} is not allowed in a value."
            )
        if not hri:
            raise IdentifierError(f"Invalid {label} {text!r}: it is empty.")
        leftover = _hri_leftover(hri)
        if leftover:
            raise IdentifierError(
                f"Invalid {label} {text!r}: {leftover!r} is not an (AI)value pair; "
                "a value containing '(' cannot be written in HRI."
            )
        # Our own checks first for the AIs we model, so that the user reads "character '~'
        # is not in GS1 character set 82" rather than a regular expression.
        for m in _HRI_PAIR.finditer(hri):
            _check_known(text, label, m[1], m[2], reference_year)
        try:
            message = GS1Message.parse_hri(hri, config=_BIIP_CONFIG)
        except ParseError as exc:
            raise IdentifierError(f"Invalid {label} {text!r}: {exc}") from exc
        return cls._from_biip(text, label, message.element_strings, reference_year, None)

    @classmethod
    def parse_scan(cls, text: str, *, reference_year: int) -> ElementString:
        r"""Parse data as a scanner transmits it: FNC1 as ``\x1d``, optional symbology id.

        >>> try:
        ...     ElementString.parse_scan("]d20109521234543214", reference_year=2025)
        ... except IdentifierError as exc:
        ...     print(exc)  # doctest: +NORMALIZE_WHITESPACE
        Invalid scan ']d20109521234543214':
        Invalid GTIN '09521234543214': check digit is 4, expected 3.
        """
        label = "scan"
        if not isinstance(text, str):
            raise IdentifierError(
                f"Invalid {label} {text!r}: expected a string, got {type(text).__name__}."
            )
        # Leading/trailing white space is scanner framing (CR/LF); str.strip() also drops
        # a leading FNC1 (GS), which some scanners send for the FNC1 in first position.
        data = text.strip()
        symbology: str | None = None
        if data.startswith("]"):
            try:
                si = SymbologyIdentifier.extract(data)
            except ParseError as exc:
                raise IdentifierError(f"Invalid {label} {text!r}: {exc}") from exc
            symbology = si.value
            data = data[len(si.value) :].lstrip(GS)
            if si.gs1_symbology in GS1Symbology.with_gtin():
                gtin = _wrap(text, label, Gtin.parse, data)
                return cls(gtin=gtin, symbology_identifier=symbology)
            if si.gs1_symbology not in GS1Symbology.with_gs1_messages():
                raise IdentifierError(
                    f"Invalid {label} {text!r}: symbology identifier {symbology!r} does not "
                    "announce GS1 element strings (expected e.g. ]d2, ]C1, ]Q3, ]e0)."
                )
        if data.startswith(("http://", "https://", "HTTP://", "HTTPS://")):
            raise IdentifierError(
                f"Invalid {label} {text!r}: this is a GS1 Digital Link URI, not element "
                "strings; read it with serialvault.gs1.epc."
            )
        if not data:
            raise IdentifierError(f"Invalid {label} {text!r}: it holds no element strings.")
        try:
            message = GS1Message.parse(data, config=_BIIP_CONFIG)
        except ParseError as exc:
            raise IdentifierError(f"Invalid {label} {text!r}: {exc}") from exc
        return cls._from_biip(text, label, message.element_strings, reference_year, symbology)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]], *, reference_year: int) -> ElementString:
        """Build from ``(ai, value)`` pairs, validating each as a scan would be.

        >>> ElementString.from_pairs([("01", "09521234543213"), ("21", "X1")],
        ...                          reference_year=2025).to_hri()
        '(01)09521234543213(21)X1'
        """
        pairs = list(pairs)
        text = "".join(f"({ai}){value}" for ai, value in pairs)
        label = "element string"
        elements = []
        for ai, value in pairs:
            _check_known(text, label, ai, value, reference_year)
            try:
                elements.append(GS1ElementString.parse(ai + value, config=_BIIP_CONFIG))
            except ParseError as exc:
                raise IdentifierError(f"Invalid {label} {text!r}: {exc}") from exc
            if elements[-1].ai.ai != ai:
                raise IdentifierError(
                    f"Invalid {label} {text!r}: {ai!r} is not a GS1 Application Identifier."
                )
        return cls._from_biip(text, label, elements, reference_year, None)

    @classmethod
    def _from_biip(
        cls,
        text: str,
        label: str,
        elements: Iterable[GS1ElementString],
        reference_year: int,
        symbology: str | None,
    ) -> ElementString:
        values: dict[str, str] = {}
        for es in elements:
            ai = es.ai.ai
            inner_error = es.gtin_error or es.gln_error or es.sscc_error
            if inner_error and ai not in _PRIORITY:
                raise IdentifierError(f"Invalid {label} {text!r}: AI ({ai}): {inner_error}")
            if ai in values and values[ai] != es.value:
                raise IdentifierError(
                    f"Invalid {label} {text!r}: AI ({ai}) appears twice with different "
                    f"values {values[ai]!r} and {es.value!r}."
                )
            values[ai] = es.value
        if not values:
            raise IdentifierError(f"Invalid {label} {text!r}: it holds no element strings.")
        for ai, needs in _REQUIRES.items():
            if ai in values and not any(n in values for n in needs):
                wanted = ", ".join(f"({n})" for n in needs)
                raise IdentifierError(
                    f"Invalid {label} {text!r}: AI ({ai}) must come with one of AI {wanted}."
                )

        def take(ai: str) -> str | None:
            return values.pop(ai, None)

        raw_gtin, raw_serial, raw_lot, raw_expiry = take("01"), take("21"), take("10"), take("17")
        raw_sscc, raw_gln, raw_ext = take("00"), take("414"), take("254")
        gtin = None if raw_gtin is None else _wrap(text, label, Gtin.parse, raw_gtin)
        serial = None if raw_serial is None else _wrap(text, label, parse_serial, raw_serial)
        lot = None if raw_lot is None else _wrap(text, label, Lot.parse, raw_lot)
        expiry = (
            None
            if raw_expiry is None
            else _wrap(text, label, lambda v: Expiry.parse_yymmdd(v, reference_year), raw_expiry)
        )
        sscc = None if raw_sscc is None else _wrap(text, label, Sscc.parse, raw_sscc)
        gln = None if raw_gln is None else _wrap(text, label, Gln.parse, raw_gln)
        if raw_ext is not None:
            _wrap(text, label, check_extension, raw_ext)
        return cls(
            gtin=gtin,
            serial=serial,
            lot=lot,
            expiry=expiry,
            sscc=sscc,
            gln=gln,
            gln_extension=raw_ext,
            extra=tuple(values.items()),
            symbology_identifier=symbology,
        )

    # -- views -------------------------------------------------------------------------

    @property
    def sgtin(self) -> Sgtin | None:
        """GTIN + serial, when both are present."""
        if self.gtin is None or self.serial is None:
            return None
        return Sgtin(self.gtin, self.serial)

    @property
    def sgln(self) -> Sgln | None:
        """GLN + extension (``None`` extension: the location itself), when a GLN is present."""
        if self.gln is None:
            return None
        ext = self.gln_extension
        return Sgln(self.gln, None if ext in (None, "", "0") else ext)

    def elements(self) -> tuple[tuple[str, str], ...]:
        """All ``(ai, value)`` pairs in canonical order.

        Predefined-length AIs come first so that only variable-length ones need an FNC1
        (GenSpecs §7.8): SSCC, GTIN, expiry, GLN, then the other fixed-length AIs; then
        lot, serial, GLN extension, then the other variable-length AIs. For a
        pharmaceutical pack this gives the familiar ``(01)(17)(10)(21)``.
        """
        pairs: list[tuple[str, str]] = []
        if self.sscc is not None:
            pairs.append(("00", self.sscc.value))
        if self.gtin is not None:
            pairs.append(("01", self.gtin.gtin14))
        if self.expiry is not None:
            pairs.append(("17", self.expiry.to_yymmdd()))
        if self.gln is not None:
            pairs.append(("414", self.gln.value))
        if self.lot is not None:
            pairs.append(("10", self.lot.value))
        if self.serial is not None:
            pairs.append(("21", self.serial))
        if self.gln_extension is not None:
            pairs.append(("254", self.gln_extension))
        pairs.extend(self.extra)
        return tuple(sorted(pairs, key=_order_key))

    def to_hri(self) -> str:
        """The human-readable form, AIs in parentheses, in canonical order."""
        return "".join(f"({ai}){value}" for ai, value in self.elements())

    def to_element_string(self) -> str:
        r"""The FNC1 form as a scanner transmits it (``\x1d`` after variable-length data).

        No symbology identifier and no FNC1 in first position: those belong to the
        carrier, not the data.
        """
        pairs = self.elements()
        out: list[str] = []
        for i, (ai, value) in enumerate(pairs):
            out.append(ai + value)
            if i < len(pairs) - 1 and _variable_length(ai):
                out.append(GS)
        return "".join(out)


#: What a scanner hands over is a scan result; the same value as an element string.
ScanResult = ElementString


def parse_element_string(text: str, *, reference_year: int) -> ElementString:
    """:meth:`ElementString.parse` as a function: HRI or scanned data.

    ``reference_year`` is required even when the data holds no expiry: the century of an
    AI (17) date depends on it (GenSpecs §7.12) and the pure core never reads the clock,
    so the adapter that calls this passes the current year.
    """
    return ElementString.parse(text, reference_year=reference_year)


def _check_known(text: str, label: str, ai: str, value: str, reference_year: int) -> None:
    """Validate the value of an AI we model with our own classes (no-op for others)."""
    try:
        if ai == "01":
            if len(value) != 14 and value.isascii() and value.isdigit():
                raise IdentifierError(
                    f"AI (01) holds the 14-digit form of a GTIN, got {len(value)} digits {value!r}."
                )
            Gtin.parse(value)
        elif ai == "21":
            parse_serial(value)
        elif ai == "10":
            Lot.parse(value)
        elif ai == "17":
            Expiry.parse_yymmdd(value, reference_year)
        elif ai == "00":
            Sscc.parse(value)
        elif ai == "414":
            Gln.parse(value)
        elif ai == "254":
            check_extension(value)
    except IdentifierError as exc:
        raise IdentifierError(f"Invalid {label} {text!r}: {exc}") from exc


def _hri_leftover(hri: str) -> str:
    """Text of ``hri`` not covered by ``(digits)value`` pairs, '' when there is none."""
    pos = 0
    gaps: list[str] = []
    for m in _HRI_PAIR.finditer(hri):
        if m.start() > pos:
            gaps.append(hri[pos : m.start()])
        pos = m.end()
    if pos < len(hri):
        gaps.append(hri[pos:])
    return "".join(gaps)


def _wrap(text: str, label: str, parse: Callable[[str], _T], value: str) -> _T:
    try:
        return parse(value)
    except IdentifierError as exc:
        raise IdentifierError(f"Invalid {label} {text!r}: {exc}") from exc
