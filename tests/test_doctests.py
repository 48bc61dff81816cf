"""The examples in the docstrings are true: every module of ``src/`` runs its doctests.

A docstring example that has gone stale misleads the next reader more than no example;
running them all keeps them honest (biip, STYLE.md: "doctests").
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import serialvault

#: Modules that cannot be imported outside their runner (Alembic's environment).
NOT_IMPORTABLE = {"serialvault.store.migrations.env"}


def _modules() -> list[str]:
    names = [
        m.name
        for m in pkgutil.walk_packages(serialvault.__path__, "serialvault.")
        if m.name not in NOT_IMPORTABLE and ".migrations.versions." not in m.name
    ]
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_module_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


#: Modules whose docstrings teach by example (the GS1 identifiers): they must keep some.
MUST_HAVE_EXAMPLES = [
    f"serialvault.gs1.{m}" for m in ("gtin", "ndc", "element_string", "sscc", "gln", "sgtin", "lot")
]


@pytest.mark.parametrize("name", MUST_HAVE_EXAMPLES)
def test_the_identifier_modules_keep_their_examples(name: str) -> None:
    assert doctest.testmod(importlib.import_module(name)).attempted > 0


def test_there_are_examples_to_run() -> None:
    finder = doctest.DocTestFinder()
    total = sum(
        len(t.examples) for name in _modules() for t in finder.find(importlib.import_module(name))
    )
    assert total >= 50, f"only {total} docstring examples in src/"
