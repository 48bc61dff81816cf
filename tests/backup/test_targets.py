"""One contract for every backup target (STYLE.md: borgstore's single test module).

The same tests run against ``file://`` and against ``s3://`` on a real HTTP S3 endpoint.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from serialvault.backup.targets import FileTarget, ObjectMissing, open_target
from serialvault.errors import BackupError


def test_put_get_exists_list_delete(target_url: str) -> None:
    t = open_target(target_url)
    assert t.list() == []
    t.put("objects/ab/abc", b"hello")
    t.put("manifests/1.json", b"{}")
    assert t.get("objects/ab/abc") == b"hello"
    assert t.exists("objects/ab/abc")
    assert not t.exists("objects/ab/abd")
    assert [(o.name, o.size) for o in t.list()] == [
        ("manifests/1.json", 2),
        ("objects/ab/abc", 5),
    ]
    assert [o.name for o in t.list("objects/")] == ["objects/ab/abc"]
    t.delete("objects/ab/abc")
    t.delete("objects/ab/abc")  # deleting what is gone is not an error
    assert not t.exists("objects/ab/abc")
    assert [o.name for o in t.list()] == ["manifests/1.json"]


def test_put_replaces_whole_content(target_url: str) -> None:
    t = open_target(target_url)
    t.put("x/y", b"a" * 1000)
    t.put("x/y", b"b")
    assert t.get("x/y") == b"b"


def test_missing_object_is_named(target_url: str) -> None:
    t = open_target(target_url)
    with pytest.raises(ObjectMissing, match="objects/zz/nothing"):
        t.get("objects/zz/nothing")


@pytest.mark.parametrize("bad", ["", "/abs", "a/../b", "a//b", "."])
def test_invalid_names_are_refused(target_url: str, bad: str) -> None:
    t = open_target(target_url)
    with pytest.raises(BackupError, match="invalid object name"):
        t.put(bad, b"x")
    with pytest.raises(BackupError, match="invalid object name"):
        t.get(bad)
    assert t.list() == []


def test_large_object_round_trips(target_url: str) -> None:
    t = open_target(target_url)
    data = os.urandom(9 << 20)
    t.put("big", data)
    assert t.get("big") == data
    assert t.list()[0].size == len(data)


def test_file_target_never_shows_a_partial_write(tmp_path: Path) -> None:
    """A crash mid-write leaves only a hidden temp file, which list() ignores."""
    t = FileTarget(tmp_path)
    (tmp_path / "objects").mkdir()
    (tmp_path / "objects" / ".tmp-abc-123").write_bytes(b"half")
    t.put("objects/def", b"whole")
    assert [o.name for o in t.list()] == ["objects/def"]


def test_unreachable_s3_endpoint_is_a_clear_error() -> None:
    t = open_target("s3://bucket/p?endpoint=http://127.0.0.1:9&path_style=true")
    with pytest.raises(
        BackupError, match=r"cannot reach backup target s3://bucket/p.*127\.0\.0\.1:9"
    ):
        t.list()


def test_missing_bucket_is_a_clear_error(s3_endpoint: str) -> None:
    t = open_target(f"s3://no-such-bucket/p?endpoint={s3_endpoint}&path_style=true")
    with pytest.raises(BackupError, match="NoSuchBucket"):
        t.put("x", b"1")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host/x", "unsupported backup target 'ftp://host/x'"),
        ("file://host/x", "names host 'host'"),
        ("s3:///prefix", "has no bucket"),
    ],
)
def test_bad_urls_are_named(url: str, message: str) -> None:
    with pytest.raises(BackupError, match=message):
        open_target(url)


def test_file_target_on_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(BackupError, match="not a folder"):
        FileTarget(tmp_path / "f").list()
