"""Continuous mode: records reach every copy before they are ``interval`` old.

In-process tests drive :class:`Follower` one round at a time with a controlled clock;
process tests run ``serialvault backup follow`` for real (JSON lines, status file,
metrics file, SIGTERM drains, kill -9 leaves a clean copy the next follower continues).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from serialvault.backup import restore, verify
from serialvault.backup.copies import Copy, read_manifests
from serialvault.backup.crypto import load_encryption_key, load_verify_key
from serialvault.backup.follow import Follower, follower_summary, prometheus_text, read_status
from serialvault.store.repository import Repository
from tests.backup.conftest import cli_env, copy_of, grow, new_repo, policy_for

SV = [sys.executable, "-m", "serialvault.cli.main"]


class Clock:
    """Real time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def _events(into: list[dict]) -> object:
    return into.append


def _manifests(url: str, keys: dict[str, str]) -> list:
    ms, bad = read_manifests(copy_of(url).open(), load_verify_key(keys["signing_key"]))
    assert bad == []
    return ms


def test_first_round_takes_a_full_then_ships_incrementals_by_deadline(
    tmp_path: Path, keys: dict[str, str], db_url: str, target_url: str
) -> None:
    repo = new_repo(db_url)
    grow(repo, products=True)
    clock = Clock()
    events: list[dict] = []
    f = Follower(
        repo,
        policy_for(keys, main=target_url),
        [Copy("main", target_url)],
        actor="t",
        interval=5.0,
        clock=clock,
        on_event=events.append,
    )
    assert f.tick() is True  # an empty copy gets a full first
    assert [e["type"] for e in events] == ["full"]
    grow(repo)
    assert f.tick() is False, "nothing is due before the oldest record nears the interval"
    assert len(_manifests(target_url, keys)) == 1
    clock.offset = 6.0
    assert f.tick() is True
    incr = events[-1]
    assert incr["type"] == "incr"
    assert incr["errors"] == {}
    head = repo.head()
    assert incr["seq"] == {"first": events[0]["seq"]["last"] + 1, "last": head.seq}
    assert incr["max_lag_s"] >= 5.0  # measured on the follower's clock
    st = f.status()
    assert st["copies"][0]["lag_records"] == 0
    assert st["copies"][0]["lag_seconds"] == 0.0
    # the copy restores to exactly the live state
    res = restore.restore(
        [copy_of(target_url)],
        str(tmp_path / "back.db"),
        verify_key=load_verify_key(keys["signing_key"]),
        key=load_encryption_key(keys["encryption_key"]),
        actor="t",
    )
    assert res.head_seq == head.seq
    assert res.fingerprint == repo_fingerprint(repo)


def repo_fingerprint(repo: Repository) -> str:
    from serialvault.store.fingerprint import fingerprint

    with repo.read() as conn:
        return fingerprint(conn).value


