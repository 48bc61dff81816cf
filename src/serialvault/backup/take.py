"""Taking backups: full (snapshot + log) and incremental (log records since the parent).

DESIGN.md "Backup": restore speed (RTO) comes from the snapshot, point-in-time and
cross-engine restore and tamper evidence come from the log, so a full carries both:

* **SQLite**: the online backup API copies the database, page by page, in one read
  transaction — a consistent file at one ``seq`` while captures go on. Head, log segments
  and fingerprint are then read *from that copy*, so they describe exactly the snapshot.
* **PostgreSQL**: in one ``REPEATABLE READ`` transaction, ``COPY … TO STDOUT (FORMAT
  binary)`` of every table but the log (which travels once, as segments), the segments
  and the fingerprint — all of one snapshot.

An incremental is the records after its parent's ``last_seq``, checked to continue the
parent's chain hash (a repository restored from elsewhere, or replaced, must start a new
chain with a full). Objects are written first, to every copy, and the signed manifest
last (EU GMP Annex 11 §7.1: data secured by physical and electronic means; §7.2: integrity
of backup data checked).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from serialvault import __version__
from serialvault.backup.anchors import (
    Checkpoint,
    Witness,
    check_record_heads,
    checkpoint_of,
    checkpoint_path,
    newest_checkpoint,
    read_checkpoints,
    witness_path,
)
from serialvault.backup.copies import Copy, newest, read_manifests
from serialvault.backup.crypto import EncryptionKey, Sealer, SigningKey, VerifyKey
from serialvault.backup.guard import (
    Anchors,
    LogGuard,
    Refused,
    abandoned,
    collect,
    refuse,
    timeline_body,
)
from serialvault.backup.leftovers import clean_backup_snapshots
from serialvault.backup.manifest import (
    Manifest,
    ObjectRef,
    backup_id,
    manifest_path,
)
from serialvault.backup.objects import CopyState, ObjectWriter
from serialvault.backup.policy import Policy
from serialvault.backup.segments import encode
from serialvault.domain.chain import GENESIS, LogRecord
from serialvault.domain.records import TIMELINE
from serialvault.errors import BackupError, IntegrityFailure, SerialvaultError
from serialvault.store.engine import Connection, sqlite_path
from serialvault.store.exceptions import open_exception
from serialvault.store.export import (
    PG_SNAPSHOT_TABLES,
    SCHEMA_VERSION,
    SqliteSnapshot,
    copy_sqlite,
    pg_copy_out,
    pg_export_snapshot,
)
from serialvault.store.fingerprint import (
    Fingerprint,
    ReadSource,
    fingerprint,
    fingerprint_pool,
    start_fingerprint,
)
from serialvault.store.integrity import ProjectionCheck
from serialvault.store.integrity import check_projections as integrity_check_projections
from serialvault.store.repository import (
    Head,
    Repository,
    chain_hash_at,
    iter_log,
    read_head,
    time_at,
)
from serialvault.timefmt import now_utc

#: Plain bytes of log records per segment object.
SEGMENT_BYTES = 16 << 20
#: Plain bytes of snapshot per object.
SNAPSHOT_CHUNK = 32 << 20

Phase = Callable[[str, int, int | None], None]


def _no_phase(_name: str, _done: int, _total: int | None) -> None:
    return None


# --------------------------------------------------------------------------- results


@dataclass
class BackupResult:
    manifest: Manifest | None
    copies: list[CopyState]
    plain_bytes: int
    seconds: float
    note: str | None = None
    warnings: list[str] = field(default_factory=list)
    #: Which version of the backup policy the run used (change control, Annex 11 §10).
    policy_version: str | None = None

    @property
    def ok(self) -> bool:
        return all(c.error is None for c in self.copies)

    def to_dict(self) -> dict[str, Any]:
        m = self.manifest
        d: dict[str, Any] = {
            "ok": self.ok,
            "note": self.note,
            "warnings": self.warnings,
            "policy_version": self.policy_version,
            "duration_s": round(self.seconds, 3),
            "copies": [
                {
                    "name": c.name,
                    "url": c.target.url,
                    "ok": c.error is None,
                    "error": c.error,
                    "bytes_written": c.bytes_written,
                    "objects_written": c.objects_written,
                }
                for c in self.copies
            ],
        }
        if m is not None:
            d.update(
                {
                    "id": m.id,
                    "type": m.type,
                    "parent": m.parent,
                    "chain": m.chain,
                    "seq": {"first": m.first_seq, "last": m.last_seq},
                    "time": {"first": m.first_time, "last": m.last_time},
                    "records": m.records,
                    "chain_head": m.chain_head,
                    "fingerprint": m.fingerprint,
                    "objects": len(m.objects),
                    "bytes_plain": self.plain_bytes,
                    "bytes_stored": m.stored_bytes,
                    "encrypted": m.encryption is not None,
                    "checks": m.checks,
                }
            )
        return d


# --------------------------------------------------------------------------- helpers


def _segments(
    records: Iterator[LogRecord],
    writer: ObjectWriter,
    on_record: Phase,
    guard: LogGuard | None = None,
) -> int:
    """Encode records into segment objects; ``guard`` checks each one before it ships."""
    run: list[LogRecord] = []
    size = 0
    n = 0

    def flush() -> None:
        nonlocal run, size
        frame, first, last, count = encode(run)
        writer.add(frame, kind="segment", first_seq=first, last_seq=last, records=count)
        run, size = [], 0

    for rec in records:
        if guard is not None:
            guard.feed(rec)
        run.append(rec)
        size += len(rec.body) + 200
        n += 1
        if size >= SEGMENT_BYTES:
            flush()
            on_record("log", n, None)
    if run:
        flush()
        on_record("log", n, None)
    return n


def _finish(
    kind: str,
    *,
    repo: Repository,
    repo_id: str,
    policy: Policy,
    sealer: Sealer,
    copies: list[CopyState],
    writer: ObjectWriter,
    parent: Manifest | None,
    head: Head,
    first_seq: int,
    first_time: str | None,
    prev_chain: str,
    fp: Fingerprint | None,
    snapshot: dict[str, Any] | None,
    actor: str,
    created_at: str,
    t0: float,
    checks: dict[str, Any],
) -> BackupResult:
    """Write the signed manifest, then the signed checkpoint of its chain head to every
    copy that took the backup and to the witness file (anchors outside the database)."""
    refs: list[ObjectRef] = writer.finish()
    bid = backup_id(created_at, kind, head.seq)
    key = sealer.key
    manifest = Manifest(
        id=bid,
        type=kind,
        parent=parent.id if parent else None,
        chain=parent.chain if parent else bid,
        repository_id=repo_id,
        first_seq=first_seq,
        last_seq=head.seq,
        first_time=first_time,
        last_time=head.recorded_at,
        prev_chain=prev_chain,
        chain_head=head.chain_hash,
        fingerprint=fp.value if fp else None,
        fingerprint_tables=_table_sums(fp),
        snapshot=snapshot,
        objects=tuple(refs),
        encryption={"alg": "AES-256-GCM", "key_id": key.key_id} if key else None,
        compression=f"zstd-{sealer.level}",
        tool_version=__version__,
        actor=actor,
        created_at=created_at,
        duration_s=round(time.perf_counter() - t0, 3),
        source={"engine": repo.dialect, "database": repo.display_url},
        checks=checks,
    )
    signer = policy.load_signing_key()
    signed = signer.sign(manifest.to_dict())
    data = orjson.dumps(signed, option=orjson.OPT_INDENT_2)
    for c in copies:
        if c.error is None:
            try:
                c.target.put(manifest_path(bid), data)
            except SerialvaultError as exc:
                c.error = str(exc)
    final = Manifest.from_dict(signed)
    took = [c for c in copies if c.error is None]
    point = signer.sign(checkpoint_of(final, [c.target.url for c in took]).to_dict())
    point_data = orjson.dumps(point, option=orjson.OPT_INDENT_2)
    for c in took:
        try:
            c.target.put(checkpoint_path(bid), point_data)
        except SerialvaultError as exc:
            c.error = f"manifest written, checkpoint not: {exc}"
    result = BackupResult(final, copies, writer.plain_bytes, time.perf_counter() - t0)
    if took:
        try:
            _witness(repo, repo_id, policy).append(point)
        except SerialvaultError as exc:
            result.warnings.append(str(exc))
    if key is None:
        result.warnings.append(UNENCRYPTED)
    return result


#: The warning of a backup written without an encryption key.
UNENCRYPTED = (
    "this backup is not encrypted (no encryption key configured): anyone who can"
    " read the copy can read the data; set [keys] encryption_key, and"
    " require_encryption = true to refuse unencrypted backups"
)


def _table_sums(fp: Fingerprint | None) -> dict[str, dict[str, Any]] | None:
    return {str(k): {"rows": v.rows, "sum": v.sum} for k, v in fp.tables.items()} if fp else None


def _clean_leftovers(repo: Repository, states: list[CopyState]) -> list[str]:
    """Remove what killed backups left on the copies and beside the repository; say so."""
    out: list[str] = []
    db = sqlite_path(repo.url)
    if db is not None:
        out += clean_backup_snapshots(db)
    for st in states:
        if st.error is None:
            try:
                out += st.target.clean_stale()
            except OSError as exc:
                out.append(f"copy {st.name}: could not clean temporary files: {exc}")
    return out


def _witness(repo: Repository, repo_id: str, policy: Policy) -> Witness:
    return Witness(witness_path(sqlite_path(repo.url), repo_id, policy.witness, policy.state_dir))


def _repository_id(repo: Repository) -> str:
    rid = repo.meta().get("repository_id")
    if not rid:
        raise BackupError(f"{repo.display_url} has no repository id: run `serialvault init`")
    return rid


def _other_heads(
    policy: Policy, copies: list[Copy], verify: VerifyKey
) -> tuple[dict[str, list[Manifest]], list[CopyState], list[str]]:
    """The signed manifests of the policy's copies a backup was not asked to write to.
    Their heads are anchors all the same: a full to a new copy must not certify a log
    that forked from what the others hold. One that cannot be read is a warning."""
    chosen = {c.name for c in copies} | {c.url for c in copies}
    found: dict[str, list[Manifest]] = {}
    states: list[CopyState] = []
    problems: list[str] = []
    for spec in policy.copies.values():
        if spec.name in chosen or spec.url in chosen:
            continue
        try:
            st = Copy(spec.name, spec.url, spec.settings).open()
            found[spec.name], _ = read_manifests(st, verify)
            states.append(st)
        except SerialvaultError as exc:
            problems.append(f"copy {spec.name} could not be read for the heads it recorded: {exc}")
            continue
        if not found[spec.name]:
            problems.append(
                f"copy {spec.name} of the policy holds no backup: the heads it may have recorded"
                " could not be compared (a share not mounted?)"
            )
    return found, states, problems


def _checkpoints_of(
    states: list[CopyState], verify: VerifyKey, *, newest_only: bool
) -> dict[str, list[Checkpoint]]:
    """Each readable copy's signed checkpoints (an incremental: the newest only, fetched
    by name, so that its check costs what the shipment costs)."""
    out: dict[str, list[Checkpoint]] = {}
    for st in states:
        if st.error is not None:
            continue
        try:
            if newest_only:
                cp = newest_checkpoint(st, verify)
                out[st.name] = [cp] if cp is not None else []
            else:
                out[st.name] = read_checkpoints(st, verify)
        except SerialvaultError:
            continue
    return out


def _check_heads(
    states: list[CopyState], verify: VerifyKey, repo_id: str
) -> list[tuple[int, str, str, str]]:
    """The heads signed check records on the copies say they held (a full compares all)."""
    out: list[tuple[int, str, str, str]] = []
    for st in states:
        if st.error is None:
            try:
                out += check_record_heads(st, verify, repo_id)
            except SerialvaultError:
                continue
    return out


def _manifests_of(states: list[CopyState], verify: VerifyKey) -> dict[str, list[Manifest]]:
    """Each reachable copy's valid manifests; an unreachable copy is marked failed."""
    out: dict[str, list[Manifest]] = {}
    for st in states:
        try:
            out[st.name], _ = read_manifests(st, verify)
        except SerialvaultError as exc:
            st.error = str(exc)
    return out


