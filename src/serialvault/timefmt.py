"""Time in one form: UTC, ISO 8601, microseconds, ``Z``.

DESIGN.md "Time": UTC everywhere, ISO 8601 with milliseconds or better; the EPCIS time
zone offset is kept as given (``events.event_time_offset``). Storing one fixed-width
string form means timestamps sort and compare as text on every engine and appear the
same in every report and fingerprint.
"""

from __future__ import annotations

from datetime import UTC, datetime

FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_iso(dt: datetime) -> str:
    """Render an aware datetime as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: a time zone is required")
    return dt.astimezone(UTC).strftime(FORMAT)


def now_utc() -> str:
    """The current time (contemporaneous, ALCOA+) in the stored form."""
    return utc_iso(datetime.now(UTC))


def parse_timestamp(value: str) -> datetime:
    """Parse an xsd:dateTimeStamp (RFC 3339 with offset or ``Z``); naive times are refused.

    EPCIS 2.0 §7.3.1 requires eventTime with a time zone; fractional seconds beyond
    microseconds are truncated (Python's resolution), which is finer than the
    millisecond precision of the event hash (CBV 2.0 §8.9).
    """
    if value.endswith("z"):  # RFC 3339 §5.6: "Z" may be written in lower case
        value = value[:-1] + "Z"
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone offset")
    return dt


def normalize_timestamp(value: str) -> str:
    """``parse_timestamp`` then ``utc_iso``: the stored form of an EPCIS timestamp."""
    return utc_iso(parse_timestamp(value))
