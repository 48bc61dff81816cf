"""Canonical JSON (RFC 8785, JSON Canonicalization Scheme).

Log bodies, manifests and evidence are hashed, so their bytes must not depend on the
engine, the platform or the order in which a dict was built (DESIGN.md "Canonical
bodies"). JCS fixes that: keys sorted by UTF-16 code units, no insignificant white
space, ECMAScript number formatting, minimal string escaping, UTF-8.

``orjson`` with sorted keys already produces JCS output for the data we mostly write
(strings, integers, nested objects with ASCII keys); it differs only for floats
(``1.0`` vs ``1``, ``-0.0``) and for the sort order of keys outside the Basic
Multilingual Plane. So a quick walk decides: the fast path when neither occurs, the
reference ``rfc8785`` encoder otherwise. Both paths give identical bytes where both
apply (tested).
"""

from __future__ import annotations

from typing import Any

import orjson
import rfc8785

_SORT = orjson.OPT_SORT_KEYS


def _needs_reference(obj: Any) -> bool:
    stack = [obj]
    while stack:
        o = stack.pop()
        t = type(o)
        if t is dict:
            for k, v in o.items():
                if not k.isascii():
                    return True
                if type(v) in (dict, list, float):
                    stack.append(v)
        elif t is list:
            for v in o:
                if type(v) in (dict, list, float):
                    stack.append(v)
        elif t is float:
            return True
    return False


def canonical_json(obj: Any) -> bytes:
    """Serialise ``obj`` (dicts, lists, str, int, float, bool, None) as RFC 8785 JSON."""
    if _needs_reference(obj):
        return rfc8785.dumps(obj)
    return orjson.dumps(obj, option=_SORT)