# --------------------------------------------------------------------------- full


def full_backup(
    repo: Repository,
    policy: Policy,
    copies: list[Copy],
    *,
    actor: str,
    on_phase: Phase = _no_phase,
    check_projections: bool = False,
    new_timeline: str | None = None,
) -> BackupResult:
    """A consistent snapshot of the repository plus its whole log, to every copy.

    Refused — before any manifest is written — when the log's chain does not verify from
    genesis, when it disagrees with a chain head an earlier backup recorded (the copies'
    manifests, the witness), and, with ``check_projections``, when a projection differs
    from the log replayed (R9). ``new_timeline`` (a reason) first records which earlier
    heads the repository abandons on purpose (after a restore to an earlier point).
    """
    t0 = time.perf_counter()
    key = policy.load_encryption_key()
    sealer = Sealer(key, policy.compression_level)
    verify = policy.load_signing_key().public  # fail before any work if it is missing
    repo_id = _repository_id(repo)
    states = [c.open() for c in copies]
    anchors, problems, readers = _every_anchor(repo, repo_id, policy, copies, states, verify)
    notes: list[str] = []
    abandons: list[list[Any]] = []
    if new_timeline is not None:
        anchors, abandons, note = _new_timeline(
            repo, anchors, actor, new_timeline, policy.load_signing_key()
        )
        notes.append(note)
    guard = LogGuard(0, GENESIS, anchors)
    created_at = now_utc()
    writer = ObjectWriter(sealer, [s for s in states if s.error is None])
    take = _sqlite_full if repo.dialect == "sqlite" else _pg_full
    try:
        head, first_time, fp, snap, proj = take(repo, writer, on_phase, guard, check_projections)
    except Refused as exc:
        writer.abort()
        raise refuse(
            repo,
            exc,
            anchors,
            states=readers,
            key=key,
            verify=verify,
            actor=actor,
            what="full backup",
        ) from None
    except BaseException:
        writer.abort()
        raise
    if head.seq == 0:
        writer.abort()
        raise BackupError(f"{repo.display_url} is empty: run `serialvault init` first")
    if proj is not None and not proj.ok:
        writer.abort()
        raise _projections_refused(repo, proj, actor)
    result = _finish(
        "full",
        repo=repo,
        repo_id=repo_id,
        policy=policy,
        sealer=sealer,
        copies=states,
        writer=writer,
        parent=None,
        head=head,
        first_seq=1,
        first_time=first_time,
        prev_chain=GENESIS,
        fp=fp,
        snapshot=snap,
        actor=actor,
        created_at=created_at,
        t0=t0,
        checks={
            "chain": "verified from genesis",
            "anchors_compared": len(anchors.anchors),
            "projections": "replayed and compared" if proj is not None else "not checked",
            # a new timeline: the earlier heads it abandons, so that restore and verify
            # do not take (or miss) backups of the history given up on purpose
            **({"abandons": abandons} if abandons else {}),
        },
    )
    result.warnings = problems + notes + result.warnings
    return result


