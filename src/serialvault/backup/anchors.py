"""Anchors outside the database, and what every reachable source says was backed up.

The hash chain proves order and content *inside* the database, but not that nothing was
cut off its end or rewritten with fresh hashes by someone who can write the database.
Nor does one copy's listing prove that it still holds every backup it once held. So
every backup leaves signed evidence in several places (DESIGN.md "Security", trust
anchors; EU GMP Annex 11 §7.1, 21 CFR 11.10(c) and (e)):

* a **checkpoint** of the chain head — repository, seq, chain hash, the record's time,
  the backup and the copies it went to — signed with the manifest key and written to
  every copy the backup went to (``checkpoints/<backup id>.json``);
* the same checkpoint appended to a **witness** file beside the repository (SQLite:
  ``<database>.witness``; PostgreSQL: ``<state dir>/<repository id>.witness``), one JSON
  line per backup;
* each ``backup verify`` run leaves a signed **check record** naming the backups the
  copy held; each ``backup prune`` a signed **prune record** naming what it removed on
  purpose.

:class:`History` gathers all of it from the reachable copies and witness files. A
restore never takes a recovery point older than :meth:`History.newest_known` without
being told to; ``backup verify`` reports a copy that lacks a backup some source says it
held (and no prune record removed) as a rollback; ``audit verify`` and the backups
compare the live log with every checkpoint they can reach.

What this cannot stop, and what bounds it (ARCHITECTURE.md "Trust anchors"): someone who
can write the database *and* the witness *and* every copy can rewrite history
consistently; without the off-site copies (a different account, object lock), only
the records not yet shipped to them can be changed unnoticed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from serialvault.backup.crypto import SigningKey, VerifyKey
from serialvault.backup.manifest import Finding, Manifest, instant
from serialvault.backup.objects import CopyState
from serialvault.epcis.jsonparse import unique
from serialvault.errors import BackupError, SerialvaultError
from serialvault.redact import redact_url

CHECKPOINT_FORMAT = "serialvault.checkpoint/1"
CHECK_FORMAT = "serialvault.check/1"
PRUNE_FORMAT = "serialvault.prune/1"
CHECKPOINTS = "checkpoints/"
CHECKS = "checks/"
PRUNES = "prunes/"
WITNESS_SUFFIX = ".witness"
#: Where PostgreSQL repositories' witness files live when the edge names no state folder
#: (it passes ``$XDG_STATE_HOME/serialvault`` from the settings).
DEFAULT_STATE_DIR = Path("~/.local/state/serialvault")
#: A witness file is compacted (oldest lines thinned to one per day) beyond this size.
WITNESS_COMPACT_BYTES = 8 << 20
WITNESS_KEEP_LINES = 20_000

_BACKUP_ID = re.compile(r"^\d{8}T\d{6,}Z-(full|incr)-(\d{12})$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def parse_backup_id(bid: str) -> tuple[str, int] | None:
    """``(type, last seq)`` from a backup id (``…Z-incr-000000000675``), else ``None``."""
    m = _BACKUP_ID.match(bid)
    return (m.group(1), int(m.group(2))) if m else None


# --------------------------------------------------------------------------- checkpoints


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The chain head a backup proved: record ``seq`` has ``chain_hash``."""

    repository_id: str
    seq: int
    chain_hash: str
    recorded_at: str | None
    backup: str | None
    backup_type: str | None
    copies: tuple[str, ...]
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "repository_id": self.repository_id,
            "seq": self.seq,
            "chain_hash": self.chain_hash,
            "recorded_at": self.recorded_at,
            "backup": self.backup,
            "backup_type": self.backup_type,
            "copies": list(self.copies),
            "created_at": self.created_at,
        }

    @classmethod
    def from_dict(cls, d: Any, where: str) -> Checkpoint:
        if not isinstance(d, dict) or d.get("format") != CHECKPOINT_FORMAT:
            raise BackupError(f"{where}: not a {CHECKPOINT_FORMAT} document")
        try:
            seq = d["seq"]
            chain = d["chain_hash"]
            copies = d.get("copies") or []
            if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
                raise ValueError("seq is not a whole number")
            if not isinstance(chain, str) or not _HEX64.match(chain):
                raise ValueError("chain_hash is not a SHA-256")
            if not isinstance(copies, list) or not all(isinstance(c, str) for c in copies):
                raise ValueError("copies is not a list of URLs")
            backup = d.get("backup")
            return cls(
                repository_id=str(d["repository_id"]),
                seq=seq,
                chain_hash=chain,
                recorded_at=None
                if d.get("recorded_at") is None
                else instant(d["recorded_at"], "recorded_at"),
                backup=None if backup is None else str(backup),
                backup_type=None if d.get("backup_type") is None else str(d["backup_type"]),
                copies=tuple(copies),
                created_at=instant(d["created_at"], "created_at"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BackupError(f"{where}: malformed checkpoint ({exc})") from None


def checkpoint_of(m: Manifest, copy_urls: Iterable[str]) -> Checkpoint:
    return Checkpoint(
        repository_id=m.repository_id,
        seq=m.last_seq,
        chain_hash=m.chain_head,
        recorded_at=m.last_time,
        backup=m.id,
        backup_type=m.type,
        copies=tuple(sorted({redact_url(u) for u in copy_urls})),
        created_at=m.created_at,
    )


def checkpoint_path(backup_id: str) -> str:
    return f"{CHECKPOINTS}{backup_id}.json"


def _signed_docs(
    state: CopyState, prefix: str, verify: VerifyKey | None, what: str
) -> tuple[list[tuple[str, dict[str, Any]]], list[Finding]]:
    """Every document under ``prefix`` whose signature verifies; findings for the rest."""
    docs: list[tuple[str, dict[str, Any]]] = []
    findings: list[Finding] = []
    for info in state.target.list(prefix):
        if not info.name.endswith(".json"):
            continue
        try:
            doc = unique(state.target.get(info.name))
        except ValueError as exc:  # not JSON, or a name given twice
            findings.append(Finding(f"bad-{what}", f"{info.name}: {exc}", state.name))
            continue
        if not isinstance(doc, dict):
            findings.append(Finding(f"bad-{what}", f"{info.name} is not an object", state.name))
            continue
        if verify is not None:
            problem = verify.check(doc)
            if problem is not None:
                findings.append(Finding(f"bad-{what}", f"{info.name}: {problem}", state.name))
                continue
        docs.append((info.name, doc))
    return docs, findings


def read_checkpoints(state: CopyState, verify: VerifyKey | None) -> list[Checkpoint]:
    """The signed checkpoints on a copy (what it once held, even where a manifest is gone
    or damaged); those that do not verify are left out (``read_view`` reports them)."""
    docs, _problems = _signed_docs(state, CHECKPOINTS, verify, "checkpoint")
    out = []
    for name, doc in docs:
        try:
            out.append(Checkpoint.from_dict(doc, name))
        except BackupError:
            continue
    return out


def newest_checkpoint(state: CopyState, verify: VerifyKey | None) -> Checkpoint | None:
    """The copy's newest signed checkpoint, fetched by name, newest seq first (one GET in
    the usual case, whatever the number of backups: an incremental's check must cost what
    its shipment costs); a name that does not verify gives way to the next."""
    named = []
    for info in state.target.list(CHECKPOINTS):
        bid = info.name.rsplit("/", 1)[-1].removesuffix(".json")
        parsed = parse_backup_id(bid)
        if parsed is not None:
            named.append((parsed[1], info.name))
    for _seq, name in sorted(named, reverse=True):
        try:
            doc = unique(state.target.get(name))
        except (ValueError, SerialvaultError):
            continue
        if not isinstance(doc, dict) or (verify is not None and verify.check(doc) is not None):
            continue
        try:
            return Checkpoint.from_dict(doc, name)
        except BackupError:
            continue
    return None


def check_record_heads(
    state: CopyState, verify: VerifyKey | None, repository_id: str
) -> list[tuple[int, str, str, str]]:
    """(seq, chain head, where, backup) of every backup of ``repository_id`` that a signed
    check record on the copy says the copy held — evidence that outlives the manifests."""
    docs, _problems = _signed_docs(state, CHECKS, verify, "check-record")
    return heads_of([d for _n, d in docs], f"check record of copy {state.name}", repository_id)


def heads_of(
    records: Iterable[dict[str, Any]], where: str, repository_id: str
) -> list[tuple[int, str, str, str]]:
    out = []
    for rec in records:
        if rec.get("format") != CHECK_FORMAT:
            continue
        for bid, info in (rec.get("backups") or {}).items():
            if not isinstance(info, dict) or info.get("repository_id") != repository_id:
                continue
            seq, head = info.get("seq"), info.get("chain_head")
            if isinstance(seq, int) and isinstance(head, str):
                out.append((seq, head, f"{where} ({rec.get('checked_at')})", str(bid)))
    return out


# --------------------------------------------------------------------------- witness


def witness_path(
    sqlite_file: Path | None,
    repository_id: str,
    explicit: Path | None = None,
    state_dir: Path | None = None,
) -> Path:
    """The witness of a repository: ``explicit`` (policy ``[witness] path`` or
    ``SERIALVAULT_WITNESS``), else beside a SQLite file, else in the state folder
    (``Policy.state_dir``: ``$XDG_STATE_HOME/serialvault``, read at the edge)."""
    if explicit is not None:
        return explicit
    if sqlite_file is not None:
        return sqlite_file.with_name(sqlite_file.name + WITNESS_SUFFIX)
    return (state_dir or DEFAULT_STATE_DIR).expanduser() / f"{repository_id}{WITNESS_SUFFIX}"


@dataclass
class Witness:
    """An append-only file of signed checkpoints, one JSON line each.

    Lines are appended with ``O_APPEND`` and ``fsync``; a reader skips a torn last line
    (a crash mid-write) and reports any other line that does not parse or verify.
    """

    path: Path

    def append(self, signed: dict[str, Any]) -> None:
        line = orjson.dumps(signed) + b"\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            if self.path.stat().st_size > WITNESS_COMPACT_BYTES:
                self._compact()
        except OSError as exc:
            raise BackupError(
                f"cannot write the witness file {self.path}: {exc.strerror or exc}"
            ) from None

    def _compact(self) -> None:
        """Keep the newest lines whole and one line per UTC day before them (the witness
        stays small under continuous mode: 86,400 backups a day at a 1 s interval)."""
        lines = self.path.read_bytes().splitlines()
        old, recent = lines[:-WITNESS_KEEP_LINES], lines[-WITNESS_KEEP_LINES:]
        days: dict[str, bytes] = {}
        for raw in old:
            try:
                day = str(orjson.loads(raw).get("created_at", ""))[:10]
            except (orjson.JSONDecodeError, AttributeError):
                continue
            days[day] = raw  # the day's newest
        tmp = self.path.with_name(f".{self.path.name}.compact-{os.getpid()}")
        tmp.write_bytes(b"".join(x + b"\n" for x in [*days.values(), *recent]))
        os.replace(tmp, self.path)

    def _lines(self) -> list[bytes]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise BackupError(
                f"cannot read the witness file {self.path}: {exc.strerror or exc}"
            ) from None
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        elif lines:
            lines.pop()  # torn by a crash in the middle of an append: not yet a line
        return lines

    def entries(
        self, verify: VerifyKey | None, repositories: set[str] | None = None
    ) -> tuple[list[Checkpoint], list[str]]:
        """Every checkpoint whose signature verifies, and what is wrong with the others
        (only lines of ``repositories``, when given: a shared witness may hold other
        repositories' lines, signed with their own keys)."""
        out: list[Checkpoint] = []
        problems: list[str] = []
        for n, raw in enumerate(self._lines(), 1):
            where = f"witness {self.path} line {n}"
            try:
                doc = unique(raw)
            except ValueError as exc:  # not JSON, or a name given twice
                problems.append(f"{where}: {exc}")
                continue
            rid = doc.get("repository_id") if isinstance(doc, dict) else None
            if repositories is not None and rid not in repositories:
                continue
            if verify is not None and isinstance(doc, dict):
                problem = verify.check(doc)
                if problem is not None:
                    problems.append(f"{where}: {problem}")
                    continue
            try:
                out.append(Checkpoint.from_dict(doc, where))
            except BackupError as exc:
                problems.append(str(exc))
        return out, problems

    def newest(self, verify: VerifyKey | None, repository_id: str) -> Checkpoint | None:
        """The newest checkpoint of ``repository_id`` (the file's last lines only)."""
        try:
            size = self.path.stat().st_size
            with self.path.open("rb") as fh:
                fh.seek(max(0, size - 65536))
                tail = fh.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BackupError(
                f"cannot read the witness file {self.path}: {exc.strerror or exc}"
            ) from None
        lines = tail.split(b"\n")[:-1]
        if size > 65536:
            lines = lines[1:]  # the first may be cut
        for raw in reversed(lines):
            try:
                doc = unique(raw)
            except ValueError:
                continue
            if not isinstance(doc, dict) or doc.get("repository_id") != repository_id:
                continue
            if verify is not None and verify.check(doc) is not None:
                continue
            try:
                return Checkpoint.from_dict(doc, str(self.path))
            except BackupError:
                continue
        return None


def witness_files(explicit: Path | None, sqlite_files: Iterable[Path | None]) -> list[Witness]:
    """The witness files a restore or verify can consult besides the state folder's: the
    configured one and those beside the SQLite files named."""
    found: list[Path] = []
    if explicit is not None:
        found.append(explicit)
    for f in sqlite_files:
        if f is not None:
            found.append(f.with_name(f.name + WITNESS_SUFFIX))
    return _existing(found)


def state_witnesses(repositories: Iterable[str], state_dir: Path | None) -> list[Witness]:
    """The state folder's witness files of these repositories (PostgreSQL ones)."""
    base = (state_dir or DEFAULT_STATE_DIR).expanduser()
    return _existing(base / f"{r}{WITNESS_SUFFIX}" for r in repositories)


def _existing(paths: Iterable[Path]) -> list[Witness]:
    seen: set[Path] = set()
    out: list[Witness] = []
    for p in paths:
        rp = p.expanduser().resolve()
        if rp not in seen and rp.is_file():
            seen.add(rp)
            out.append(Witness(rp))
    return out


# --------------------------------------------------------------------------- prune records


def prune_record(copy_url: str, removed: list[Manifest], at: str) -> dict[str, Any]:
    return {
        "format": PRUNE_FORMAT,
        "copy": redact_url(copy_url),
        "at": at,
        "removed": sorted(m.id for m in removed),
    }


def write_signed(state: CopyState, name: str, doc: dict[str, Any], signer: SigningKey) -> None:
    state.target.put(name, orjson.dumps(signer.sign(doc), option=orjson.OPT_INDENT_2))


def stamp(at: str) -> str:
    """A UTC time as a compact, sortable file-name part."""
    return at.replace(":", "").replace("-", "").replace(".", "")


# --------------------------------------------------------------------------- history


@dataclass(frozen=True, slots=True)
class Sighting:
    """Evidence that backup ``backup`` (ending at ``seq``) existed, and where it is seen."""

    backup: str
    repository_id: str | None
    seq: int
    chain_hash: str | None
    where: str
    copies: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "backup": self.backup,
            "repository_id": self.repository_id,
            "seq": self.seq,
            "chain_hash": self.chain_hash,
            "where": self.where,
        }


@dataclass
class CopyView:
    """What one copy holds: valid manifests, checkpoints, check and prune records."""

    state: CopyState
    manifests: list[Manifest] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    check_records: list[dict[str, Any]] = field(default_factory=list)
    pruned: set[str] = field(default_factory=set)
    unreadable: list[tuple[str, int]] = field(default_factory=list)  # (backup id, seq)

    @property
    def name(self) -> str:
        return self.state.name

    @property
    def url(self) -> str:
        return self.state.target.url

    @property
    def urls(self) -> set[str]:
        """Its URL, and for a drill's sandbox clone the URL of the copy it clones."""
        out = {self.url}
        if self.state.origin:
            out.add(redact_url(self.state.origin))
        return out

    @property
    def repositories(self) -> set[str]:
        return {m.repository_id for m in self.manifests}

    @property
    def empty(self) -> bool:
        """Holds nothing at all: no manifest, damaged or not, no checkpoint, no check
        record — a folder not mounted, a wrong prefix; never evidence that nothing newer
        exists."""
        return not (
            self.manifests
            or self.checkpoints
            or self.check_records
            or self.unreadable
            or self.findings
        )


def read_view(state: CopyState, verify: VerifyKey | None) -> CopyView:
    """Everything a copy says about its backups (raises when the copy is unreachable)."""
    from serialvault.backup.copies import read_manifests

    view = CopyView(state)
    view.manifests, bad = read_manifests(state, verify)
    view.findings += bad
    for f in bad:
        if f.code in ("foreign-manifest", "misnamed-manifest", "unreadable-manifest"):
            continue  # its name is a claim anyone could write, not evidence of a backup
        parsed = parse_backup_id(f.backup or "")
        if parsed is not None and f.backup:
            view.unreadable.append((f.backup, parsed[1]))
    docs, problems = _signed_docs(state, CHECKPOINTS, verify, "checkpoint")
    view.findings += problems
    for name, doc in docs:
        try:
            view.checkpoints.append(Checkpoint.from_dict(doc, name))
        except BackupError as exc:
            view.findings.append(Finding("bad-checkpoint", str(exc), state.name))
    docs, problems = _signed_docs(state, CHECKS, verify, "check-record")
    view.findings += problems
    view.check_records = [d for _n, d in docs if d.get("format") == CHECK_FORMAT]
    docs, problems = _signed_docs(state, PRUNES, verify, "prune-record")
    view.findings += problems
    for _n, doc in docs:
        if doc.get("format") == PRUNE_FORMAT and isinstance(doc.get("removed"), list):
            view.pruned.update(str(x) for x in doc["removed"])
    return view


@dataclass
class History:
    """Every copy's view and every witness checkpoint: what is known to have been backed up."""

    views: list[CopyView]
    witness: list[Checkpoint] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # unreachable copies, bad witness lines

    @property
    def pruned(self) -> set[str]:
        out: set[str] = set()
        for v in self.views:
            out |= v.pruned
        return out

    def repositories(self) -> dict[str, list[str]]:
        """Repository id → the copies whose manifests are of it."""
        out: dict[str, list[str]] = {}
        for v in self.views:
            for r in sorted(v.repositories):
                out.setdefault(r, []).append(v.name)
        return out

    def pooled(self) -> tuple[dict[str, Manifest], dict[str, list[str]], list[Finding]]:
        """Valid manifests of every copy by id, which copies hold each, and findings for an
        id whose two signed versions differ (then neither is used)."""
        pool: dict[str, Manifest] = {}
        holders: dict[str, list[str]] = {}
        conflicts: list[Finding] = []
        bad: set[str] = set()
        for v in self.views:
            for m in v.manifests:
                have = pool.get(m.id)
                if have is not None and have.to_dict() != m.to_dict():
                    bad.add(m.id)
                    conflicts.append(
                        Finding(
                            "conflicting-manifest",
                            f"backup {m.id}: copies {', '.join(holders[m.id])} and {v.name}"
                            " hold two different signed manifests under one id",
                            v.name,
                            m.id,
                        )
                    )
                pool.setdefault(m.id, m)
                holders.setdefault(m.id, []).append(v.name)
        for bid in bad:
            pool.pop(bid, None)
        return pool, holders, conflicts

    def abandoned(self, repository_id: str) -> set[tuple[int, str]]:
        """Chain heads a signed full of a new timeline declared abandoned."""
        out: set[tuple[int, str]] = set()
        for v in self.views:
            for m in v.manifests:
                if m.repository_id == repository_id:
                    for pair in (m.checks or {}).get("abandons", []):
                        out.add((int(pair[0]), str(pair[1])))
        return out

    def sightings(self, repository_id: str) -> list[Sighting]:
        gone = self.abandoned(repository_id)
        return [s for s in self._sightings(repository_id) if (s.seq, s.chain_hash) not in gone]

    def _sightings(self, repository_id: str) -> list[Sighting]:
        out: list[Sighting] = []
        for v in self.views:
            for m in v.manifests:
                if m.repository_id == repository_id:
                    out.append(
                        Sighting(
                            m.id,
                            m.repository_id,
                            m.last_seq,
                            m.chain_head,
                            f"manifest on copy {v.name}",
                            (v.url,),
                        )
                    )
            for c in v.checkpoints:
                if c.repository_id == repository_id and c.backup:
                    out.append(
                        Sighting(
                            c.backup,
                            c.repository_id,
                            c.seq,
                            c.chain_hash,
                            f"checkpoint on copy {v.name}",
                            c.copies or (v.url,),
                        )
                    )
            for seq, head, where, bid in heads_of(
                v.check_records, f"check record of copy {v.name}", repository_id
            ):
                out.append(Sighting(bid, repository_id, seq, head, where, (v.url,)))
            if v.repositories <= {repository_id}:
                for bid, seq in v.unreadable:
                    out.append(
                        Sighting(
                            bid,
                            None,
                            seq,
                            None,
                            f"unreadable manifest on copy {v.name} (seq from its name)",
                            (v.url,),
                        )
                    )
        for c in self.witness:
            if c.repository_id == repository_id and c.backup:
                out.append(
                    Sighting(
                        c.backup, c.repository_id, c.seq, c.chain_hash, "witness file", c.copies
                    )
                )
        return out

    def newest_known(self, repository_id: str) -> Sighting | None:
        """The newest backup any source proves, not removed by a prune record."""
        pruned = self.pruned
        live = [s for s in self.sightings(repository_id) if s.backup not in pruned]
        return max(live, key=lambda s: (s.seq, s.chain_hash is not None), default=None)

    def lost(self, view: CopyView) -> list[Sighting]:
        """Backups some source says were written to ``view``'s copy, which it no longer
        holds and did not prune: a rolled-back or damaged copy."""
        present = {m.id for m in view.manifests} | {b for b, _ in view.unreadable}
        out: dict[str, Sighting] = {}
        for repo in {*view.repositories, *self.repositories()} or {""}:
            for s in self.sightings(repo):
                if s.backup in present or s.backup in view.pruned or s.backup in out:
                    continue
                if view.urls & set(s.copies) or s.where.endswith(f"copy {view.name}"):
                    out[s.backup] = s
        return sorted(out.values(), key=lambda s: s.seq)

    def forks(self, repository_id: str) -> list[tuple[Sighting, Sighting]]:
        """Pairs of sightings of one repository that disagree on the chain hash of a seq."""
        by_seq: dict[int, Sighting] = {}
        out: list[tuple[Sighting, Sighting]] = []
        for s in self.sightings(repository_id):
            if s.chain_hash is None:
                continue
            seen = by_seq.setdefault(s.seq, s)
            if seen.chain_hash != s.chain_hash:
                out.append((seen, s))
        return out


def gather(
    states: list[CopyState],
    verify: VerifyKey | None,
    witnesses: Iterable[Witness] = (),
    state_dir: Path | None = None,
) -> History:
    """Read every reachable copy and witness; an unreachable one is a problem, not a stop.

    Witness lines are read for the repositories the copies hold (all, when they hold
    none), and the state folder's witness of each of them is added.
    """
    views: list[CopyView] = []
    problems: list[str] = []
    for st in states:
        if st.error is not None:
            problems.append(f"copy {st.name}: {st.error}")
            continue
        try:
            views.append(read_view(st, verify))
        except SerialvaultError as exc:
            st.error = str(exc)
            problems.append(f"copy {st.name}: {exc}")
    repos: set[str] = set()
    for v in views:
        repos |= v.repositories
    files = list(witnesses)
    if repos:
        files = _existing(
            [*(w.path for w in files), *(w.path for w in state_witnesses(repos, state_dir))]
        )
    checkpoints: list[Checkpoint] = []
    for w in files:
        try:
            found, bad = w.entries(verify, repos or None)
        except SerialvaultError as exc:
            problems.append(str(exc))
            continue
        checkpoints += found
        problems += bad
    return History(views, checkpoints, problems)