def test_many_records_ship_at_once_without_waiting(
    tmp_path: Path, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from serialvault.backup import follow

    repo = new_repo(str(tmp_path / "r.db"))
    grow(repo, products=True)
    url = (tmp_path / "c").as_uri()
    f = Follower(repo, policy_for(keys, c=url), [Copy("c", url)], actor="t", interval=3600)
    f.tick()
    monkeypatch.setattr(follow, "MAX_BATCH_RECORDS", 2)
    grow(repo)
    grow(repo)
    assert f.tick() is True
    assert f.status()["copies"][0]["lag_records"] == 0


def test_an_unreachable_copy_is_retried_while_the_other_stays_current(
    tmp_path: Path, keys: dict[str, str]
) -> None:
    repo = new_repo(str(tmp_path / "r.db"))
    grow(repo, products=True)
    good = (tmp_path / "good").as_uri()
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the copy's folder should be")
    bad = (blocker / "copy").as_uri()
    clock = Clock()
    events: list[dict] = []
    metrics = tmp_path / "m.prom"
    f = Follower(
        repo,
        policy_for(keys, good=good, bad=bad),
        [Copy("good", good), Copy("bad", bad)],
        actor="t",
        interval=1.0,
        clock=clock,
        on_event=events.append,
        status_path=tmp_path / "status.json",
        metrics_path=metrics,
    )
    f.tick()
    errors = [e for e in events if e["event"] == "copy-error"]
    assert errors
    assert errors[0]["copy"] == "bad"
    assert "blocked" in errors[0]["error"]
    grow(repo)
    clock.offset = 2.0
    f.tick()
    st = f.write_reports()
    by = {c["name"]: c for c in st["copies"]}
    assert by["good"]["lag_records"] == 0
    assert by["good"]["error"] is None
    assert by["bad"]["error"]
    assert by["bad"]["shipped_seq"] == 0
    text = metrics.read_text()
    assert 'serialvault_backup_copy_up{copy="bad"} 0' in text
    assert 'serialvault_backup_copy_up{copy="good"} 1' in text
    assert read_status(tmp_path / "status.json")["copies"][1]["error"] == by["bad"]["error"]
    # the copy comes back: after its back-off it gets a full and is current again
    blocker.unlink()
    clock.offset = 2.0 + 120
    f.tick()
    st = f.status()
    assert all(c["error"] is None and c["lag_records"] == 0 for c in st["copies"])
    assert verify.verify_copy(copy_of(bad), load_verify_key(keys["signing_key"])).ok


def test_the_full_cadence_starts_a_new_chain(tmp_path: Path, keys: dict[str, str]) -> None:
    repo = new_repo(str(tmp_path / "r.db"))
    grow(repo, products=True)
    url = (tmp_path / "c").as_uri()
    pol = policy_for(keys, c=url)
    pol = type(pol)(**{**{k: getattr(pol, k) for k in pol.__dataclass_fields__}, "full_every": 60})
    clock = Clock()
    f = Follower(repo, pol, [Copy("c", url)], actor="t", interval=1.0, clock=clock)
    f.tick()
    grow(repo)
    clock.offset = 5
    f.tick()
    clock.offset = 100
    f.tick()
    ms = _manifests(url, keys)
    assert [m.type for m in ms] == ["full", "incr", "full"]
    assert ms[2].chain != ms[0].chain


def test_prometheus_text_escapes_labels_and_keeps_precision() -> None:
    st = {
        "copies": [
            {
                "name": 'a"b\\c',
                "lag_seconds": 0.25,
                "lag_records": 3,
                "error": None,
                "last_success_at": 1795570085.4621072,
                "records_shipped": 10,
                "failures": 0,
            }
        ],
        "head_seq": 42,
        "updated_epoch": 1795570085.5,
    }
    text = prometheus_text(st)
    assert 'serialvault_backup_lag_seconds{copy="a\\"b\\\\c"} 0.25' in text
    assert "1795570085.4621072" in text
    assert "serialvault_repository_head_seq 42" in text
    for line in text.splitlines():
        assert line.startswith("#") or len(line.rsplit(" ", 1)) == 2


# --------------------------------------------------------------------------- processes


def _wait_for(pred: object, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_follow_process_bounds_lag_reports_and_drains_on_sigterm(
    tmp_path: Path, keys: dict[str, str]
) -> None:
    db = tmp_path / "r.db"
    repo = new_repo(str(db), signed_in=True)
    grow(repo, products=True)
    url = (tmp_path / "c").as_uri()
    status = tmp_path / "st.json"
    metrics = tmp_path / "m.prom"
    args = [*SV, "backup", "follow", "--db", str(db), "--to", url, "--interval", "1s"]
    proc = subprocess.Popen(
        [*args, "--json", "--status", str(status), "--metrics", str(metrics)],
        env=cli_env(keys),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: status.exists())
        for _ in range(6):
            grow(repo)
            time.sleep(0.3)
        time.sleep(1.5)
        summary = follower_summary(status)
        assert summary is not None
        assert summary["running"]
        listed = subprocess.run(
            [
                *SV,
                "backup",
                "list",
                "--db",
                str(db),
                "--to",
                url,
                "--status",
                str(status),
                "--json",
            ],
            env=cli_env(keys),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        doc = orjson.loads(listed.stdout)
        assert doc["follower"]["running"] is True
        assert doc["copies"][0]["rpo_exposure"]["records"] == 0
        grow(repo)  # waiting when SIGTERM comes: shipped before the follower exits
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    lines = [orjson.loads(x) for x in stdout.splitlines()]
    ships = [x for x in lines if x["event"] == "shipment"]
    assert ships[0]["type"] == "full"
    incrs = [x for x in ships if x["type"] == "incr"]
    assert len(incrs) >= 2
    # every record but the last batch (shipped on SIGTERM) was on the copy within 1 s
    assert all(x["max_lag_s"] < 1.0 for x in incrs[:-1]), [x["max_lag_s"] for x in incrs]
    assert lines[-1]["event"] == "stopped"
    assert lines[-1]["copies"][0]["shipped_seq"] == repo.head().seq
    assert "serialvault_backup_lag_records" in metrics.read_text()
    assert follower_summary(status)["running"] is False  # type: ignore[index]


def test_kill_9_of_follow_leaves_a_clean_copy_the_next_follower_continues(
    tmp_path: Path, keys: dict[str, str]
) -> None:
    db = tmp_path / "r.db"
    repo = new_repo(str(db), signed_in=True)
    grow(repo, products=True)
    url = (tmp_path / "c").as_uri()
    args = [*SV, "backup", "follow", "--db", str(db), "--to", url, "--interval", "200ms"]
    args += ["--status", str(tmp_path / "st.json")]
    proc = subprocess.Popen(
        args, env=cli_env(keys), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _wait_for(lambda: (tmp_path / "st.json").exists())
        for _ in range(8):
            grow(repo, 400)
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    vk = load_verify_key(keys["signing_key"])
    enc = load_encryption_key(keys["encryption_key"])
    rep = verify.verify_copy(copy_of(url), vk, key=enc, full=True)
    assert rep.ok, rep.findings
    before = len(_manifests(url, keys))
    done = subprocess.run(
        [*args[:-2], "--for", "2s", "--json"],
        env=cli_env(keys),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    ms = _manifests(url, keys)
    assert ms[-1].last_seq == repo.head().seq
    assert len({m.chain for m in ms}) == 1, "the next follower continues the chain"
    assert len(ms) >= before
    assert verify.verify_copy(copy_of(url), vk, key=enc, full=True).ok


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--interval", "0s"], "more than 0"),
        (["--interval", "soon"], "not a duration"),
        (["--for", "-1"], "not a duration"),
    ],
)
def test_bad_follow_options_are_refused_by_name(
    tmp_path: Path, keys: dict[str, str], extra: list[str], needle: str
) -> None:
    db = tmp_path / "r.db"
    new_repo(str(db))
    url = (tmp_path / "c").as_uri()
    res = subprocess.run(
        [*SV, "backup", "follow", "--db", str(db), "--to", url, *extra],
        env=cli_env(keys),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2, "a bad option is a usage error"
    assert needle in (res.stdout + res.stderr)
    assert not (tmp_path / "c").exists(), "nothing was written"