def _every_anchor(
    repo: Repository,
    repo_id: str,
    policy: Policy,
    copies: list[Copy],
    states: list[CopyState],
    verify: VerifyKey,
) -> tuple[Anchors, list[str], list[CopyState]]:
    """Every chain head recorded outside the database (the copies' manifests and
    checkpoints, the whole witness) that the log has not abandoned on purpose; and the
    problems met reading them or cleaning what killed backups left."""
    manifests = _manifests_of(states, verify)
    others, other_states, problems = _other_heads(policy, copies, verify)
    anchors, found = collect(
        {**others, **manifests},
        repo_id,
        _witness(repo, repo_id, policy),
        verify,
        whole_witness=True,
        checkpoints=_checkpoints_of(states + other_states, verify, newest_only=False),
        heads=_check_heads(states + other_states, verify, repo_id),
    )
    problems += found + _clean_leftovers(repo, states)
    with repo.read() as conn:
        gone, refused = abandoned(conn, verify)
    return anchors.without(gone), problems + refused, states + other_states


def _new_timeline(
    repo: Repository, anchors: Anchors, actor: str, reason: str, signer: SigningKey
) -> tuple[Anchors, list[list[Any]], str]:
    """Record (``backup.timeline``) the earlier backup heads the log no longer agrees
    with, abandoned on purpose after a restore to an earlier point; the anchors without
    them, the heads abandoned, and what to tell the operator."""
    body = timeline_body(repo, anchors)
    if body is None:
        return (
            anchors,
            [],
            "--new-timeline: the log agrees with every earlier backup; nothing abandoned",
        )
    repo.append(TIMELINE, signer.sign(body), actor, reason)  # signed: see guard.abandoned
    kept = anchors.without({(a["seq"], a["chain_hash"]) for a in body["abandoned"]})
    return (
        kept,
        [[a["seq"], a["chain_hash"]] for a in body["abandoned"]],
        f"new timeline: {len(body['abandoned'])} earlier backup head(s) after seq"
        f" {body['agrees_up_to_seq']} abandoned (recorded in the log)",
    )


