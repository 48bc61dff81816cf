"""CBV 2.0 standard vocabularies and GS1 Web Vocabulary sensor types.

EPCIS 2.0 leaves the *values* of ``bizStep``, ``disposition``, business transaction
types, source/destination types and error reasons to the Core Business Vocabulary
(CBV 2.0 §7). Each standard value has several spellings that mean the same thing
(CBV 2.0 §6 and the EPCIS 2.0 §12 JSON-LD context):

=================  ===========================================  ==========================
spelling           example                                      where it is used
=================  ===========================================  ==========================
bare word          ``shipping``                                 EPCIS 2.0 JSON-LD (the
                                                                context maps it)
URN                ``urn:epcglobal:cbv:bizstep:shipping``       EPCIS 1.x / 2.0 XML
Web URI            ``https://ref.gs1.org/cbv/BizStep-shipping`` EPCIS 2.0, CBV 2.0 §6
CURIE              ``cbv:BizStep-shipping``                     JSON-LD with ``cbv`` prefix
=================  ===========================================  ==========================

The ``normalize_*`` functions reduce every spelling of a standard value to its bare
word, so that the rest of the system compares one form. Custom values are allowed
"where the standard allows" (CBV 2.0 §6, user vocabularies): any absolute URI
outside the CBV namespaces, or a CURIE whose prefix the document declares, is
returned unchanged. What is *not* allowed, and raises :class:`VocabularyError`:

* an unknown bare word — a bare word can only be a standard value
  (``'transforming' is not a CBV 2.0 business step``, with a "did you mean" hint);
* an unknown value inside a standard namespace (``urn:epcglobal:cbv:bizstep:x``,
  ``https://ref.gs1.org/cbv/BizStep-x``), or a value of another CBV vocabulary
  (a disposition URI used as a business step);
* a CURIE whose prefix is neither declared nor a URI scheme (``cvb:BizStep-shipping``)
  — judged only when the document's prefixes are passed (validation does); without
  them such a CURIE is returned unchanged, since it cannot be judged.

Sensor measurement types (``sensorReport.type``, EPCIS 2.0 sensor data) and sensor alert
types (``sensorReport.exception``) come from the GS1 Web Vocabulary
(``gs1:MeasurementType``, ``gs1:SensorAlertType``) rather than the CBV; the same rules
apply with the ``gs1:`` namespace.

Pure: no I/O; the value tables are literals with their source cited.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from serialvault.epcis.model import STANDARD_PREFIXES
from serialvault.errors import ValidationError


class VocabularyError(ValidationError, ValueError):
    """A vocabulary value is neither a standard CBV / GS1 value nor an allowed custom URI.

    The message names the value, the vocabulary and, when a standard value is close,
    suggests it: ``'transforming' is not a CBV 2.0 business step (CBV 2.0 §7.1); did you
    mean 'transporting'?``
    """

    kind = "vocabulary"


#: EPCIS 2.0 §7.3.2 (Action): the only three values, no URI forms.
ACTIONS: tuple[str, ...] = ("ADD", "OBSERVE", "DELETE")

#: CBV 2.0 §7.1 Business steps.
BIZ_STEPS: frozenset[str] = frozenset(
    {
        "accepting",
        "arriving",
        "assembling",
        "collecting",
        "commissioning",
        "consigning",
        "creating_class_instance",
        "cycle_counting",
        "decommissioning",
        "departing",
        "destroying",
        "disassembling",
        "dispensing",
        "encoding",
        "entering_exiting",
        "holding",
        "inspecting",
        "installing",
        "killing",
        "loading",
        "other",
        "packing",
        "picking",
        "receiving",
        "removing",
        "repackaging",
        "repairing",
        "replacing",
        "reserving",
        "retail_selling",
        "sampling",
        "sensor_reporting",
        "shipping",
        "staging_outbound",
        "stock_taking",
        "stocking",
        "storing",
        "transporting",
        "unloading",
        "unpacking",
        "void_shipping",
    }
)

#: CBV 2.0 §7.2 Dispositions.
DISPOSITIONS: frozenset[str] = frozenset(
    {
        "active",
        "available",
        "completeness_inferred",
        "completeness_verified",
        "conformant",
        "container_closed",
        "container_open",
        "damaged",
        "destroyed",
        "dispensed",
        "disposed",
        "encoded",
        "expired",
        "in_progress",
        "in_transit",
        "inactive",
        "mismatch_class",
        "mismatch_instance",
        "mismatch_quantity",
        "needs_replacement",
        "no_pedigree_match",
        "non_conformant",
        "non_sellable_other",
        "partially_dispensed",
        "recalled",
        "reserved",
        "retail_sold",
        "returned",
        "sellable_accessible",
        "sellable_not_accessible",
        "stolen",
        "unavailable",
        "unknown",
    }
)

#: CBV 2.0 §7.3 Business transaction types.
BUSINESS_TRANSACTION_TYPES: frozenset[str] = frozenset(
    {
        "bol",
        "cert",
        "desadv",
        "inv",
        "pedigree",
        "po",
        "poc",
        "prodorder",
        "recadv",
        "rma",
        "testprd",
        "testres",
        "upevt",
    }
)

#: CBV 2.0 §7.4 Source/destination types.
SOURCE_DESTINATION_TYPES: frozenset[str] = frozenset(
    {"owning_party", "possessing_party", "location"}
)

#: CBV 2.0 §7.5 Error reason identifiers.
ERROR_REASONS: frozenset[str] = frozenset({"did_not_occur", "incorrect_data"})

#: GS1 Web Vocabulary ``gs1:MeasurementType`` code list (https://ref.gs1.org/voc/,
#: referenced by EPCIS 2.0 for ``sensorReport.type``), including
#: ``EffectiveDoseRate`` and ``Molar_concentration`` of the ratified list.
MEASUREMENT_TYPES: frozenset[str] = frozenset(
    {
        "AbsoluteHumidity",
        "AbsorbedDose",
        "AbsorbedDoseRate",
        "Acceleration",
        "Altitude",
        "AmountOfSubstance",
        "AmountOfSubstancePerUnitVolume",
        "Angle",
        "AngularAcceleration",
        "AngularMomentum",
        "AngularVelocity",
        "Area",
        "Capacitance",
        "Conductance",
        "Conductivity",
        "Count",
        "Density",
        "Dimensionless",
        "DoseEquivalent",
        "DoseEquivalentRate",
        "DynamicViscosity",
        "EffectiveDoseRate",
        "ElectricCharge",
        "ElectricCurrent",
        "ElectricCurrentDensity",
        "ElectricFieldStrength",
        "Energy",
        "Exposure",
        "Force",
        "Frequency",
        "Illuminance",
        "Inductance",
        "Irradiance",
        "KinematicViscosity",
        "Length",
        "LinearMomentum",
        "Luminance",
        "LuminousFlux",
        "LuminousIntensity",
        "MagneticFlux",
        "MagneticFluxDensity",
        "MagneticVectorPotential",
        "Mass",
        "MassConcentration",
        "MassFlowRate",
        "MassPerAreaTime",
        "MemoryCapacity",
        "MolalityOfSolute",
        "Molar_concentration",
        "MolarEnergy",
        "MolarMass",
        "MolarVolume",
        "Power",
        "Pressure",
        "RadiantFlux",
        "RadiantIntensity",
        "Radioactivity",
        "RelativeHumidity",
        "Resistance",
        "Resistivity",
        "SolidAngle",
        "SpecificVolume",
        "Speed",
        "SurfaceDensity",
        "SurfaceTension",
        "Temperature",
        "Time",
        "Torque",
        "Voltage",
        "Volume",
        "VolumeFlowRate",
        "VolumeFraction",
        "VolumetricFlux",
        "Wavenumber",
    }
)

#: GS1 Web Vocabulary ``gs1:SensorAlertType`` (``sensorReport.exception``).
SENSOR_ALERT_TYPES: frozenset[str] = frozenset({"ALARM_CONDITION", "ERROR_CONDITION"})

#: URI schemes accepted for custom vocabulary values written out in full. A value like
#: ``cvb:BizStep-shipping`` is syntactically a URI too, but its "scheme" is a mistyped
#: prefix; only these registered schemes (or anything with an authority, ``x://``) count
#: as absolute URIs when the prefix is not declared (RFC 3986 §3.1, IANA URI schemes).
URI_SCHEMES: frozenset[str] = frozenset(
    {"http", "https", "urn", "tag", "ni", "did", "mailto", "ftp", "ftps", "ldap", "info"}
)

_GS1_WEB_VOC = ("https://gs1.org/voc/", "https://ref.gs1.org/voc/", "http://gs1.org/voc/")
_CBV_WEB = "https://ref.gs1.org/cbv/"


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """One standard vocabulary: its values and the namespaces of its spellings.

    ``urn_prefix`` and ``web_prefix`` are the CBV 2.0 §6 URN and Web URI namespaces; a value
    inside either that is not in ``values`` is an error, because the namespace belongs
    to GS1 and only the standard may define values in it.
    """

    kind: str
    label: str
    section: str
    values: frozenset[str]
    urn_prefix: str | None
    web_prefixes: tuple[str, ...]
    curie: str | None = None  # CURIE form with a standard prefix, e.g. "cbv:BizStep-"

    def urn(self, bare: str) -> str:
        if self.urn_prefix is None:
            raise VocabularyError(f"a {self.label} has no URN form")
        return self.urn_prefix + self._standard(bare)

    def web_uri(self, bare: str) -> str:
        return self.web_prefixes[0] + self._standard(bare)

    def _standard(self, bare: str) -> str:
        if bare not in self.values:
            raise VocabularyError(self.unknown_word_message(bare))
        return bare

    def suggest(self, word: str) -> str | None:
        """The closest standard value to ``word`` (difflib ratio ≥ 0.6 or same letters)."""
        close = difflib.get_close_matches(word, sorted(self.values), n=1, cutoff=0.6)
        if not close:
            close = [v for v in sorted(self.values) if v.lower() == word.lower()][:1]
        return close[0] if close else None

    def unknown_word_message(self, word: str) -> str:
        msg = f"{word!r} is not a {self.label} ({self.section})"
        close = self.suggest(word)
        return f"{msg}; did you mean {close!r}?" if close else msg


def _cbv(
    kind: str, label: str, section: str, values: frozenset[str], urn: str, web: str
) -> Vocabulary:
    return Vocabulary(
        kind=kind,
        label=label,
        section=section,
        values=values,
        urn_prefix=f"urn:epcglobal:cbv:{urn}:",
        web_prefixes=(f"{_CBV_WEB}{web}-",),
        curie=f"cbv:{web}-",
    )


BIZSTEP = _cbv("bizstep", "CBV 2.0 business step", "CBV 2.0 §7.1", BIZ_STEPS, "bizstep", "BizStep")
DISPOSITION = _cbv(
    "disposition", "CBV 2.0 disposition", "CBV 2.0 §7.2", DISPOSITIONS, "disp", "Disp"
)
BTT = _cbv(
    "btt",
    "CBV 2.0 business transaction type",
    "CBV 2.0 §7.3",
    BUSINESS_TRANSACTION_TYPES,
    "btt",
    "BTT",
)
SDT = _cbv(
    "sdt", "CBV 2.0 source/destination type", "CBV 2.0 §7.4", SOURCE_DESTINATION_TYPES, "sdt", "SDT"
)
ERROR_REASON = _cbv(
    "error_reason", "CBV 2.0 error reason", "CBV 2.0 §7.5", ERROR_REASONS, "er", "ER"
)
MEASUREMENT_TYPE = Vocabulary(
    kind="measurement_type",
    label="GS1 Web Vocabulary measurement type",
    section="GS1 Web Vocabulary gs1:MeasurementType",
    values=MEASUREMENT_TYPES,
    urn_prefix=None,
    web_prefixes=_GS1_WEB_VOC,
    curie="gs1:",
)
SENSOR_ALERT_TYPE = Vocabulary(
    kind="sensor_alert_type",
    label="GS1 Web Vocabulary sensor alert type",
    section="GS1 Web Vocabulary gs1:SensorAlertType",
    values=SENSOR_ALERT_TYPES,
    urn_prefix=None,
    web_prefixes=_GS1_WEB_VOC,
    curie="gs1:",
)

VOCABULARIES: dict[str, Vocabulary] = {
    v.kind: v
    for v in (BIZSTEP, DISPOSITION, BTT, SDT, ERROR_REASON, MEASUREMENT_TYPE, SENSOR_ALERT_TYPE)
}

#: The CBV vocabularies whose namespaces are mutually exclusive (a value of one used
#: where another is expected is an error, not a custom value).
_CBV_KINDS = ("bizstep", "disposition", "btt", "sdt", "error_reason")

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):(.*)$", re.DOTALL)


#: The CBV URN namespace names (``urn:epcglobal:cbv:disp:``, ``…:er:``) work as kinds too.
_KIND_ALIASES = {"disp": "disposition", "er": "error_reason"}


def vocabulary(kind: str) -> Vocabulary:
    """The vocabulary called ``kind`` (``bizstep``, ``disposition`` or ``disp``, ``btt``,
    ``sdt``, ``error_reason`` or ``er``, ``measurement_type``, ``sensor_alert_type``)."""
    try:
        return VOCABULARIES[_KIND_ALIASES.get(kind, kind)]
    except KeyError:
        raise ValueError(
            f"unknown vocabulary kind {kind!r}; expected one of {', '.join(VOCABULARIES)}"
        ) from None


def expand(value: str, namespaces: Mapping[str, str] | None = None) -> str | None:
    """Expand a CURIE to an absolute IRI; return absolute URIs unchanged.

    Returns None when ``value`` is neither: a bare word (no colon) or a CURIE whose
    prefix is not declared and is not a URI scheme. Standard prefixes (``cbv``,
    ``gs1``, …; EPCIS 2.0 JSON-LD context) are always known.
    """
    m = _SCHEME.match(value)
    if m is None:
        return None
    prefix, rest = m.group(1), m.group(2)
    if rest.startswith("//"):
        return value
    if prefix.lower() in URI_SCHEMES:
        return value if rest else None
    ns = namespaces.get(prefix) if namespaces is not None else None
    if ns is None:
        ns = STANDARD_PREFIXES.get(prefix)
    return None if ns is None else ns + rest


def _classify(vocab: Vocabulary, value: str, namespaces: Mapping[str, str] | None) -> str:
    """Return the bare word of a standard value or ``value`` itself for a custom one.

    Raises VocabularyError for everything the module docstring lists as not allowed.
    """
    if value in vocab.values:
        return value
    if ":" not in value:
        raise VocabularyError(vocab.unknown_word_message(value))
    iri = expand(value, namespaces)
    if iri is None and namespaces is None and _SCHEME.match(value):
        # Without the document's prefixes a custom CURIE cannot be judged; validation
        # (which has them) has already done so, so later callers get it back unchanged.
        return value
    if iri is None:
        prefix = value.split(":", 1)[0]
        raise VocabularyError(
            f"{value!r} is not a {vocab.label} ({vocab.section}) nor an absolute URI: "
            f"the prefix {prefix!r} is not declared in @context"
        )
    for prefix in _own_prefixes(vocab):
        if iri.startswith(prefix):
            word = iri[len(prefix) :]
            if word in vocab.values:
                return word
            msg = (
                f"{value!r} is in the namespace {prefix!r}, which only standard values may"
                f" use, but {word!r} is not a {vocab.label} ({vocab.section})"
            )
            close = vocab.suggest(word)
            raise VocabularyError(f"{msg}; did you mean {prefix + close!r}?" if close else msg)
    if vocab.kind in _CBV_KINDS:
        for other_kind in _CBV_KINDS:
            if other_kind == vocab.kind:
                continue
            other = VOCABULARIES[other_kind]
            for prefix in _own_prefixes(other):
                if iri.startswith(prefix):
                    raise VocabularyError(
                        f"{value!r} is a {other.label} URI, not a {vocab.label} ({vocab.section})"
                    )
    return value


def _own_prefixes(vocab: Vocabulary) -> tuple[str, ...]:
    if vocab.urn_prefix is None:
        return vocab.web_prefixes
    return (vocab.urn_prefix, *vocab.web_prefixes)


def normalize(kind: str, value: str, namespaces: Mapping[str, str] | None = None) -> str:
    """Reduce ``value`` of vocabulary ``kind`` to its bare word (standard) or keep it (custom).

    ``namespaces`` are the document's prefixes (``EpcisDocument.all_namespaces()``);
    without them only the standard prefixes expand, and a CURIE with any other prefix
    is returned unchanged (it cannot be judged without its document).

    >>> normalize("bizstep", "urn:epcglobal:cbv:bizstep:shipping")
    'shipping'
    >>> normalize("disposition", "https://example.com/disp/quarantined")
    'https://example.com/disp/quarantined'
    """
    if not isinstance(value, str):
        raise VocabularyError(
            f"a {vocabulary(kind).label} must be a string, found {type(value).__name__}"
        )
    return _classify(vocabulary(kind), value, namespaces)


def problem(kind: str, value: object, namespaces: Mapping[str, str] | None = None) -> str | None:
    """The reason ``value`` is not acceptable for vocabulary ``kind``, or None when it is."""
    vocab = vocabulary(kind)
    if not isinstance(value, str):
        return f"a {vocab.label} must be a string, found {type(value).__name__}"
    if value in vocab.values:  # fast path: the usual bare word
        return None
    try:
        _classify(vocab, value, namespaces)
    except VocabularyError as exc:
        return exc.message
    return None


def normalize_bizstep(value: str, namespaces: Mapping[str, str] | None = None) -> str:
    """Business step (CBV 2.0 §7.1) in its bare form; custom URIs unchanged."""
    return normalize("bizstep", value, namespaces)


def normalize_disposition(value: str, namespaces: Mapping[str, str] | None = None) -> str:
    """Disposition (CBV 2.0 §7.2) in its bare form; custom URIs unchanged."""
    return normalize("disposition", value, namespaces)


def normalize_btt(value: str, namespaces: Mapping[str, str] | None = None) -> str:
    """Business transaction type (CBV 2.0 §7.3) in its bare form; custom URIs unchanged."""
    return normalize("btt", value, namespaces)


def normalize_sdt(value: str, namespaces: Mapping[str, str] | None = None) -> str:
    """Source/destination type (CBV 2.0 §7.4) in its bare form; custom URIs unchanged."""
    return normalize("sdt", value, namespaces)


def normalize_error_reason(value: str, namespaces: Mapping[str, str] | None = None) -> str:
    """Error reason (CBV 2.0 §7.5) in its bare form; custom URIs unchanged."""
    return normalize("error_reason", value, namespaces)


def normalize_measurement_type(value: str, namespaces: Mapping[str, str] | None = None) -> str:
    """Sensor measurement type (GS1 Web Vocabulary) in its bare form; custom IRIs unchanged."""
    return normalize("measurement_type", value, namespaces)


def normalize_action(value: str) -> str:
    """EPCIS 2.0 §7.3.2 action: exactly ``ADD``, ``OBSERVE`` or ``DELETE``.

    >>> normalize_action("OBSERV")
    Traceback (most recent call last):
    ...
    serialvault.epcis.vocab.VocabularyError: 'OBSERV' is not an EPCIS action (ADD, OBSERVE or DELETE, EPCIS 2.0 §7.3.2); did you mean 'OBSERVE'?
    """  # noqa: E501
    if value in ACTIONS:
        return value
    raise VocabularyError(action_message(value))


def action_message(value: object) -> str:
    """The message for a wrong ``action``, with a suggestion when one is close."""
    msg = f"{value!r} is not an EPCIS action (ADD, OBSERVE or DELETE, EPCIS 2.0 §7.3.2)"
    if isinstance(value, str):
        close = difflib.get_close_matches(value.upper(), ACTIONS, n=1, cutoff=0.6)
        if close:
            msg += f"; did you mean {close[0]!r}?"
    return msg


def to_urn(kind: str, bare: str) -> str:
    """``urn:epcglobal:cbv:…`` form of a standard CBV value (CBV 2.0 §6).

    >>> to_urn("disposition", "in_transit")
    'urn:epcglobal:cbv:disp:in_transit'
    """
    return vocabulary(kind).urn(bare)


def to_web_uri(kind: str, bare: str) -> str:
    """``https://ref.gs1.org/cbv/…`` form of a standard CBV value (CBV 2.0 §6).

    >>> to_web_uri("bizstep", "shipping")
    'https://ref.gs1.org/cbv/BizStep-shipping'
    """
    return vocabulary(kind).web_uri(bare)


def to_curie(kind: str, bare: str) -> str:
    """CURIE form (``cbv:BizStep-shipping``, ``gs1:Temperature``) of a standard value."""
    vocab = vocabulary(kind)
    assert vocab.curie is not None
    return vocab.curie + vocab._standard(bare)
