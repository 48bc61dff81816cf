"""Writing sealed objects to one or more copies, in parallel with their production.

Compression (zstd), encryption (AES-GCM), hashing (SHA-256) and file or network writes
all release the GIL, so two worker threads keep both cores of a small server busy while
the caller reads the next piece from the database. A copy that fails is dropped from the
rest of the backup and reported; the others carry on (one unreachable bucket must not cost
the on-site copy its backup).
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from serialvault.backup.crypto import Sealer, object_name
from serialvault.backup.manifest import ObjectRef, object_path
from serialvault.backup.targets import Target
from serialvault.errors import SerialvaultError


@dataclass
class CopyState:
    name: str
    target: Target
    error: str | None = None
    bytes_written: int = 0
    objects_written: int = 0
    origin: str | None = None  # a sandbox clone: the URL of the copy it was cloned from


@dataclass
class ObjectWriter:
    sealer: Sealer
    copies: list[CopyState]
    workers: int = 2
    max_pending: int = 4
    refs: list[ObjectRef] = field(default_factory=list)
    plain_bytes: int = 0

    def __post_init__(self) -> None:
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="sv-seal")
        self._pending: deque[Future[ObjectRef]] = deque()

    def _store(self, plain: bytes, fields: dict[str, Any]) -> ObjectRef:
        stored = self.sealer.seal(plain)
        name = object_name(stored)
        for c in self.copies:
            if c.error is not None:
                continue
            try:
                c.target.put(object_path(name), stored)
                c.bytes_written += len(stored)
                c.objects_written += 1
            except SerialvaultError as exc:
                c.error = str(exc)
        return ObjectRef(name=name, size=len(stored), plain_size=len(plain), **fields)

    def add(self, plain: bytes, **fields: Any) -> None:
        self.plain_bytes += len(plain)
        self._pending.append(self._pool.submit(self._store, plain, fields))
        while len(self._pending) > self.max_pending:
            self.refs.append(self._pending.popleft().result())

    def finish(self) -> list[ObjectRef]:
        try:
            while self._pending:
                self.refs.append(self._pending.popleft().result())
        finally:
            self._pool.shutdown(wait=True)
        return self.refs

    def abort(self) -> None:
        for f in self._pending:
            f.cancel()
        self._pool.shutdown(wait=True)