def _projections_refused(repo: Repository, proj: ProjectionCheck, actor: str) -> IntegrityFailure:
    """A full backup never certifies projections that differ from their log (R9): the
    refusal opens a critical exception and names the rows."""
    seq, _ = open_exception(
        repo,
        source="backup",
        type="projection-mismatch",
        severity="critical",
        reason=proj.message,
        identifiers=proj.examples,
        actor=actor,
        why="full backup refused: projections differ from the log",
    )
    return IntegrityFailure(
        f"full backup refused: {proj.message} (exception seq {seq}); `serialvault"
        " rebuild` recreates the projections from the log"
    )


class _FileFeed(threading.Thread):
    """Feeds a snapshot file to the object writer in chunks, beside the fingerprint
    workers; a failure is kept and re-raised in the caller's thread."""

    def __init__(self, path: Path, size: int, writer: ObjectWriter, on_phase: Phase) -> None:
        super().__init__(name="sv-snapshot-feed")
        self.path, self.size, self.writer, self.on_phase = path, size, writer, on_phase
        self.failure: list[BaseException] = []

    def run(self) -> None:
        done = 0
        try:
            with self.path.open("rb") as fh:
                i = 0
                while piece := fh.read(SNAPSHOT_CHUNK):
                    self.writer.add(piece, kind="snapshot", part=f"file:{i}")
                    i += 1
                    done += len(piece)
                    self.on_phase("snapshot", done, self.size)
        except BaseException as exc:  # re-raised in the caller's thread
            self.failure.append(exc)


