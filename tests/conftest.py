"""Shared fixtures.

External conformance data lives beside the project in ``../shared/data`` (CI always has
it). Tests that need it take the ``shared_data`` fixture, which skips with a message
saying so when the folder is absent (a user's fresh clone) — except under ``CI=true``,
where its absence is a failure, not a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(
    os.environ.get("SERIALVAULT_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data")
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
#: ``SERIALVAULT_SOAK=1`` runs the fault-injection tests with their long repetition
#: counts (kill -9 twenty times per engine); the default run kills fewer times, so that
#: ``make test`` stays within its time budget (``make soak`` runs the long form).
SOAK = os.environ.get("SERIALVAULT_SOAK", "") == "1"


def repetitions(default: int, soak: int) -> int:
    """How many times a fault-injection test repeats its fault in this run."""
    return soak if SOAK else default


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each engine (PostgreSQL: a schema of its own)."""
    if request.param == "sqlite":
        yield str(tmp_path / "repo.db")
        return
    from tests.pg import pg_schema_url

    with pg_schema_url() as url:
        yield url


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of the external reference data (GS1 EPCIS, OpenEPCIS, event-hash vectors)."""
    if not SHARED_DATA.is_dir():
        if IN_CI:
            pytest.fail(f"CI=true but the reference data folder {SHARED_DATA} is missing")
        pytest.skip("external reference data (../shared/data) is absent: conformance tests skipped")
    return SHARED_DATA


@pytest.fixture(autouse=True, scope="session")
def _state_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Witness files of PostgreSQL repositories go to the state folder: keep the tests'
    out of the user's own (``~/.local/state/serialvault``)."""
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state"))


@pytest.fixture(autouse=True, scope="session")
def _session_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Session files of the tests' users go to a folder of this run, never to the
    user's own ``~/.config/serialvault`` (``tests.accounts`` logs users in there)."""
    os.environ["SERIALVAULT_HOME"] = str(tmp_path_factory.mktemp("home"))
    for name in ("SERIALVAULT_TOKEN", "SERIALVAULT_PASSWORD"):
        os.environ.pop(name, None)
