"""Corrective and preventive actions (CAPA): content, phases, and what closing needs (pure).

ICH Q10 §3.2.2 asks for a CAPA system fed by deviations, with an investigation that
finds the root cause and an effectiveness check of the actions taken; EU GMP Chapter 1
§1.4(xiv) and 21 CFR 211.192 ask for the same of investigations. A CAPA here is a
versioned record (``capa.version``: the whole CAPA as it is after each change, so any
version can be read back as it stood) holding the problem statement, the root cause,
corrective and preventive actions each with an owner and a due date, the
effectiveness check, and the exceptions and drills it answers.

Closing needs the root cause, at least one action, every action done, the
effectiveness check recorded as effective, and a ``qa`` signature over the SHA-256 of
the CAPA as closed (21 CFR 11.50, 11.70).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any

from serialvault.canonical import canonical_json

OPEN = "open"
CHECK = "effectiveness-check"
CLOSED = "closed"
ACTION_KINDS: tuple[str, ...] = ("corrective", "preventive")
#: How long a CAPA's text fields may be (a problem statement is a paragraph, not a file).
MAX_TEXT = 4000


def capa_id(seq: int) -> str:
    """A CAPA's id: ``CAPA-`` and the seq of its first version.

    >>> capa_id(12)
    'CAPA-12'
    """
    return f"CAPA-{seq}"


def parse_capa_id(text: str) -> str | None:
    """The canonical id ``text`` names (``capa-12``, ``CAPA-12`` or ``12``), else ``None``.

    >>> parse_capa_id(" capa-12"), parse_capa_id("12"), parse_capa_id("EX-12")
    ('CAPA-12', 'CAPA-12', None)
    """
    value = text.strip().upper().removeprefix("CAPA-")
    return capa_id(int(value)) if value.isdigit() and 0 < len(value) < 19 else None


def due_date(text: str, what: str) -> str:
    """A due date as ``YYYY-MM-DD``, or ``ValueError`` saying what was wrong.

    >>> due_date("2027-01-31", "--due")
    '2027-01-31'
    >>> due_date("31.01.2027", "--due")
    Traceback (most recent call last):
    ...
    ValueError: --due '31.01.2027': a date as YYYY-MM-DD (ISO 8601)
    """
    try:
        return dt.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise ValueError(f"{what} {text!r}: a date as YYYY-MM-DD (ISO 8601)") from None


def text_problem(value: str | None, what: str, *, required: bool = False) -> str | None:
    """Why a text field cannot be recorded (``None`` if it can).

    >>> text_problem("  ", "--title", required=True)
    '--title is empty: say it in words'
    """
    if value is None or not value.strip():
        return f"{what} is empty: say it in words" if required else None
    if len(value) > MAX_TEXT:
        return f"{what} is {len(value):,} characters long; at most {MAX_TEXT:,}"
    return None


def new_content(
    cid: str,
    *,
    title: str,
    problem: str,
    owner: str,
    root_cause: str | None = None,
    exceptions: list[str] | None = None,
    drills: list[str] | None = None,
) -> dict[str, Any]:
    """The first version of a CAPA."""
    return {
        "capa": cid,
        "title": title.strip(),
        "problem": problem.strip(),
        "root_cause": root_cause.strip() if root_cause else None,
        "owner": owner,
        "actions": [],
        "effectiveness": {
            "plan": None,
            "due": None,
            "result": None,
            "effective": None,
            "by": None,
            "at": None,
        },
        "exceptions": sorted(set(exceptions or [])),
        "drills": sorted(set(drills or [])),
        "status": OPEN,
        "closure": None,
    }


def add_action(
    content: Mapping[str, Any], kind: str, text: str, owner: str, due: str
) -> dict[str, Any]:
    """``content`` with a new corrective or preventive action (``CA-n`` / ``PA-n``)."""
    if kind not in ACTION_KINDS:
        raise ValueError(f"action kind {kind!r}: corrective or preventive")
    prefix = "CA" if kind == "corrective" else "PA"
    n = 1 + sum(1 for a in content["actions"] if a["kind"] == kind)
    action = {
        "id": f"{prefix}-{n}",
        "kind": kind,
        "text": text.strip(),
        "owner": owner,
        "due": due,
        "done_at": None,
        "done_by": None,
        "note": None,
    }
    return {**content, "actions": [*content["actions"], action]}


def phase(content: Mapping[str, Any]) -> str:
    """Where the CAPA stands: ``open`` while actions are to be defined or done,
    ``effectiveness-check`` once every action is done, ``closed`` when signed closed.

    >>> c = new_content("CAPA-1", title="t", problem="p", owner="q")
    >>> phase(c)
    'open'
    >>> c = add_action(c, "corrective", "fix", "op", "2027-01-01")
    >>> c["actions"][0]["done_at"] = "2026-12-01T00:00:00Z"
    >>> phase(c)
    'effectiveness-check'
    """
    if content.get("status") == CLOSED:
        return CLOSED
    actions = content["actions"]
    if actions and all(a["done_at"] for a in actions):
        return CHECK
    return OPEN


def overdue(content: Mapping[str, Any], today: str) -> list[str]:
    """What is past its due date on ``today`` (``YYYY-MM-DD``): each action not done,
    and the effectiveness check not recorded.

    >>> c = add_action(new_content("CAPA-1", title="t", problem="p", owner="q"),
    ...                "preventive", "train", "op", "2026-11-30")
    >>> overdue(c, "2026-12-07")
    ['PA-1 (train) was due 2026-11-30, owner op']
    """
    if content.get("status") == CLOSED:
        return []
    late = [
        f"{a['id']} ({a['text'][:60]}) was due {a['due']}, owner {a['owner']}"
        for a in content["actions"]
        if not a["done_at"] and a["due"] < today
    ]
    eff = content["effectiveness"]
    if eff["due"] and eff["result"] is None and eff["due"] < today:
        late.append(f"effectiveness check was due {eff['due']}")
    return late


def next_due(content: Mapping[str, Any]) -> str | None:
    """The earliest due date of what is still to be done (``None`` when nothing is)."""
    if content.get("status") == CLOSED:
        return None
    dates = [a["due"] for a in content["actions"] if not a["done_at"]]
    eff = content["effectiveness"]
    if eff["due"] and eff["result"] is None:
        dates.append(eff["due"])
    return min(dates) if dates else None


def closure_problem(content: Mapping[str, Any]) -> str | None:
    """Why the CAPA cannot be closed as it stands (``None`` if it can).

    >>> closure_problem(new_content("CAPA-1", title="t", problem="p", owner="q"))
    'CAPA-1 has no root cause recorded (capa update CAPA-1 --root-cause TEXT)'
    """
    cid = content["capa"]
    if content.get("status") == CLOSED:
        return f"{cid} is already closed"
    if not content.get("root_cause"):
        return f"{cid} has no root cause recorded (capa update {cid} --root-cause TEXT)"
    if not content["actions"]:
        return f"{cid} has no corrective or preventive action (capa update {cid} --corrective …)"
    open_actions = [a["id"] for a in content["actions"] if not a["done_at"]]
    if open_actions:
        return f"{cid}: actions not done: {', '.join(open_actions)}"
    eff = content["effectiveness"]
    if eff["result"] is None:
        return (
            f"{cid}: the effectiveness check is not recorded (capa update {cid}"
            " --effectiveness-result TEXT --effective)"
        )
    if eff["effective"] is not True:
        return (
            f"{cid}: the effectiveness check found the actions not effective; add actions"
            " and check again before closing"
        )
    return None


def content_sha256(content: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical CAPA content: what a closing signature is over."""
    return hashlib.sha256(canonical_json(dict(content))).hexdigest()