def _sqlite_full(
    repo: Repository,
    writer: ObjectWriter,
    on_phase: Phase,
    guard: LogGuard,
    with_projections: bool,
) -> tuple[Head, str | None, Fingerprint, dict[str, Any], ProjectionCheck | None]:
    """Online backup to a temporary file, then segments, file objects and fingerprint from it.

    The fingerprint is computed by two worker processes reading the copy while this
    process writes the segments and seals the file (zstd, AES-GCM, SHA-256: C code that
    releases the GIL, in the writer's threads), so a full costs about the longest of them
    rather than their sum.
    """
    src_path = sqlite_path(repo.url)
    if src_path is None:
        raise BackupError("an in-memory SQLite database cannot be backed up")
    tmp = src_path.with_name(f".{src_path.name}.backup-{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        on_phase("snapshot", 0, None)
        copy_sqlite(src_path, tmp)  # one read transaction: consistent
        snap = SqliteSnapshot(tmp)
        pool = fingerprint_pool()
        try:
            with snap.read() as conn:
                pending = (
                    start_fingerprint(conn, ReadSource(sqlite_file=str(tmp)), pool)
                    if pool is not None
                    else None
                )
                head = read_head(conn)
                first_time = time_at(conn, 1)
                _segments(iter_log(conn, 1, head.seq), writer, on_phase, guard)
                guard.finish(head.seq)
                proj = None
                if with_projections:
                    on_phase("projections", 0, None)
                    proj = integrity_check_projections(conn, src_path.parent)
            size = tmp.stat().st_size
            feeder = _FileFeed(tmp, size, writer, on_phase)
            feeder.start()
            try:
                on_phase("fingerprint", 0, None)
                if pending is not None:
                    fp = pending.result()
                else:
                    with snap.read() as conn:
                        fp = fingerprint(conn)
            finally:
                feeder.join()
            if feeder.failure:
                raise feeder.failure[0]
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            snap.close()
        return (
            head,
            first_time,
            fp,
            {
                "engine": "sqlite",
                "format": "sqlite-file",
                "seq": head.seq,
                "schema_version": SCHEMA_VERSION,
                "bytes": size,
            },
            proj,
        )
    finally:
        for p in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
            p.unlink(missing_ok=True)


def _pg_full(
    repo: Repository,
    writer: ObjectWriter,
    on_phase: Phase,
    guard: LogGuard,
    with_projections: bool,
) -> tuple[Head, str | None, Fingerprint, dict[str, Any], ProjectionCheck | None]:
    pool = fingerprint_pool()  # forked before any thread of ours starts
    try:
        return _pg_full_in(repo, writer, on_phase, pool, guard, with_projections)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _pg_full_in(
    repo: Repository,
    writer: ObjectWriter,
    on_phase: Phase,
    pool: Any,
    guard: LogGuard,
    with_projections: bool,
) -> tuple[Head, str | None, Fingerprint, dict[str, Any], ProjectionCheck | None]:
    with repo.read() as conn:  # REPEATABLE READ: one snapshot for all of it
        pending = None
        if pool is not None:  # workers import this snapshot: the same state, in parallel
            snap_id = pg_export_snapshot(conn)
            pending = start_fingerprint(conn, ReadSource(url=repo.url, snapshot=snap_id), pool)
        head = read_head(conn)
        first_time = time_at(conn, 1)
        rows: dict[str, int] = {}
        done = 0
        for table in PG_SNAPSHOT_TABLES:
            on_phase("snapshot", done, None)
            buf = bytearray()
            i = 0
            for data in pg_copy_out(conn, table):
                buf += data
                if len(buf) >= SNAPSHOT_CHUNK:
                    writer.add(bytes(buf), kind="snapshot", part=f"{table}:{i}")
                    done += len(buf)
                    buf.clear()
                    i += 1
                    on_phase("snapshot", done, None)
            writer.add(bytes(buf), kind="snapshot", part=f"{table}:{i}")
            done += len(buf)
            rows[table] = i + 1
        _segments(iter_log(conn, 1, head.seq), writer, on_phase, guard)
        guard.finish(head.seq)
        on_phase("fingerprint", 0, None)
        fp = pending.result() if pending is not None else fingerprint(conn)
        proj = None
        if with_projections:
            on_phase("projections", 0, None)
            proj = integrity_check_projections(conn, None)
    return (
        head,
        first_time,
        fp,
        {
            "engine": "postgresql",
            "format": "pg-copy-binary",
            "seq": head.seq,
            "schema_version": SCHEMA_VERSION,
            "tables": list(PG_SNAPSHOT_TABLES),
            "bytes": done,
        },
        proj,
    )


# --------------------------------------------------------------------------- incremental


def incremental_backup(
    repo: Repository,
    policy: Policy,
    copies: list[Copy],
    *,
    actor: str,
    with_fingerprint: bool = False,
    on_phase: Phase = _no_phase,
    parents: dict[str, Manifest] | None = None,
) -> list[BackupResult]:
    """The log records after each copy's newest backup; one result per parent.

    The records shipped are chain-checked from the parent's chain head (the last point a
    backup proved), so the check costs what the shipment costs; the newest chain heads
    the other copies and the witness recorded are compared too. A log that does not
    continue them is refused (:mod:`serialvault.backup.guard`).

    The state fingerprint is a scan of every projection — its cost grows with the
    repository, not with the change — so an incremental records it only when asked
    (``with_fingerprint``). Without it the chain head still pins the state: projections
    are a deterministic function of the log (DESIGN.md principle 1), and a restore to the
    incremental's point recomputes and reports the fingerprint; a full always records it.

    ``parents`` (copy name → manifest) lets continuous mode skip re-reading manifests.
    Copies whose newest backup is the same are written together (one sealing).
    """
    t0 = time.perf_counter()
    key = policy.load_encryption_key()
    verify = policy.load_signing_key().public
    repo_id = _repository_id(repo)
    states = [c.open() for c in copies]
    with repo.read() as conn:
        gone, refused = abandoned(conn, verify)
    groups, failed = _group_by_parent(states, parents, verify, repo_id, gone)
    seen = {st.name: [parent] for parent, members in groups.values() for st in members}
    others, other_states, problems = (
        _other_heads(policy, copies, verify) if parents is None else ({}, [], [])
    )
    # of the other copies, like of its own, an incremental compares the newest head only:
    # its cost stays that of the shipment, whatever the number of backups
    others = {n: [m] for n, ms in others.items() if (m := newest(ms, repo_id, gone))}
    readers = [st for _p, ms in groups.values() for st in ms] + other_states
    anchors, found = collect(
        {**others, **seen},
        repo_id,
        _witness(repo, repo_id, policy),
        verify,
        whole_witness=False,
        # continuous mode ships every second from heads it already holds: no listings
        checkpoints=_checkpoints_of(readers, verify, newest_only=True) if parents is None else {},
    )
    problems += found + refused
    if parents is None:  # continuous mode: its scheduled fulls clean
        problems += _clean_leftovers(repo, [m for _p, ms in groups.values() for m in ms])
    job = _Incremental(
        repo,
        repo_id,
        policy,
        Sealer(key, policy.compression_level),
        key,
        verify,
        anchors.without(gone),
        problems,
        actor,
        with_fingerprint,
        on_phase,
        other_states,
    )
    results: list[BackupResult] = []
    if failed:
        results.append(BackupResult(None, failed, 0, time.perf_counter() - t0))
    results += [job.ship(parent, members) for parent, members in groups.values()]
    return results


def _group_by_parent(
    states: list[CopyState],
    parents: dict[str, Manifest] | None,
    verify: VerifyKey,
    repo_id: str,
    gone: set[tuple[int, str]],
) -> tuple[dict[str, tuple[Manifest, list[CopyState]]], list[CopyState]]:
    """Copies grouped by their newest backup of this repository (one sealing per group),
    and the copies that cannot take an incremental (unreachable, or no full yet)."""
    groups: dict[str, tuple[Manifest, list[CopyState]]] = {}
    failed: list[CopyState] = []
    for st in states:
        parent = (parents or {}).get(st.name)
        if parent is None:
            try:
                manifests, _ = read_manifests(st, verify)
            except SerialvaultError as exc:
                st.error = str(exc)
                failed.append(st)
                continue
            parent = newest(manifests, repo_id, gone)
        if parent is None:
            st.error = (
                f"copy {st.name} ({st.target.url}) has no backup of this repository:"
                " take `serialvault backup full` first"
            )
            failed.append(st)
            continue
        groups.setdefault(parent.id, (parent, []))[1].append(st)
    return groups, failed


def _check_earlier(conn: Connection, anchors: Anchors, parent: Manifest, head_seq: int) -> None:
    """The heads recorded at or before the parent still hold in the log (one indexed
    lookup each); a different hash is a fork, a missing seq a truncation."""
    earlier = [a for a in anchors.anchors if a.seq <= parent.last_seq]
    for a in sorted(earlier, key=lambda a: a.seq):
        here = chain_hash_at(conn, a.seq)
        if here == a.chain_hash:
            continue
        since = max(
            (
                b.seq
                for b in earlier
                if b.seq < a.seq and chain_hash_at(conn, b.seq) == b.chain_hash
            ),
            default=0,
        )
        raise Refused(
            "fork" if here else "truncated",
            a.seq,
            f"seq {a.seq} has chain hash {here}, {a.source} recorded {a.chain_hash}"
            if here
            else f"the log ends at seq {head_seq}, {a.source} recorded seq {a.seq}",
            a,
            since,
        )


def _anchors_after(anchors: Anchors, seq: int) -> Anchors:
    later = Anchors()
    for a in anchors.anchors:
        if a.seq > seq:
            later.add(a.seq, a.chain_hash, a.source, anchors.backup_of.get((a.seq, a.chain_hash)))
    return later


@dataclass
class _Incremental:
    """What every group of an incremental backup shares."""

    repo: Repository
    repo_id: str
    policy: Policy
    sealer: Sealer
    key: EncryptionKey | None
    verify: VerifyKey
    anchors: Anchors
    problems: list[str]
    actor: str
    with_fingerprint: bool
    on_phase: Phase
    #: the policy's other copies: where a refusal looks for the first differing record
    others: list[CopyState] = field(default_factory=list)

    def ship(self, parent: Manifest, members: list[CopyState]) -> BackupResult:
        """The records after ``parent`` to the copies whose newest backup it is, their
        chain verified from the parent's head and against every later anchor."""
        t1 = time.perf_counter()
        writer = ObjectWriter(self.sealer, members)
        try:
            with self.repo.read() as conn:
                head = read_head(conn)
                _check_earlier(conn, self.anchors, parent, head.seq)
                if head.seq == parent.last_seq and head.chain_hash == parent.chain_head:
                    writer.finish()
                    return BackupResult(
                        None,
                        members,
                        0,
                        time.perf_counter() - t1,
                        note=f"up to date: newest backup {parent.id} ends at seq {head.seq}",
                        warnings=list(self.problems),
                    )
                guard = LogGuard(
                    parent.last_seq,
                    parent.chain_head,
                    _anchors_after(self.anchors, parent.last_seq),
                )
                first_time = time_at(conn, parent.last_seq + 1)
                log = iter_log(conn, parent.last_seq + 1, head.seq)
                _segments(log, writer, self.on_phase, guard)
                guard.finish(head.seq)
                fp = None
                if self.with_fingerprint:
                    self.on_phase("fingerprint", 0, None)
                    fp = fingerprint(conn)
        except Refused as exc:
            writer.abort()
            raise refuse(
                self.repo,
                exc,
                self.anchors,
                states=members + self.others,
                key=self.key,
                verify=self.verify,
                actor=self.actor,
                what=f"incremental backup after {parent.id}",
            ) from None
        except BaseException:
            writer.abort()
            raise
        result = _finish(
            "incr",
            repo=self.repo,
            repo_id=self.repo_id,
            policy=self.policy,
            sealer=self.sealer,
            copies=members,
            writer=writer,
            parent=parent,
            head=head,
            first_seq=parent.last_seq + 1,
            first_time=first_time,
            prev_chain=parent.chain_head,
            fp=fp,
            snapshot=None,
            actor=self.actor,
            created_at=now_utc(),
            t0=t1,
            checks={
                "chain": f"verified from seq {parent.last_seq} (backup {parent.id})",
                "anchors_compared": len(self.anchors.anchors),
                "projections": "not checked",
            },
        )
        result.warnings = self.problems + result.warnings
        return result
