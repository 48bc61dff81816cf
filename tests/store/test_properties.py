"""Property tests of the repository state (hypothesis).

* Random *valid* event sequences, captured in random document batches, leave the
  repository exactly where an independent model says (status and parent of every
  identifier), the chain verifies, and ``rebuild`` reproduces the fingerprint.
* A random *invalid* event, slipped into a document of valid ones, rejects the whole
  document and leaves the projections' fingerprint unchanged.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serialvault.errors import DocumentRejected
from serialvault.store import queries
from serialvault.store.capture import Capturer
from serialvault.store.fingerprint import fingerprint
from serialvault.store.integrity import rebuild, verify_chain
from serialvault.store.repository import Repository
from tests import builders as b

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class Model:
    """What the rules say the state must be, computed independently of serialvault."""

    status: dict[str, str] = field(default_factory=dict)
    parent: dict[str, str | None] = field(default_factory=dict)
    containers: set[str] = field(default_factory=set)
    n: int = 0

    def new_unit(self) -> str:
        self.n += 1
        return b.sgtin(f"P{self.n}")

    def new_container(self) -> str:
        self.n += 1
        c = b.sscc(self.n)
        self.containers.add(c)
        return c

    def children(self, p: str) -> list[str]:
        return sorted(c for c, pp in self.parent.items() if pp == p)

    def descendants(self, p: str) -> list[str]:
        out: list[str] = []
        todo = [p]
        while todo:
            for c in self.children(todo.pop()):
                out.append(c)
                todo.append(c)
        return out

    def ancestors(self, u: str) -> set[str]:
        seen: set[str] = set()
        p = self.parent.get(u)
        while p is not None:
            seen.add(p)
            p = self.parent.get(p)
        return seen

    def where(self, status: str) -> list[str]:
        return sorted(k for k, v in self.status.items() if v == status)


def _step(data: st.DataObject, m: Model) -> dict[str, Any] | None:
    """Draw one valid event and apply it to the model."""
    active = m.where("active")
    action = data.draw(
        st.sampled_from(
            [
                "commission",
                "container",
                "pack",
                "unpack",
                "ship",
                "receive",
                "decommission",
                "observe",
            ]
        )
    )
    if action == "commission" or not active:
        units = [m.new_unit() for _ in range(data.draw(st.integers(1, 4)))]
        for u in units:
            m.status[u], m.parent[u] = "active", None
        return b.commission(units)
    if action == "container":
        c = m.new_container()
        m.status[c], m.parent[c] = "active", None
        return b.commission_containers([c])
    if action == "pack":
        parents = [c for c in active if c in m.containers]
        if not parents:
            return None
        p = data.draw(st.sampled_from(parents))
        blocked = m.ancestors(p) | {p}
        free = [u for u in active if m.parent[u] is None and u not in blocked]
        if not free:
            return None
        kids = data.draw(st.lists(st.sampled_from(free), min_size=1, max_size=4, unique=True))
        for k in kids:
            m.parent[k] = p
        return b.pack(p, kids)
    if action == "unpack":
        full = [c for c in active if m.children(c)]
        if not full:
            return None
        p = data.draw(st.sampled_from(full))
        everything = data.draw(st.booleans())
        kids = (
            m.children(p)
            if everything
            else data.draw(st.lists(st.sampled_from(m.children(p)), min_size=1, unique=True))
        )
        for k in kids:
            m.parent[k] = None
        return b.unpack(p, [] if everything else kids)
    if action in ("ship", "receive"):
        want = "active" if action == "ship" else "shipped"
        tops = [u for u in m.where(want) if m.parent[u] is None]
        if not tops:
            return None
        u = data.draw(st.sampled_from(tops))
        new = "shipped" if action == "ship" else "active"
        for x in [u, *m.descendants(u)]:
            m.status[x] = new
        return b.ship([u]) if action == "ship" else b.receive([u])
    if action == "decommission":
        u = data.draw(st.sampled_from(active))
        destroy = data.draw(st.booleans())
        if destroy:
            for d in m.descendants(u):
                m.status[d] = "decommissioned"
        else:
            for c in m.children(u):
                m.parent[c] = None
        m.status[u], m.parent[u] = "decommissioned", None
        return b.decommission(
            [u],
            "destroyed" if destroy else "inactive",
            "destroying" if destroy else "decommissioning",
        )
    u = data.draw(st.sampled_from(sorted(k for k, v in m.status.items() if v != "decommissioned")))
    return b.observe([u])


def _new_repo(tmp: str) -> Repository:
    repo = Repository.open(str(Path(tmp) / "p.db"), must_exist=False)
    repo.init("prop@test")
    b.register(repo, b.GTIN)
    return repo


def _build(data: st.DataObject, repo: Repository, m: Model, docs: int) -> None:
    cap = Capturer(repo, actor="prop")
    for d in range(docs):
        events = [
            e for _ in range(data.draw(st.integers(1, 6))) if (e := _step(data, m)) is not None
        ]
        if events:
            cap.capture_bytes(b.document(*events), f"doc{d}.jsonld")


def _core_fingerprint(repo: Repository) -> dict[str, Any]:
    with repo.read() as conn:
        fp = fingerprint(conn)
    return {k: v for k, v in fp.tables.items() if k != "exceptions"}


@SETTINGS
@given(data=st.data())
def test_valid_sequences_match_the_model_and_rebuild_identically(data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = _new_repo(tmp)
        m = Model()
        _build(data, repo, m, docs=data.draw(st.integers(1, 6)))
        with repo.read() as conn:
            for key, status in m.status.items():
                s = queries.unit_state(conn, b.dl(key))
                assert s["status"] == status, key
                parent = m.parent[key]
                assert s["parent"] == (b.dl(parent) if parent else None), key
            assert verify_chain(conn).ok
        assert rebuild(repo, actor="prop").identical


def _invalid(data: st.DataObject, m: Model) -> tuple[dict[str, Any], str]:
    """An event that breaks one rule, and the issue code that must report it."""
    kinds = ["unknown", "recommission", "dup-lot"]
    live = [u for u, s in m.status.items() if s != "decommissioned"]
    gone = m.where("decommissioned")
    packed = [u for u in live if m.parent[u] is not None]
    containers = [c for c in m.containers if m.status.get(c) == "active"]
    if gone:
        kinds.append("use-decommissioned")
    if packed and len(containers) > 1:
        kinds.append("second-parent")
    if any(m.descendants(c) for c in containers):
        kinds.append("cycle")
    if m.status:
        kinds.append("unpack-stranger")
    kind = data.draw(st.sampled_from(sorted(kinds)))
    if kind == "unknown":
        return b.observe([b.sgtin("NEVER-SEEN")]), "not-commissioned"
    if kind == "recommission":
        return b.commission([data.draw(st.sampled_from(sorted(m.status)))]), "already-commissioned"
    if kind == "dup-lot":
        # LOT1 is always 2028-06-30 in the builders; another expiry for it conflicts
        return b.commission(
            [b.sgtin("LOTCLASH")], lot="LOT1", expiry="2030-01-31"
        ), "lot-expiry-conflict"
    if kind == "use-decommissioned":
        return b.observe([data.draw(st.sampled_from(gone))]), "decommissioned"
    if kind == "second-parent":
        u = data.draw(st.sampled_from(sorted(packed)))
        other = sorted(
            c for c in containers if c != m.parent[u] and c != u and c not in m.descendants(u)
        )
        if m.status[u] != "active" or not other:
            return b.observe([b.sgtin("NEVER-SEEN")]), "not-commissioned"
        return b.pack(data.draw(st.sampled_from(other)), [u]), "already-packed"
    if kind == "cycle":
        top = data.draw(st.sampled_from(sorted(c for c in containers if m.descendants(c))))
        inner = [d for d in m.descendants(top) if d in m.containers and m.status[d] == "active"]
        if m.status[top] != "active" or not inner or m.parent[top] is not None:
            return b.pack(top, [top]), "cycle"
        return b.pack(data.draw(st.sampled_from(sorted(inner))), [top]), "cycle"
    stranger = data.draw(st.sampled_from(sorted(m.status)))
    holder = b.sscc(999_999)
    return b.unpack(holder, [stranger]), "not-commissioned"


@SETTINGS
@given(data=st.data())
def test_an_invalid_event_rejects_its_document_and_changes_nothing(data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = _new_repo(tmp)
        m = Model()
        _build(data, repo, m, docs=data.draw(st.integers(1, 4)))
        if not m.status:
            m_event = b.commission([m.new_unit()])
            Capturer(repo, actor="prop").capture_bytes(b.document(m_event), "seed.jsonld")
            m.status[m_event["epcList"][0]] = "active"
            m.parent[m_event["epcList"][0]] = None
        before = _core_fingerprint(repo)
        # valid events first (on a copy of the model), then one that breaks a rule
        shadow = Model(dict(m.status), dict(m.parent), set(m.containers), m.n + 1000)
        good_before = [
            e for _ in range(data.draw(st.integers(0, 3))) if (e := _step(data, shadow)) is not None
        ]
        bad, code = _invalid(data, shadow)
        events = [*good_before, bad]
        with pytest.raises(DocumentRejected) as ei:
            Capturer(repo, actor="prop").capture_bytes(b.document(*events), "bad.jsonld")
        assert any(i.code == code for i in ei.value.issues), (code, ei.value.message)
        assert _core_fingerprint(repo) == before
        with repo.read() as conn:
            assert verify_chain(conn).ok
