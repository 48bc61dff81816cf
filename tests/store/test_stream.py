"""Large documents are captured as a stream, with the same result and the same rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from serialvault.demo.generator import SiteConfig, SiteGenerator
from serialvault.errors import DocumentInvalid, DocumentRejected, InputError
from serialvault.store import capture as capture_mod
from serialvault.store import queries
from serialvault.store.capture import Capturer
from serialvault.store.fingerprint import fingerprint
from serialvault.store.integrity import verify_chain
from serialvault.store.repository import Repository
from tests import builders as b


def _one_document(tmp_path: Path, units: int = 2400) -> tuple[Path, dict[str, Any]]:
    (name, doc), *rest = SiteGenerator(SiteConfig(units=units, seed=3, max_epcs=10**9)).run()
    assert not rest
    path = tmp_path / name
    path.write_bytes(orjson.dumps(doc))
    return path, doc


def _repo(tmp_path: Path, name: str) -> Repository:
    repo = Repository.open(str(tmp_path / name), must_exist=False)
    repo.init("t")
    b.register_site(repo, SiteConfig(units=2400, seed=3))
    return repo


def _content(repo: Repository) -> dict[str, Any]:
    """Fingerprint tables whose rows do not carry capture times."""
    with repo.read() as conn:
        fp = fingerprint(conn)
        counts = queries.unit_summary(conn)
    return {"units": fp.tables["units"], "lots": fp.tables["lots"], "summary": counts}


def test_streamed_capture_equals_whole_document_capture(tmp_path: Path) -> None:
    path, _ = _one_document(tmp_path)
    whole = _repo(tmp_path, "whole.db")
    res_whole = Capturer(whole, actor="t").capture_bytes(path.read_bytes(), str(path))
    streamed = _repo(tmp_path, "stream.db")
    res_stream = Capturer(streamed, actor="t", batch_epcs=700).capture_large(path)
    assert res_stream.recorded == res_whole.recorded > 0
    assert res_stream.epcs == res_whole.epcs
    assert _content(streamed) == _content(whole)
    with streamed.read() as conn:
        assert verify_chain(conn).ok
    again = Capturer(streamed, actor="t", batch_epcs=700).capture_large(path)
    assert (again.recorded, again.duplicates) == (0, res_whole.recorded)


def test_large_files_take_the_streaming_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = _one_document(tmp_path)
    monkeypatch.setattr(capture_mod, "LARGE_DOCUMENT", 1000)
    called: list[Path] = []
    original = Capturer.capture_large

    def spy(self: Capturer, p: Path) -> Any:
        called.append(p)
        return original(self, p)

    monkeypatch.setattr(Capturer, "capture_large", spy)
    repo = _repo(tmp_path, "r.db")
    ((_path, outcome),) = list(Capturer(repo, actor="t").capture_files([path]))
    assert called == [path]
    assert not isinstance(outcome, Exception)


def test_a_violation_in_a_late_chunk_rejects_the_whole_document(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "r.db")
    units = [b.sgtin(f"Z{i}") for i in range(40)]
    events = [b.commission([u]) for u in units]
    events.append(b.observe([b.sgtin("NEVER")]))
    path = tmp_path / "big.jsonld"
    path.write_bytes(b.document(*events, header=b.products(b.GTIN)))
    with pytest.raises(DocumentRejected) as ei:
        Capturer(repo, actor="t", batch_epcs=5).capture_large(path)
    assert ei.value.issues[0].event_index == 40
    assert "event #41" in ei.value.message
    with repo.read() as conn:
        counts = queries.counts(conn)
    assert counts["units"] == 0
    assert counts["products"] == 4  # the site's, recorded before; none from the header
    assert counts["exceptions"] == 1


def test_an_invalid_event_in_a_late_chunk_is_reported_with_its_document_position(
    tmp_path: Path,
) -> None:
    repo = _repo(tmp_path, "r.db")
    events = [b.commission([b.sgtin(f"Y{i}")]) for i in range(30)]
    events[25]["bizStep"] = "transforming"
    path = tmp_path / "big.jsonld"
    path.write_bytes(b.document(*events, header=b.products(b.GTIN)))
    with pytest.raises(DocumentInvalid) as ei:
        Capturer(repo, actor="t", batch_epcs=4).capture_large(path)
    assert [i.event_index for i in ei.value.issues] == [25]
    with repo.read() as conn:
        assert queries.counts(conn)["units"] == 0


@pytest.mark.parametrize("where", ["header", "late event"])
def test_a_duplicate_name_is_refused_on_the_streaming_path(tmp_path: Path, where: str) -> None:
    """RFC 8259 §4: a name given twice makes the event's meaning depend on the parser."""
    repo = _repo(tmp_path, "r.db")
    events = [b.commission([b.sgtin(f"D{i}")]) for i in range(30)]
    raw = b.document(*events, header=b.products(b.GTIN)).decode()
    if where == "header":
        raw = raw.replace('"schemaVersion":', '"schemaVersion":"2.0","schemaVersion":', 1)
    else:
        last = raw.rindex('"eventTime":')
        raw = raw[:last] + '"eventTime":"2001-01-01T00:00:00Z",' + raw[last:]
    path = tmp_path / "big.jsonld"
    path.write_bytes(raw.encode())
    with pytest.raises(InputError, match=r"duplicate name '(schemaVersion|eventTime)'.*RFC 8259"):
        Capturer(repo, actor="t", batch_epcs=4).capture_large(path)
    with pytest.raises(InputError, match="duplicate name"):
        Capturer(repo, actor="t").capture_bytes(path.read_bytes(), str(path))
    with repo.read() as conn:
        assert queries.counts(conn)["units"] == 0
