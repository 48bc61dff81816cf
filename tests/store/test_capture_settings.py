"""The capture pipeline applies the caller's settings in every process it uses.

A folder is prepared in a second process; that process must use the extra schemas and
size limits the caller gave the :class:`Capturer`, not re-read the environment (where
they may be absent), or a site's official schema would silently not apply to files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from serialvault.epcis.limits import Limits
from serialvault.epcis.schema import compile_schema
from serialvault.errors import SerialvaultError
from serialvault.store.capture import Capturer
from serialvault.store.repository import Repository
from tests import builders as b

#: An extra schema every document fails: it wants a top-level member no document has.
STRICT = compile_schema(
    {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "required": ["siteApprovalNumber"],
    },
    name="site schema",
)


def _files(tmp_path: Path, n: int) -> list[Path]:
    out = []
    for i in range(n):
        p = tmp_path / f"doc{i}.jsonld"
        p.write_bytes(b.document(b.commission([b.sgtin(f"SET{i}")]), header=b.products(b.GTIN)))
        out.append(p)
    return out


@pytest.mark.parametrize("parallel", [True, False])
def test_extra_schemas_apply_to_files_in_the_preparing_process(
    repo: Repository, tmp_path: Path, parallel: bool
) -> None:
    capturer = Capturer(repo, actor="tester@test", extra_schemas=[STRICT])
    outcomes = list(capturer.capture_files(_files(tmp_path, 3), parallel=parallel))
    assert len(outcomes) == 3
    for path, outcome in outcomes:
        assert isinstance(outcome, SerialvaultError), f"{path.name} was captured"
        assert "site schema" in outcome.message
        assert "siteApprovalNumber" in outcome.message
    assert repo.head().seq == 1 + 3  # genesis and one exception record per document


def test_the_callers_limits_apply_in_the_preparing_process(
    repo: Repository, tmp_path: Path
) -> None:
    tiny = Limits(document_bytes=200, field_bytes=64 * 1024)
    capturer = Capturer(repo, actor="tester@test", limits=tiny)
    outcomes = list(capturer.capture_files(_files(tmp_path, 3), parallel=True))
    assert all(isinstance(o, SerialvaultError) and "200 bytes" in o.message for _, o in outcomes)


def test_a_compiled_schema_survives_the_trip_to_another_process() -> None:
    import pickle

    again = pickle.loads(pickle.dumps(STRICT))
    assert again.name == "site schema"
    assert not again.is_valid({"type": "EPCISDocument"})
    assert again.is_valid({"siteApprovalNumber": "X"})
