"""Log segments: a run of log records ``[first_seq, last_seq]`` framed as bytes.

The unit of incremental backup, continuous shipping and point-in-time restore (DESIGN.md
"Segments"; Litestream names its segments by the range they cover, so do we). The frame
is text a person can read after ``zstd -d``::

    {"format":"serialvault.segment/1","first_seq":F,"last_seq":L,"records":N}\\n
    [seq,recorded_at,kind,actor,reason,body_hash,chain_hash,body_length]\\n
    <body: body_length bytes of canonical JSON>\\n
    ... one meta line and one body per record

Every field of the log record travels, so the chain can be recomputed from segments
alone (``backup verify --full``) and a restore into another engine needs nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from serialvault.domain.chain import GENESIS, LogRecord, body_hash, chain_hash
from serialvault.errors import IntegrityFailure

FORMAT = "serialvault.segment/1"


def encode(records: Iterable[LogRecord]) -> tuple[bytes, int, int, int]:
    """``(frame, first_seq, last_seq, count)`` of consecutive ``records``."""
    parts: list[bytes] = []
    first = last = 0
    n = 0
    for r in records:
        if n == 0:
            first = r.seq
        elif r.seq != last + 1:
            raise ValueError(f"segment records must be consecutive: {last} then {r.seq}")
        last = r.seq
        n += 1
        parts.append(
            orjson.dumps(
                [
                    r.seq,
                    r.recorded_at,
                    r.kind,
                    r.actor,
                    r.reason,
                    r.body_hash,
                    r.chain_hash,
                    len(r.body),
                ]
            )
        )
        parts.append(b"\n")
        parts.append(r.body)
        parts.append(b"\n")
    if n == 0:
        raise ValueError("a segment needs at least one record")
    header = orjson.dumps({"format": FORMAT, "first_seq": first, "last_seq": last, "records": n})
    return header + b"\n" + b"".join(parts), first, last, n


def decode(frame: bytes, name: str = "segment") -> list[LogRecord]:
    """The records of a frame; :class:`IntegrityFailure` naming what is malformed."""
    nl = frame.find(b"\n")
    try:
        header = orjson.loads(frame[:nl] if nl >= 0 else frame)
    except orjson.JSONDecodeError:
        raise IntegrityFailure(f"{name}: segment header is not JSON") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        fmt = header.get("format") if isinstance(header, dict) else None
        raise IntegrityFailure(f"{name}: segment format {fmt!r} is not {FORMAT!r}")
    out: list[LogRecord] = []
    pos = nl + 1
    size = len(frame)
    while pos < size:
        end = frame.find(b"\n", pos)
        if end < 0:
            raise IntegrityFailure(f"{name}: truncated after {len(out)} records")
        try:
            seq, at, kind, actor, reason, bh, ch, blen = orjson.loads(frame[pos:end])
        except (orjson.JSONDecodeError, ValueError, TypeError):
            raise IntegrityFailure(
                f"{name}: record {len(out) + 1} has a malformed meta line"
            ) from None
        stop = end + 1 + int(blen)
        body = frame[end + 1 : stop]
        if len(body) != blen or frame[stop : stop + 1] != b"\n":
            raise IntegrityFailure(f"{name}: record seq {seq} is truncated")
        out.append(LogRecord(int(seq), at, kind, actor, reason, body, bh, ch))
        pos = stop + 1
    if (
        len(out) != header.get("records")
        or not out
        or out[0].seq != header.get("first_seq")
        or out[-1].seq != header.get("last_seq")
    ):
        raise IntegrityFailure(
            f"{name}: header says seq {header.get('first_seq')}..{header.get('last_seq')}"
            f" ({header.get('records')} records), frame holds {len(out)} records"
        )
    return out


def check_chain(records: list[LogRecord], prev_chain: str, name: str = "segment") -> str:
    """Recompute body and chain hashes from ``prev_chain``; the last chain hash.

    ``prev_chain`` is the chain hash of the record before the first (``GENESIS`` for
    seq 1). Raises :class:`IntegrityFailure` naming the first record that does not hold.
    """
    prev = prev_chain
    expect_seq = records[0].seq if records else 1
    if records and records[0].seq == 1 and prev != GENESIS:
        raise IntegrityFailure(f"{name}: seq 1 must follow the genesis value")
    for r in records:
        if r.seq != expect_seq:
            raise IntegrityFailure(f"{name}: seq {expect_seq} expected, found {r.seq}")
        bh = body_hash(r.body)
        if bh != r.body_hash:
            raise IntegrityFailure(f"{name}: seq {r.seq} body hash {r.body_hash}, body hashes {bh}")
        ch = chain_hash(prev, r.seq, r.recorded_at, r.kind, r.actor, r.reason, bh)
        if ch != r.chain_hash:
            raise IntegrityFailure(
                f"{name}: seq {r.seq} chain hash {r.chain_hash}, recomputed {ch}"
            )
        prev = ch
        expect_seq += 1
    return prev
