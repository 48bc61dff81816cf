"""`make demo`, end to end, twice in a row: the main job on the embedded default must
work on a fresh machine and again on the same one (both commands are idempotent).

Runs `scripts/demo.sh` in a scratch folder (``DEMO_WORKDIR``) at the smallest site that
still ships pallets before the last two documents: capture, audit, rebuild, backups,
verify, restore with matching fingerprints, planning, and the four drills, each PASS.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    not (ROOT / ".venv" / "bin" / "serialvault").exists(),
    reason="the demo runs the project's own virtual environment (make setup)",
)
def test_the_demo_runs_and_runs_again(tmp_path: Path) -> None:
    env = {**os.environ, "DEMO_UNITS": "14400", "DEMO_WORKDIR": str(tmp_path / "demo")}
    env.pop("SERIALVAULT_DB", None)
    for run in (1, 2):
        done = subprocess.run(
            ["bash", str(ROOT / "scripts" / "demo.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        out = done.stdout + done.stderr
        assert done.returncode == 0, f"run {run}:\n{out[-3000:]}"
        assert "fingerprints match" in out
        for scenario in ("primary-loss", "corruption", "bad-change", "tampered-backup"):
            assert f"{scenario}: PASS" in out, f"run {run}: {scenario} did not pass"
        assert "Traceback" not in out
        # the quality loop: a short case flagged, reworked, closed with a signature
        assert "differ from their packaging configuration" in out
        assert "unpack: events recorded" in out
        assert "closed; signed by Quinn QA (quinn)" in out
        assert "signed by Quinn QA (quinn), reviewed" in out  # the audit-trail review
        assert "demo-inspection.zip: intact — inspection pack INSP-" in out
        assert "finding:" not in out
