"""The drill report as a reviewer sees it: rendered by headless Chromium (Debian
``chromium``, installed by ``make test``), DOM and pixels checked."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed: `make test` installs it (Debian chromium)")
        pytest.skip("chromium is not installed (make test installs it)")
    return found


def test_the_report_renders_in_headless_chromium(package, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder, res = package
    chromium = _chromium()
    url = (folder / "report.html").as_uri()
    dom = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert 'id="verdict">PASS<' in html
    assert res.drill_id in html
    assert html.count("<tr>") >= len(res.criteria) + 5
    assert 'id="trend"' in html
    shot = tmp_path / "report.png"
    run = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--screenshot={shot}", "--window-size=1000,1400", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    from PIL import Image

    with Image.open(shot) as img:
        assert img.size == (1000, 1400)
        colours = img.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None
    assert len(colours) > 50, "the page rendered as a blank image"
    green = sum(n for n, (r, g, b) in colours if g > 80 and r < 40 and b < 40)
    assert green > 100, "the PASS verdict (green) is not on the first screen"
