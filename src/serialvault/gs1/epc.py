"""GS1 identifiers in URI form: EPC URNs and GS1 Digital Link URIs, both ways.

EPCIS 2.0 and CBV 2.0 let a partner name the same pallet as
``urn:epc:id:sscc:0614141.1234567890`` or as ``https://id.gs1.org/00/106141412345678908``
— or as the latter on its own domain, with a query string. The repository must see one
key for one object, so everything that carries a GS1 key is reduced to the *canonical
GS1 Digital Link URI* the CBV 2.0 event hash uses (CBV 2.0 §8.9 and GS1 Digital Link:
URI Syntax 1.2 §4.11): ``https://id.gs1.org``, AI codes (never the deprecated short
names such as ``gtin``), GTINs padded to 14 digits, no query string or fragment, and
only the most fine-grained key and key qualifiers —

``00 / 01 / 01 21 / 01 10 / 01 235 / 253 / 255 / 401 / 402 / 414 / 414 254 / 417 /
8003 / 8004 / 8006 / 8006 21 / 8006 10 / 8010 / 8010 8011 / 8017 / 8018``.

Sources of the rules
--------------------
* EPC URIs: EPC Tag Data Standard (TDS) 2.x §6.3 (pure-identity URI of each scheme:
  ``sgtin``, ``sscc``, ``sgln``, ``grai``, ``giai``, ``gsrn``, ``gsrnp``, ``gdti``,
  ``cpi``, ``sgcn``, ``ginc``, ``gsin``, ``itip``, ``upui``, ``pgln``), the EPC class
  URI ``urn:epc:class:lgtin`` (TDS §6.4), pattern URIs ``urn:epc:idpat:…`` (TDS §8), the
  correspondence with GS1 element strings (TDS §7). Digit counts: company prefix 6–12
  digits, the reference fills the key to its fixed length.
* EPC URI character escaping (TDS Annex A, "Characters permitted in alphanumeric
  serial numbers"): ``" % & / < > ?`` are written ``%22 %25 %26 %2F %3C %3E %3F``;
  any other character of GS1 AI encodable character set 82 may also be escaped. In a
  CPI component/part reference (character set 39) ``#`` and ``/`` are ``%23``/``%2F``.
* GS1 Digital Link percent-encoding (GS1 Digital Link: URI Syntax 1.2, percent-encoding
  of AI values; RFC 3986 §2.1, §3.3): ``! " # % & ( ) * + , / : < > ?`` and space are
  percent-encoded with upper-case hex; letters, digits and ``- . _ ' ; =`` stay literal.
  This is the set the CBV 2.0 event-hash test vectors use (``*`` → ``%2A``, ``'`` kept).
* Check digits: GS1 General Specifications §7.9.1 — computed going EPC URI → Digital
  Link, verified on every Digital Link input.

The company prefix length needed going Digital Link → EPC URI comes from
:mod:`serialvault.gs1.company_prefix`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from serialvault.errors import IdentifierError
from serialvault.gs1.charset import CS39, CS82
from serialvault.gs1.checkdigit import gs1_check_digit
from serialvault.gs1.company_prefix import company_prefix_length

__all__ = [
    "CANONICAL_STEM",
    "URI_LITERAL_CS82",
    "EpcKey",
    "canonical_key",
    "canonical_uri",
    "parse_uri",
    "to_digital_link",
    "to_epc_urn",
]

#: Scheme and host of every canonical GS1 Digital Link URI (GS1 Digital Link 1.2 §4.11).
CANONICAL_STEM = "https://id.gs1.org"

_EPC_URI = "EPC URI"
_DL_URI = "GS1 Digital Link URI"

# --------------------------------------------------------------------------- characters

#: Characters of CS82 that TDS Annex A requires to be %-escaped in an EPC URI.
_URN_MUST_ESCAPE = frozenset('"%&/<>?')
#: Characters an EPC URI may carry unescaped in an alphanumeric component.
_URN_RAW_CS82 = CS82 - _URN_MUST_ESCAPE
#: … in a CPI component/part reference (CS39 without ``#`` and ``/``).
_URN_RAW_CS39 = CS39 - frozenset("#/")
_URN_ESCAPE_TABLE = str.maketrans({c: f"%{ord(c):02X}" for c in '"#%&/<>?'})

#: Characters percent-encoded in a GS1 Digital Link path segment (see module docstring).
_DL_ESCAPE_TABLE = str.maketrans({c: f"%{ord(c):02X}" for c in '!"#%&()*+,/:<>? '})

_HEX = frozenset("0123456789abcdefABCDEF")

#: Characters of CS82 written as themselves in both an EPC URI and a GS1 Digital Link URI
#: (neither form escapes them): letters, digits and ``' - . ; = _``. A serial made only of
#: these is the same text in a line's list, an EPC URN and the repository's key.
URI_LITERAL_CS82: frozenset[str] = frozenset(
    c for c in _URN_RAW_CS82 if c.translate(_DL_ESCAPE_TABLE) == c
)

_CHARSET_NAME = {id(CS82): "GS1 AI encodable character set 82", id(CS39): "character set 39"}


def _is_digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


def _fail(kind: str, uri: str, reason: str) -> IdentifierError:
    return IdentifierError(f"Invalid {kind} {uri!r}: {reason}.")


def _urn_text(
    uri: str,
    name: str,
    raw: str,
    max_len: int,
    *,
    charset: frozenset[str] = CS82,
    min_len: int = 1,
) -> str:
    """Decode one alphanumeric EPC URI component (TDS Annex A escaping) and check it."""
    raw_ok = _URN_RAW_CS39 if charset is CS39 else _URN_RAW_CS82
    if "%" in raw:
        out: list[str] = []
        i = 0
        n = len(raw)
        while i < n:
            ch = raw[i]
            if ch == "%":
                esc = raw[i : i + 3]
                if len(esc) < 3 or esc[1] not in _HEX or esc[2] not in _HEX:
                    raise _fail(_EPC_URI, uri, f"malformed escape {esc!r} in the {name}")
                dec = chr(int(esc[1:], 16))
                if dec not in charset:
                    raise _fail(
                        _EPC_URI,
                        uri,
                        f"the {name} contains {esc!r} ({dec!r}), which is not in "
                        f"{_CHARSET_NAME[id(charset)]}",
                    )
                out.append(dec)
                i += 3
            else:
                _check_raw_urn_char(uri, name, ch, raw_ok, charset)
                out.append(ch)
                i += 1
        value = "".join(out)
    else:
        for ch in raw:
            if ch not in raw_ok:
                _check_raw_urn_char(uri, name, ch, raw_ok, charset)
        value = raw
    if not min_len <= len(value) <= max_len:
        if not value:
            raise _fail(_EPC_URI, uri, f"the {name} is empty")
        raise _fail(
            _EPC_URI,
            uri,
            f"the {name} has {len(value)} characters, at most {max_len} allowed",
        )
    return value


def _check_raw_urn_char(
    uri: str, name: str, ch: str, raw_ok: frozenset[str], charset: frozenset[str]
) -> None:
    if ch in raw_ok:
        return
    if ch in charset:
        raise _fail(
            _EPC_URI,
            uri,
            f"the {name} contains {ch!r}, which must be escaped as '%{ord(ch):02X}' in an EPC URI",
        )
    raise _fail(
        _EPC_URI,
        uri,
        f"the {name} contains {ch!r}, which is not in {_CHARSET_NAME[id(charset)]}",
    )


def _urn_escape(value: str) -> str:
    return value.translate(_URN_ESCAPE_TABLE)


def _dl_escape(value: str) -> str:
    return value.translate(_DL_ESCAPE_TABLE)


def _dl_unescape(uri: str, raw: str) -> str:
    """Percent-decode one Digital Link path segment (RFC 3986 §2.1), strictly."""
    if "%" not in raw:
        return raw
    out: list[str] = []
    i = 0
    n = len(raw)
    while i < n:
        ch = raw[i]
        if ch == "%":
            esc = raw[i : i + 3]
            if len(esc) < 3 or esc[1] not in _HEX or esc[2] not in _HEX:
                raise _fail(_DL_URI, uri, f"malformed percent-encoding {esc!r}")
            out.append(chr(int(esc[1:], 16)))
            i += 3
        else:
            out.append(ch)
            i += 1
    return "".join(out)


# ------------------------------------------------------------------------ numeric keys


def _check_prefix_and_ref(uri: str, cp: str, ref: str, total: int, ref_name: str) -> None:
    """TDS §6.3: company prefix of 6–12 digits, reference filling the key to ``total``."""
    if not _is_digits(cp) or not 6 <= len(cp) <= 12:
        raise _fail(_EPC_URI, uri, f"the company prefix {cp!r} must be 6 to 12 digits")
    if ref and not _is_digits(ref):
        raise _fail(_EPC_URI, uri, f"the {ref_name} {ref!r} must be digits")
    if len(cp) + len(ref) != total:
        raise _fail(
            _EPC_URI,
            uri,
            f"the company prefix and {ref_name} must have {total} digits together, "
            f"found {len(cp) + len(ref)}",
        )


def _gtin_from_urn(uri: str, cp: str, ir: str) -> str:
    """GTIN-14 from company prefix and indicator+item reference (TDS §7.1)."""
    _check_prefix_and_ref(uri, cp, ir, 13, "item reference")
    body = ir[0] + cp + ir[1:]
    return body + gs1_check_digit(body)


def _key13_from_urn(uri: str, cp: str, ref: str, ref_name: str) -> str:
    """GLN / GDTI / GCN / GRAI-13 style key: company prefix + reference + check digit."""
    _check_prefix_and_ref(uri, cp, ref, 12, ref_name)
    body = cp + ref
    return body + gs1_check_digit(body)


def _split(uri: str, body: str, names: tuple[str, ...]) -> list[str]:
    parts = body.split(".", len(names) - 1)
    if len(parts) != len(names):
        raise _fail(
            _EPC_URI,
            uri,
            f"expected {len(names)} components separated by '.' ({', '.join(names)}), "
            f"found {len(parts)}",
        )
    return parts


def _numeric_urn(uri: str, name: str, value: str, max_len: int) -> str:
    if not _is_digits(value) or not 1 <= len(value) <= max_len:
        raise _fail(_EPC_URI, uri, f"the {name} {value!r} must be 1 to {max_len} digits")
    return value


# ------------------------------------------------------------------------- EpcKey


@dataclass(frozen=True, slots=True)
class EpcKey:
    """A GS1 key (and its key qualifiers) named by an EPC URI or a GS1 Digital Link.

    ``ai_pairs`` are GS1 Application Identifier / value pairs with plain (unescaped)
    values and full check digits, in Digital Link order, reduced to the most
    fine-grained level of identification (CBV 2.0 §8.9):
    ``(("01", "00614141073467"), ("21", "2017"))``. ``scheme`` is the EPC scheme name
    (``sgtin``, ``sscc``, ``lgtin``, …). ``is_class`` marks class-level identifiers
    (GTIN + lot), ``is_pattern`` GS1 keys named without their serial part
    (``urn:epc:idpat:sgtin:0614141.107346.*`` ≡ ``https://id.gs1.org/01/…``).

    ``prefix_length`` is the GS1 Company Prefix length when the input said it (an EPC
    URI does, a Digital Link does not); it is not part of the identity.

    >>> key = EpcKey.parse("urn:epc:id:sgtin:0614141.107346.2017")
    >>> key.scheme, key.gtin, key.serial
    ('sgtin', '10614141073464', '2017')
    >>> key.digital_link()
    'https://id.gs1.org/01/10614141073464/21/2017'
    >>> EpcKey.parse("https://example.com/01/10614141073464/21/2017?17=250101") == key
    True
    """

    scheme: str
    ai_pairs: tuple[tuple[str, str], ...]
    is_class: bool = False
    is_pattern: bool = False
    prefix_length: int | None = field(default=None, compare=False, repr=False)

    @classmethod
    def parse(cls, uri: str) -> EpcKey:
        """Parse an EPC URI or GS1 Digital Link URI; raise IdentifierError otherwise."""
        found = _classify(uri)
        if isinstance(found, str):
            raise IdentifierError(f"Not a GS1 identifier URI {uri!r}: {found}.")
        return found

    def ai(self, code: str) -> str | None:
        """The value of AI ``code`` in this key, or None."""
        for ai, value in self.ai_pairs:
            if ai == code:
                return value
        return None

    @property
    def primary_ai(self) -> str:
        """The AI of the GS1 key itself (``00``, ``01``, ``414``, …)."""
        return self.ai_pairs[0][0]

    @property
    def gtin(self) -> str | None:
        """GTIN-14 of an SGTIN, LGTIN, UPUI, ITIP or GTIN pattern; None otherwise."""
        first_ai, first = self.ai_pairs[0]
        if first_ai == "01":
            return first
        if first_ai == "8006":
            return first[:14]
        return None

    @property
    def serial(self) -> str | None:
        """The serial number (AI 21) when present."""
        return self.ai("21")

    @property
    def lot(self) -> str | None:
        """The batch/lot number (AI 10) when present."""
        return self.ai("10")

    @property
    def sscc(self) -> str | None:
        """The SSCC-18 of an SSCC key."""
        return self.ai("00")

    def digital_link(self) -> str:
        """The canonical GS1 Digital Link URI (GS1 Digital Link 1.2 §4.11, CBV 2.0 §8.9)."""
        parts = [CANONICAL_STEM]
        for ai, value in self.ai_pairs:
            parts.append("/")
            parts.append(ai)
            parts.append("/")
            parts.append(_dl_escape(value))
        return "".join(parts)

    def epc_urn(self, prefix_lengths: Mapping[str, int] | None = None) -> str:
        """The EPC URI (TDS §6.3) — id, class or pattern — of this key.

        Needs the GS1 Company Prefix length: the one this key was parsed with, else
        ``prefix_lengths`` / the GS1 table (:mod:`serialvault.gs1.company_prefix`).
        """
        return _to_urn(self, prefix_lengths)


# ------------------------------------------------------------------- EPC URI → EpcKey

_URN_PREFIX = "urn:epc:"

#: EPC schemes that are not GS1 keys (TDS §6.3: GID, DoD, ADI, BIC, IMO vessel number):
#: valid EPCs without a GS1 Digital Link form.
_NON_GS1_SCHEMES = frozenset({"gid", "usdod", "adi", "bic", "imovn"})

_Pairs = tuple[tuple[str, str], ...]
_UrnParser = Callable[[str, str], tuple[str, _Pairs, int]]


def _urn_sgtin(uri: str, body: str) -> tuple[str, _Pairs, int]:
    cp, ir, sn = _split(uri, body, ("company prefix", "item reference", "serial number"))
    gtin = _gtin_from_urn(uri, cp, ir)
    return "sgtin", (("01", gtin), ("21", _urn_text(uri, "serial number", sn, 20))), len(cp)


def _urn_sscc(uri: str, body: str) -> tuple[str, _Pairs, int]:
    cp, sr = _split(uri, body, ("company prefix", "serial reference"))
    _check_prefix_and_ref(uri, cp, sr, 17, "serial reference")
    digits = sr[0] + cp + sr[1:]
    return "sscc", (("00", digits + gs1_check_digit(digits)),), len(cp)


def _urn_sgln(uri: str, body: str) -> tuple[str, _Pairs, int]:
    cp, lr, ext = _split(uri, body, ("company prefix", "location reference", "extension"))
    gln = _key13_from_urn(uri, cp, lr, "location reference")
    extension = _urn_text(uri, "extension", ext, 20)
    # TDS §6.3.3: the extension "0" means "no GLN extension" (no AI 254).
    pairs: _Pairs = (("414", gln),) if extension == "0" else (("414", gln), ("254", extension))
    return "sgln", pairs, len(cp)


def _urn_grai(uri: str, body: str) -> tuple[str, _Pairs, int]:
    cp, at, sn = _split(uri, body, ("company prefix", "asset type", "serial number"))
    grai = "0" + _key13_from_urn(uri, cp, at, "asset type")
    return "grai", (("8003", grai + _urn_text(uri, "serial number", sn, 16)),), len(cp)


def _urn_giai(uri: str, body: str) -> tuple[str, _Pairs, int]:
    cp, ref = _split(uri, body, ("company prefix", "individual asset reference"))
    _check_prefix_and_ref(uri, cp, "", len(cp), "individual asset reference")
    ref = _urn_text(uri, "individual asset reference", ref, 30 - len(cp))
    return "giai", (("8004", cp + ref),), len(cp)


def _urn_gsrn_like(scheme: str, ai: str) -> _UrnParser:
    def parse(uri: str, body: str) -> tuple[str, _Pairs, int]:
        cp, sr = _split(uri, body, ("company prefix", "service reference"))
        _check_prefix_and_ref(uri, cp, sr, 17, "service reference")
        digits = cp + sr
        return scheme, ((ai, digits + gs1_check_digit(digits)),), len(cp)

    return parse


def _urn_gdti(uri: str, body: str) -> tuple[str, _Pairs, int]:
    cp, dt, sn = _split(uri, body, ("company prefix", "document type", "serial number"))
    gdti = _key13_from_urn(uri, cp, dt, "document type")
    return "gdti", (("253", gdti + _urn_text(uri, "serial number", sn, 17)),), len(cp)


def _urn_cpi(uri: str, body: str) -> tuple[str, _Pairs, int]:
    cp, cpr, sn = _split(uri, body, ("company prefix", "component/part reference", "serial"))
    _check_prefix_and_ref(uri, cp, "", len(cp), "component/part reference")
    ref = _urn_text(uri, "component/part reference", cpr, 30 - len(cp), charset=CS39)
    serial = _numeric_urn(uri, "serial", sn, 12)
    return "cpi", (("8010", cp + ref), ("8011", serial)), len(cp)


def _urn_sgcn(uri: str, body: str) -> tuple[str, _Pairs, int]:
    cp, cr, sn = _split(uri, body, ("company prefix", "coupon reference", "serial component"))
    gcn = _key13_from_urn(uri, cp, cr, "coupon reference")
    return "sgcn", (("255", gcn + _numeric_urn(uri, "serial component", sn, 12)),), len(cp)


def _urn_ginc(uri: str, body: str) -> tuple[str, _Pairs, int]:
    cp, ref = _split(uri, body, ("company prefix", "consignment reference"))
    _check_prefix_and_ref(uri, cp, "", len(cp), "consignment reference")
    ref = _urn_text(uri, "consignment reference", ref, 30 - len(cp))
    return "ginc", (("401", cp + ref),), len(cp)


def _urn_gsin(uri: str, body: str) -> tuple[str, _Pairs, int]:
    cp, sr = _split(uri, body, ("company prefix", "shipper reference"))
    _check_prefix_and_ref(uri, cp, sr, 16, "shipper reference")
    digits = cp + sr
    return "gsin", (("402", digits + gs1_check_digit(digits)),), len(cp)


def _itip_head(uri: str, cp: str, ir: str, piece: str, total: str) -> str:
    gtin = _gtin_from_urn(uri, cp, ir)
    for name, value in (("piece number", piece), ("total count", total)):
        if not _is_digits(value) or len(value) != 2:
            raise _fail(_EPC_URI, uri, f"the {name} {value!r} must be 2 digits")
    return gtin + piece + total


def _urn_itip(uri: str, body: str) -> tuple[str, _Pairs, int]:
    names = ("company prefix", "item reference", "piece number", "total count", "serial number")
    cp, ir, piece, total, sn = _split(uri, body, names)
    head = _itip_head(uri, cp, ir, piece, total)
    return "itip", (("8006", head), ("21", _urn_text(uri, "serial number", sn, 20))), len(cp)


def _urn_upui(uri: str, body: str) -> tuple[str, _Pairs, int]:
    cp, ir, tpx = _split(uri, body, ("company prefix", "item reference", "TPX"))
    gtin = _gtin_from_urn(uri, cp, ir)
    return "upui", (("01", gtin), ("235", _urn_text(uri, "TPX", tpx, 28))), len(cp)


def _urn_pgln(uri: str, body: str) -> tuple[str, _Pairs, int]:
    cp, pr = _split(uri, body, ("company prefix", "party reference"))
    return "pgln", (("417", _key13_from_urn(uri, cp, pr, "party reference")),), len(cp)


def _urn_lgtin(uri: str, body: str) -> tuple[str, _Pairs, int]:
    cp, ir, lot = _split(uri, body, ("company prefix", "item reference", "lot number"))
    gtin = _gtin_from_urn(uri, cp, ir)
    return "lgtin", (("01", gtin), ("10", _urn_text(uri, "lot number", lot, 20))), len(cp)


_ID_PARSERS: dict[str, _UrnParser] = {
    "sgtin": _urn_sgtin,
    "sscc": _urn_sscc,
    "sgln": _urn_sgln,
    "grai": _urn_grai,
    "giai": _urn_giai,
    "gsrn": _urn_gsrn_like("gsrn", "8018"),
    "gsrnp": _urn_gsrn_like("gsrnp", "8017"),
    "gdti": _urn_gdti,
    "cpi": _urn_cpi,
    "sgcn": _urn_sgcn,
    "ginc": _urn_ginc,
    "gsin": _urn_gsin,
    "itip": _urn_itip,
    "upui": _urn_upui,
    "pgln": _urn_pgln,
}

#: Number of components of each pattern URI (TDS §8) — same as the pure identity.
_PATTERN_ARITY = {
    "sgtin": 3,
    "sscc": 2,
    "sgln": 3,
    "grai": 3,
    "giai": 2,
    "gsrn": 2,
    "gsrnp": 2,
    "gdti": 3,
    "cpi": 3,
    "sgcn": 3,
    "ginc": 2,
    "gsin": 2,
    "itip": 5,
    "upui": 3,
    "pgln": 2,
}


def _pattern_key(uri: str, scheme: str, parts: list[str]) -> _Pairs | None:
    """Pairs of a pattern whose only wildcard is the serial part, else None (broad)."""
    cp = parts[0]
    if scheme in ("sgtin", "upui"):
        return (("01", _gtin_from_urn(uri, cp, parts[1])),)
    if scheme == "grai":
        return (("8003", "0" + _key13_from_urn(uri, cp, parts[1], "asset type")),)
    if scheme == "gdti":
        return (("253", _key13_from_urn(uri, cp, parts[1], "document type")),)
    if scheme == "sgcn":
        return (("255", _key13_from_urn(uri, cp, parts[1], "coupon reference")),)
    if scheme == "cpi":
        _check_prefix_and_ref(uri, cp, "", len(cp), "component/part reference")
        name = "component/part reference"
        return (("8010", cp + _urn_text(uri, name, parts[1], 30 - len(cp), charset=CS39)),)
    if scheme == "itip":
        return (("8006", _itip_head(uri, cp, parts[1], parts[2], parts[3])),)
    return None


def _parse_pattern(uri: str, scheme: str, body: str) -> EpcKey | str:
    arity = _PATTERN_ARITY.get(scheme)
    if arity is None:
        raise _fail(_EPC_URI, uri, f"unknown EPC pattern scheme {scheme!r}")
    parts = body.split(".", arity - 1)
    if len(parts) != arity:
        raise _fail(
            _EPC_URI,
            uri,
            f"expected {arity} components separated by '.', found {len(parts)}",
        )
    stars = [i for i, p in enumerate(parts) if p == "*"]
    if not stars:
        # A pattern without wildcard matches exactly one EPC: the pure identity.
        found_scheme, pairs, cpl = _ID_PARSERS[scheme](uri, body)
        return EpcKey(found_scheme, pairs, prefix_length=cpl)
    first = stars[0]
    if any(p != "*" for p in parts[first:]):
        raise _fail(_EPC_URI, uri, "a '*' component may only be followed by '*' components")
    if first == 0:
        return "the pattern matches any company prefix, so it names no single GS1 key"
    if first == arity - 1:
        narrow = _pattern_key(uri, scheme, parts)
        if narrow is not None:
            return EpcKey(scheme, narrow, is_pattern=True, prefix_length=len(parts[0]))
    if not _is_digits(parts[0]) or not 6 <= len(parts[0]) <= 12:
        raise _fail(_EPC_URI, uri, f"the company prefix {parts[0]!r} must be 6 to 12 digits")
    return "the pattern matches more than one GS1 key, so it has no GS1 Digital Link form"


def _parse_urn(uri: str) -> EpcKey | str:
    rest = uri[len(_URN_PREFIX) :]
    kind, _, rest = rest.partition(":")
    scheme, sep, body = rest.partition(":")
    if not sep:
        raise _fail(_EPC_URI, uri, "expected urn:epc:{id|class|idpat}:<scheme>:<components>")
    if kind == "id":
        parser = _ID_PARSERS.get(scheme)
        if parser is None:
            if scheme in _NON_GS1_SCHEMES:
                return f"the EPC scheme {scheme!r} is not a GS1 key"
            raise _fail(_EPC_URI, uri, f"unknown EPC scheme {scheme!r}")
        found_scheme, pairs, cpl = parser(uri, body)
        return EpcKey(found_scheme, pairs, prefix_length=cpl)
    if kind == "class":
        if scheme != "lgtin":
            raise _fail(_EPC_URI, uri, f"unknown EPC class scheme {scheme!r}")
        found_scheme, pairs, cpl = _urn_lgtin(uri, body)
        return EpcKey(found_scheme, pairs, is_class=True, prefix_length=cpl)
    if kind == "idpat":
        return _parse_pattern(uri, scheme, body)
    raise _fail(
        _EPC_URI,
        uri,
        f"'urn:epc:{kind}:' is not a pure-identity, class or pattern EPC URI",
    )


# ---------------------------------------------------------- Digital Link → EpcKey

#: Primary keys of the canonical list and their short names (GS1 Digital Link 1.1;
#: deprecated by 1.2 but still met in the field, so accepted on input).
_PRIMARY: dict[str, str] = {
    "00": "00",
    "01": "01",
    "253": "253",
    "255": "255",
    "401": "401",
    "402": "402",
    "414": "414",
    "417": "417",
    "8003": "8003",
    "8004": "8004",
    "8006": "8006",
    "8010": "8010",
    "8017": "8017",
    "8018": "8018",
    "sscc": "00",
    "gtin": "01",
    "gdti": "253",
    "gcn": "255",
    "ginc": "401",
    "gsin": "402",
    "gln": "414",
    "party": "417",
    "grai": "8003",
    "giai": "8004",
    "itip": "8006",
    "cpid": "8010",
    "gsrnp": "8017",
    "gsrn": "8018",
}

_QUALIFIER_NAMES: dict[str, str] = {
    "22": "22",
    "10": "10",
    "21": "21",
    "235": "235",
    "254": "254",
    "7040": "7040",
    "8011": "8011",
    "8019": "8019",
    "cpv": "22",
    "lot": "10",
    "ser": "21",
    "glnx": "254",
    "cpsn": "8011",
    "srin": "8019",
}

#: Allowed key-qualifier sequences per primary key, in path order (GS1 Digital Link 1.2
#: §4 and its ABNF; 7040 and 8019 added by later General Specifications).
_QUALIFIER_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "01": (("22", "10", "21"), ("235",)),
    "8006": (("22", "10", "21"),),
    "8010": (("8011",),),
    "414": (("254",), ("7040",)),
    "417": (("7040",),),
    "8004": (("7040",),),
    "8017": (("8019",),),
    "8018": (("8019",),),
}

_NUMERIC_LEAD = {"00": 18, "01": 8, "402": 17, "414": 13, "417": 13, "8017": 18, "8018": 18,
                 "8006": 18, "253": 13, "255": 13, "8003": 14}  # fmt: skip

_KEY_NAME = {
    "00": "SSCC",
    "01": "GTIN",
    "8006": "GTIN",
    "253": "GDTI",
    "255": "GCN",
    "402": "GSIN",
    "414": "GLN",
    "417": "party GLN",
    "8003": "GRAI",
    "8017": "GSRN-P",
    "8018": "GSRN",
}

_DL_HEAD = re.compile(r"(?i:https?)://[^/?#]*(/[^?#]*)?(?:\?[^#]*)?(?:#.*)?")


def _dl_check_digit(uri: str, ai: str, digits: str) -> None:
    expected = gs1_check_digit(digits[:-1])
    if digits[-1] != expected:
        raise _fail(
            _DL_URI,
            uri,
            f"{_KEY_NAME[ai]} {digits!r} check digit is {digits[-1]}, expected {expected}",
        )


def _dl_digits(uri: str, ai: str, value: str, length: int) -> str:
    if not _is_digits(value) or len(value) != length:
        raise _fail(
            _DL_URI,
            uri,
            f"{_KEY_NAME[ai]} {value!r} must be {length} digits (AI {ai})",
        )
    _dl_check_digit(uri, ai, value)
    return value


def _dl_text(
    uri: str,
    ai: str,
    value: str,
    min_len: int,
    max_len: int,
    charset: frozenset[str] = CS82,
) -> str:
    if not min_len <= len(value) <= max_len:
        raise _fail(
            _DL_URI,
            uri,
            f"AI {ai} value {value!r} must have {min_len} to {max_len} characters",
        )
    for ch in value:
        if ch not in charset:
            raise _fail(
                _DL_URI,
                uri,
                f"AI {ai} value {value!r} contains {ch!r}, which is not in "
                f"{_CHARSET_NAME[id(charset)]}",
            )
    return value


def _dl_primary_value(uri: str, ai: str, value: str) -> str:
    """Validate the primary key value (GS1 General Specifications §3.2 formats)."""
    if ai == "01":
        if not _is_digits(value) or len(value) not in (8, 12, 13, 14):
            raise _fail(_DL_URI, uri, f"GTIN {value!r} must have 8, 12, 13 or 14 digits")
        value = value.zfill(14)
        _dl_check_digit(uri, ai, value)
        return value
    if ai in ("00", "8017", "8018"):
        return _dl_digits(uri, ai, value, 18)
    if ai == "402":
        return _dl_digits(uri, ai, value, 17)
    if ai in ("414", "417"):
        return _dl_digits(uri, ai, value, 13)
    if ai == "8006":
        _dl_digits(uri, ai, value[:14], 14)
        if not _is_digits(value) or len(value) != 18:
            raise _fail(_DL_URI, uri, f"ITIP {value!r} must be 18 digits (AI 8006)")
        return value
    if ai in ("253", "255"):
        _dl_digits(uri, ai, value[:13], 13)
        if ai == "253":
            _dl_text(uri, ai, value[13:], 0, 17)
        elif not (_is_digits(value[13:]) or value[13:] == "") or len(value) > 25:
            raise _fail(_DL_URI, uri, f"GCN serial component {value[13:]!r} must be 0 to 12 digits")
        return value
    if ai == "8003":
        if value[0] != "0":
            raise _fail(_DL_URI, uri, f"GRAI {value!r} must start with the filler digit 0")
        _dl_digits(uri, ai, value[:14], 14)
        _dl_text(uri, ai, value[14:], 0, 16)
        return value
    if ai in ("401", "8004"):
        return _dl_text(uri, ai, value, 1, 30)
    # ai == "8010"
    return _dl_text(uri, ai, value, 1, 30, CS39)


def _dl_qualifier_value(uri: str, ai: str, value: str) -> str:
    if ai in ("22", "10", "21", "254"):
        return _dl_text(uri, ai, value, 1, 20)
    if ai == "235":
        return _dl_text(uri, ai, value, 1, 28)
    if ai == "8011":
        if not _is_digits(value) or not 1 <= len(value) <= 12:
            raise _fail(_DL_URI, uri, f"CPI serial {value!r} must be 1 to 12 digits (AI 8011)")
        return value
    if ai == "8019":
        if not _is_digits(value) or not 1 <= len(value) <= 10:
            raise _fail(_DL_URI, uri, f"SRIN {value!r} must be 1 to 10 digits (AI 8019)")
        return value
    # ai == "7040": GS1 UIC with extension 1 and importer index, 4 characters.
    return _dl_text(uri, ai, value, 4, 4)


def _is_subsequence(seq: list[str], allowed: tuple[str, ...]) -> bool:
    it = iter(allowed)
    return all(any(a == s for a in it) for s in seq)


#: EPC scheme of each canonical key shape: (primary AI, qualifier kept) → (scheme,
#: is_class, is_pattern); the pattern flag for 253/255/8003 depends on the serial part.
_SHAPES: dict[tuple[str, str | None], tuple[str, bool, bool]] = {
    ("00", None): ("sscc", False, False),
    ("01", "21"): ("sgtin", False, False),
    ("01", "10"): ("lgtin", True, False),
    ("01", "235"): ("upui", False, False),
    ("01", None): ("sgtin", False, True),
    ("253", None): ("gdti", False, False),
    ("255", None): ("sgcn", False, False),
    ("401", None): ("ginc", False, False),
    ("402", None): ("gsin", False, False),
    ("414", None): ("sgln", False, False),
    ("414", "254"): ("sgln", False, False),
    ("417", None): ("pgln", False, False),
    ("8003", None): ("grai", False, False),
    ("8004", None): ("giai", False, False),
    ("8006", "21"): ("itip", False, False),
    ("8006", "10"): ("itip", True, False),
    ("8006", None): ("itip", False, True),
    ("8010", "8011"): ("cpi", False, False),
    ("8010", None): ("cpi", False, True),
    ("8017", None): ("gsrnp", False, False),
    ("8018", None): ("gsrn", False, False),
}

#: Qualifiers kept in the canonical form, most fine-grained first (CBV 2.0 §8.9).
_KEEP = {"01": ("21", "10", "235"), "8006": ("21", "10"), "8010": ("8011",), "414": ("254",)}


def _parse_dl(uri: str) -> EpcKey | str:
    m = _DL_HEAD.fullmatch(uri)
    if m is None:
        return "not an http(s) URI"
    path = m.group(1) or ""
    segs = path.split("/")[1:]
    if segs and segs[-1] == "":
        segs.pop()
    for i, seg in enumerate(segs):
        ai = _PRIMARY.get(seg)
        if ai is None:
            continue
        rest = segs[i:]
        if len(rest) % 2:
            continue
        lead = _NUMERIC_LEAD.get(ai)
        if lead is not None and not _is_digits(rest[1][:lead]):
            continue
        quals = [_QUALIFIER_NAMES.get(q) for q in rest[2::2]]
        allowed = _QUALIFIER_PATHS.get(ai, ())
        if any(q is None or not any(q in path_ for path_ in allowed) for q in quals):
            continue
        return _dl_key(uri, ai, rest[1], [q for q in quals if q is not None], rest[3::2])
    return "no GS1 key in the URI path"


def _dl_key(uri: str, ai: str, raw_value: str, quals: list[str], raw_values: list[str]) -> EpcKey:
    value = _dl_primary_value(uri, ai, _dl_unescape(uri, raw_value))
    if len(set(quals)) != len(quals) or not any(
        _is_subsequence(quals, allowed) for allowed in _QUALIFIER_PATHS.get(ai, ((),))
    ):
        raise _fail(
            _DL_URI,
            uri,
            f"key qualifiers {'/'.join(quals)} are not in a valid order for AI {ai}",
        )
    qvalues = {
        q: _dl_qualifier_value(uri, q, _dl_unescape(uri, raw))
        for q, raw in zip(quals, raw_values, strict=True)
    }
    kept: str | None = None
    for q in _KEEP.get(ai, ()):
        if q in qvalues:
            kept = q
            break
    if kept == "254" and qvalues["254"] == "0":
        kept = None  # TDS §6.3.3: GLN extension 0 is "no extension"
    scheme, is_class, is_pattern = _SHAPES[(ai, kept)]
    if ai in ("253", "255"):
        is_pattern = len(value) == 13
    elif ai == "8003":
        is_pattern = len(value) == 14
    pairs: _Pairs = ((ai, value),) if kept is None else ((ai, value), (kept, qvalues[kept]))
    return EpcKey(scheme, pairs, is_class=is_class, is_pattern=is_pattern)


def _classify(uri: str) -> EpcKey | str:
    """An EpcKey for GS1 key URIs, a reason string for other URIs; raise when invalid."""
    if uri.startswith(_URN_PREFIX):
        return _parse_urn(uri)
    if uri[:4].lower() == "http":
        return _parse_dl(uri)
    return "neither an EPC URI (urn:epc:…) nor a GS1 Digital Link URI (https://…)"


# ------------------------------------------------------------ EpcKey → EPC URI


def _cp_len(key: EpcKey, digits: str, prefix_lengths: Mapping[str, int] | None) -> int:
    if key.prefix_length is not None:
        return key.prefix_length
    return company_prefix_length(digits, prefix_lengths)


def _urn_of_gtin(key: EpcKey, gtin: str, prefix_lengths: Mapping[str, int] | None) -> str:
    n = _cp_len(key, gtin[1:], prefix_lengths)
    return f"{gtin[1 : 1 + n]}.{gtin[0]}{gtin[1 + n : 13]}"


def _urn_of_key13(
    key: EpcKey, digits13: str, prefix_lengths: Mapping[str, int] | None
) -> tuple[str, str]:
    n = _cp_len(key, digits13, prefix_lengths)
    return digits13[:n], digits13[n:12]


def _urn_of_alnum(
    key: EpcKey, value: str, prefix_lengths: Mapping[str, int] | None
) -> tuple[str, str]:
    lead = len(value) - len(value.lstrip("0123456789"))
    n = _cp_len(key, value[: max(lead, 1)], prefix_lengths)
    if n >= len(value) or lead < n:
        raise IdentifierError(
            f"Cannot write {value!r} as an EPC URI: it must be a {n}-digit GS1 Company "
            "Prefix followed by at least one character."
        )
    return value[:n], value[n:]


def _to_urn(key: EpcKey, prefix_lengths: Mapping[str, int] | None) -> str:
    ai, value = key.ai_pairs[0]
    qual = key.ai_pairs[1] if len(key.ai_pairs) > 1 else None
    if ai == "01":
        head = _urn_of_gtin(key, value, prefix_lengths)
        if qual is None:
            scheme = "upui" if key.scheme == "upui" else "sgtin"
            return f"urn:epc:idpat:{scheme}:{head}.*"
        if qual[0] == "21":
            return f"urn:epc:id:sgtin:{head}.{_urn_escape(qual[1])}"
        if qual[0] == "10":
            return f"urn:epc:class:lgtin:{head}.{_urn_escape(qual[1])}"
        return f"urn:epc:id:upui:{head}.{_urn_escape(qual[1])}"
    if ai == "8006":
        head = _urn_of_gtin(key, value[:14], prefix_lengths)
        head = f"{head}.{value[14:16]}.{value[16:18]}"
        if qual is None:
            return f"urn:epc:idpat:itip:{head}.*"
        if qual[0] == "10":
            raise IdentifierError(
                f"Cannot write {key.digital_link()!r} as an EPC URI: TDS defines no EPC "
                "class URI for an ITIP with a lot (AI 8006 + AI 10)."
            )
        return f"urn:epc:id:itip:{head}.{_urn_escape(qual[1])}"
    if ai == "00":
        n = _cp_len(key, value[1:], prefix_lengths)
        return f"urn:epc:id:sscc:{value[1 : 1 + n]}.{value[0]}{value[1 + n : 17]}"
    if ai in ("414", "417"):
        cp, ref = _urn_of_key13(key, value, prefix_lengths)
        if ai == "417":
            return f"urn:epc:id:pgln:{cp}.{ref}"
        ext = _urn_escape(qual[1]) if qual is not None else "0"
        return f"urn:epc:id:sgln:{cp}.{ref}.{ext}"
    if ai in ("253", "255", "8003"):
        digits13 = value[1:14] if ai == "8003" else value[:13]
        serial = value[14:] if ai == "8003" else value[13:]
        cp, ref = _urn_of_key13(key, digits13, prefix_lengths)
        scheme = {"253": "gdti", "255": "sgcn", "8003": "grai"}[ai]
        if not serial:
            return f"urn:epc:idpat:{scheme}:{cp}.{ref}.*"
        return f"urn:epc:id:{scheme}:{cp}.{ref}.{_urn_escape(serial)}"
    if ai in ("8017", "8018", "402"):
        n = _cp_len(key, value, prefix_lengths)
        scheme = {"8017": "gsrnp", "8018": "gsrn", "402": "gsin"}[ai]
        return f"urn:epc:id:{scheme}:{value[:n]}.{value[n:-1]}"
    # 401, 8004, 8010: company prefix followed by an alphanumeric reference
    cp, ref = _urn_of_alnum(key, value, prefix_lengths)
    if ai == "8010":
        if qual is None:
            return f"urn:epc:idpat:cpi:{cp}.{_urn_escape(ref)}.*"
        return f"urn:epc:id:cpi:{cp}.{_urn_escape(ref)}.{qual[1]}"
    scheme = "ginc" if ai == "401" else "giai"
    return f"urn:epc:id:{scheme}:{cp}.{_urn_escape(ref)}"


# --------------------------------------------------------------------- public API


def parse_uri(uri: str) -> EpcKey:
    """Parse an EPC URI or GS1 Digital Link URI into an :class:`EpcKey`.

    >>> parse_uri("https://id.gs1.org/00/106141412345678908").scheme
    'sscc'
    >>> parse_uri("urn:uuid:0a0b")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    serialvault.errors.IdentifierError: Not a GS1 identifier URI 'urn:uuid:0a0b': neither ...
    """
    return EpcKey.parse(uri)


def to_digital_link(uri: str) -> str:
    """Any EPC URI or GS1 Digital Link URI → its canonical GS1 Digital Link URI.

    >>> to_digital_link("urn:epc:id:sgln:4012345.00011.987")
    'https://id.gs1.org/414/4012345000115/254/987'
    >>> to_digital_link("https://example.com/gtin/9780345418913/ser/765tz?abc=1")
    'https://id.gs1.org/01/09780345418913/21/765tz'
    """
    return EpcKey.parse(uri).digital_link()


def to_epc_urn(uri: str, *, prefix_lengths: Mapping[str, int] | None = None) -> str:
    """Any GS1 Digital Link URI or EPC URI → its canonical EPC URI (TDS §6.3).

    The GS1 Company Prefix length comes from an EPC URI input itself, else from
    ``prefix_lengths`` (leading digits → length) or the GS1 table.

    >>> to_epc_urn("https://id.gs1.org/01/00614141073467/21/2017")
    'urn:epc:id:sgtin:0614141.007346.2017'
    >>> to_epc_urn("https://id.gs1.org/00/095212345678901235", prefix_lengths={"9521234": 7})
    'urn:epc:id:sscc:9521234.0567890123'
    """
    return EpcKey.parse(uri).epc_urn(prefix_lengths)


def canonical_uri(uri: str) -> str:
    """Canonical GS1 Digital Link for GS1 key URIs; any other URI unchanged.

    "Other" means: not ``urn:epc:`` and not a Digital Link (``urn:uuid:…``,
    ``https://example.com/x``, ``geo:…``), an EPC of a non-GS1 scheme (GID, DoD, …),
    or a pattern matching more than one GS1 key. A URI that claims to be a GS1 key but
    is invalid (digit count, check digit, character set, escape) raises
    :class:`~serialvault.errors.IdentifierError`.

    >>> canonical_uri("urn:epc:id:sscc:4012345.0000000333")
    'https://id.gs1.org/00/040123450000003338'
    >>> canonical_uri("urn:uuid:0a0b")
    'urn:uuid:0a0b'
    """
    found = _classify(uri)
    if isinstance(found, str):
        return uri
    return found.digital_link()


_SGTIN_URN = "urn:epc:id:sgtin:"
_DL_GTIN = CANONICAL_STEM + "/01/"
#: Serial numbers that are written the same in an EPC URI and a Digital Link.
_PLAIN_SERIAL = re.compile(r"[A-Za-z0-9._;='-]{1,20}").fullmatch


@lru_cache(maxsize=4096)
def _sgtin_head(cp: str, ir: str) -> str | None:
    """``https://id.gs1.org/01/<gtin>/21/`` for a valid (company prefix, item ref)."""
    if (
        not _is_digits(cp)
        or not _is_digits(ir)
        or not 6 <= len(cp) <= 12
        or len(cp) + len(ir) != 13
    ):
        return None
    body = ir[0] + cp + ir[1:]
    return f"{_DL_GTIN}{body}{gs1_check_digit(body)}/21/"


@lru_cache(maxsize=4096)
def _gtin_ok(gtin: str) -> bool:
    return len(gtin) == 14 and _is_digits(gtin) and gs1_check_digit(gtin[:13]) == gtin[13]


@lru_cache(maxsize=1 << 17)
def canonical_key(uri: str) -> str:
    """The repository key of an EPC-bearing value: :func:`canonical_uri`, made fast.

    Called for every EPC of every captured event — three times per EPC while a document
    is prepared (validation, event hash, facts), so the last 131,072 results are kept:
    a document of bounded size (capture batches are ~50k EPCs) is converted once.
    SGTIN EPC URIs and canonical SGTIN Digital Links with plain serials take a fast path
    whose GTIN part is cached per (company prefix, item reference). Everything else goes
    through the full parser; results are identical. Invalid input raises every time
    (exceptions are not cached).

    >>> canonical_key("urn:epc:id:sgtin:0614141.107346.2017")
    'https://id.gs1.org/01/10614141073464/21/2017'
    """
    if uri.startswith(_SGTIN_URN):
        parts = uri[17:].split(".", 2)
        if len(parts) == 3:
            head = _sgtin_head(parts[0], parts[1])
            if head is not None and _PLAIN_SERIAL(parts[2]):
                return head + parts[2]
    elif uri.startswith(_DL_GTIN) and uri[36:40] == "/21/":
        serial = uri[40:]
        if _gtin_ok(uri[22:36]) and _PLAIN_SERIAL(serial):
            return uri
    return canonical_uri(uri)
