"""The audit-trail review as a reviewer opens it: rendered by headless Chromium (Debian
``chromium``, installed by ``make test``); the flagged entries come first."""

from __future__ import annotations

import subprocess
from pathlib import Path

from serialvault.app.reviews import audit_review
from serialvault.settings import Settings
from serialvault.timefmt import now_utc
from tests.accounts import add_user, home, make_repo, sign_in
from tests.drill.test_report_browser import CHROMIUM_FLAGS, _chromium


def test_the_flagged_entries_come_first_in_chromium(tmp_path: Path) -> None:
    chromium = _chromium()
    url = str(tmp_path / "r.db")
    repo = make_repo(url, "tester", ["admin"])
    add_user(repo, "quinn", ["qa"])
    at = home().parent / f"quinn-browser-{repo.meta()['repository_id']}"
    sign_in(repo, "quinn", ["qa"], at=at)
    out = tmp_path / "review"
    audit_review(Settings(db=url, home=at), url, start="2020-01-01", end=now_utc(), out=out)
    dom = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, "--dump-dom", (out / "report.html").as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert 'id="flagged-entries"' in html
    assert html.index('id="flagged"') < html.index('id="counts"') < html.index('id="by-kind"')
    assert "privileged" in html.split('id="counts"')[0]  # tester created quinn's account
