"""Backup targets: where the objects and manifests of a copy live.

A target is a flat key/value store of immutable blobs with five verbs (DESIGN.md "Backup":
put, get, list, delete, exists). The backend is chosen by the URL scheme through a small
registry, so another store (Azure, GCS) is one class and one ``register`` call.

Atomicity is the contract every backend must keep, because the crash-safety of a backup
rests on it (manifest written last, only after every object it names is complete):

* ``file://`` writes a temporary file in the destination folder, ``fsync``\\ s it, renames
  it over the final name and ``fsync``\\ s the folder — a reader never sees a partial
  object, and after a crash a stray ``.tmp-*`` file is all that can remain;
* ``s3://`` uses a single PUT per object (objects are at most a few tens of MiB): S3 makes
  an object visible only once the upload is complete.

Both are exercised by one contract test module (``tests/backup/test_targets.py``).
"""

from __future__ import annotations

import builtins
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from serialvault.errors import BackupError
from serialvault.redact import redact_text, redact_url


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    name: str
    size: int


class ObjectMissing(BackupError):
    """An object the caller expected is not on the target."""

    def __init__(self, target: str, name: str) -> None:
        super().__init__(f"{target}: object {name} is missing")
        self.target = target
        self.name = name


#: A temporary file untouched this long (seconds) belongs to no running writer: a put
#: writes its bytes in one go and renames at once, so even a slow NFS mount finishes
#: within minutes.
STALE_AFTER = 3600.0


class Target(Protocol):
    """The verbs a backup copy needs. Names are ``/``-separated relative keys."""

    url: str

    def put(self, name: str, data: bytes) -> None:
        """Store ``data`` under ``name`` atomically (all or nothing visible)."""

    def get(self, name: str) -> bytes:
        """The bytes under ``name``; :class:`ObjectMissing` when there are none."""
        ...

    def exists(self, name: str) -> bool: ...

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Every complete object whose name starts with ``prefix``, sorted by name."""
        ...

    def delete(self, name: str) -> None:
        """Remove ``name``; no error if it is already gone."""

    def clean_stale(self, older_than: float = STALE_AFTER) -> builtins.list[str]:
        """Remove what interrupted writes left (never a complete object); say what."""
        ...


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX: the directory entry is data too)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_name(name: str) -> str:
    parts = name.split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise BackupError(f"invalid object name {name[:120]!r}: not a plain relative path")
    return name


class FileTarget:
    """A folder on a local or mounted file system (the on-site copy)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = root.as_uri()

    def _path(self, name: str) -> Path:
        return self.root / _check_name(name)

    def _unreachable(self, exc: OSError) -> BackupError:
        return BackupError(f"cannot use backup target {self.url}: {exc.strerror or exc}")

    def put(self, name: str, data: bytes) -> None:
        path = self._path(name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.parent / f".tmp-{path.name}-{uuid.uuid4().hex}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            try:
                view = memoryview(data)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            fsync_dir(path.parent)
        except OSError as exc:
            raise self._unreachable(exc) from None

    def get(self, name: str) -> bytes:
        try:
            return self._path(name).read_bytes()
        except FileNotFoundError:
            raise ObjectMissing(self.url, name) from None
        except OSError as exc:
            raise self._unreachable(exc) from None

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        if not self.root.exists():
            return []
        if not self.root.is_dir():
            raise BackupError(f"cannot use backup target {self.url}: not a folder")
        out: list[ObjectInfo] = []
        try:
            for dirpath, _dirs, names in os.walk(self.root):
                base = Path(dirpath).relative_to(self.root)
                for n in names:
                    if n.startswith(".tmp-"):
                        continue
                    rel = n if base == Path(".") else f"{base.as_posix()}/{n}"
                    if rel.startswith(prefix):
                        out.append(ObjectInfo(rel, (Path(dirpath) / n).stat().st_size))
        except OSError as exc:
            raise self._unreachable(exc) from None
        out.sort(key=lambda o: o.name)
        return out

    def clean_stale(self, older_than: float = STALE_AFTER) -> builtins.list[str]:
        """Remove ``.tmp-*`` files a killed writer left (older than ``older_than`` s).

        A younger one may belong to a backup running now, so it is left alone.
        """
        if not self.root.is_dir():
            return []
        cutoff = time.time() - older_than
        out: list[str] = []
        for dirpath, _dirs, names in os.walk(self.root):
            for n in names:
                if not n.startswith(".tmp-"):
                    continue
                p = Path(dirpath) / n
                try:
                    st = p.stat()
                    if st.st_mtime > cutoff:
                        continue
                    p.unlink()
                except OSError:
                    continue
                rel = p.relative_to(self.root).as_posix()
                out.append(
                    f"removed {rel} ({st.st_size:,} bytes) from {self.url}, left by an"
                    " interrupted write"
                )
        return out

    def delete(self, name: str) -> None:
        try:
            self._path(name).unlink(missing_ok=True)
        except OSError as exc:
            raise self._unreachable(exc) from None


class S3Target:
    """A bucket and prefix on any S3-compatible service (AWS S3, MinIO, …).

    Credentials, region and endpoint come from the standard AWS environment and config
    files (``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``, ``AWS_REGION``, ``AWS_ENDPOINT_URL``…);
    the copy's settings or the URL's query (``?endpoint=…&region=…&path_style=true``)
    override them. Path-style addressing is what MinIO-like servers expect.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        path_style: bool = False,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = redact_url(f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}")
        self.endpoint_url = endpoint_url
        cfg = Config(
            connect_timeout=5,
            read_timeout=60,
            retries={"max_attempts": 3, "mode": "standard"},
            s3={"addressing_style": "path" if path_style else "auto"},
        )
        try:
            self._s3 = boto3.session.Session().client(
                "s3", endpoint_url=endpoint_url, region_name=region, config=cfg
            )
        except Exception as exc:
            detail = redact_text(str(exc), (endpoint_url or "",))
            raise BackupError(f"cannot use backup target {self.url}: {detail}") from None

    def _key(self, name: str) -> str:
        _check_name(name)
        return f"{self.prefix}/{name}" if self.prefix else name

    def _fail(self, exc: Exception, what: str) -> BackupError:
        from botocore.exceptions import ClientError

        where = self.url + (
            f" (endpoint {redact_url(self.endpoint_url)})" if self.endpoint_url else ""
        )
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            return BackupError(
                f"backup target {where}: {what} failed: {err.get('Code')} {err.get('Message')}"
            )
        detail = redact_text(str(exc), (self.endpoint_url or "",))
        return BackupError(f"cannot reach backup target {where}: {what} failed: {detail}")

    def _call(self, what: str, fn: Callable[..., Any], **kw: Any) -> Any:
        try:
            return fn(Bucket=self.bucket, **kw)
        except Exception as exc:
            raise self._fail(exc, what) from None

    def put(self, name: str, data: bytes) -> None:
        self._call(f"put {name}", self._s3.put_object, Key=self._key(name), Body=data)

    def get(self, name: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            resp = self._s3.get_object(Bucket=self.bucket, Key=self._key(name))
            return bytes(resp["Body"].read())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ObjectMissing(self.url, name) from None
            raise self._fail(exc, f"get {name}") from None
        except Exception as exc:
            raise self._fail(exc, f"get {name}") from None

    def exists(self, name: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._s3.head_object(Bucket=self.bucket, Key=self._key(name))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise self._fail(exc, f"head {name}") from None
        except Exception as exc:
            raise self._fail(exc, f"head {name}") from None

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        base = f"{self.prefix}/" if self.prefix else ""
        out: list[ObjectInfo] = []
        try:
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base + prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    out.append(ObjectInfo(item["Key"][len(base) :], int(item["Size"])))
        except Exception as exc:
            raise self._fail(exc, "list") from None
        out.sort(key=lambda o: o.name)
        return out

    def delete(self, name: str) -> None:
        self._call(f"delete {name}", self._s3.delete_object, Key=self._key(name))

    def clean_stale(self, older_than: float = STALE_AFTER) -> builtins.list[str]:
        """Nothing to clean: a single PUT is visible whole or not at all."""
        return []


# --------------------------------------------------------------------------- registry

Opener = Callable[[str, dict[str, Any]], Target]
_REGISTRY: dict[str, Opener] = {}


def register(scheme: str, opener: Opener) -> None:
    """Make ``scheme://`` URLs open with ``opener(url, settings)``."""
    _REGISTRY[scheme] = opener


def _open_file(url: str, _settings: dict[str, Any]) -> Target:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise BackupError(
            f"file URL {redact_url(url)!r} names host {parts.hostname!r}: use file:///path"
        )
    path = unquote(parts.path)
    if not path:
        raise BackupError(f"file URL {url!r} has no path: use file:///absolute/path")
    return FileTarget(Path(path))


def _truthy(value: Any) -> bool:
    return str(value).lower() in ("1", "true", "yes", "on")


def _open_s3(url: str, settings: dict[str, Any]) -> Target:
    parts = urlsplit(url)
    if not parts.netloc:
        raise BackupError(f"S3 URL {redact_url(url)!r} has no bucket: use s3://bucket/prefix")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    endpoint = query.get("endpoint") or settings.get("endpoint_url")
    region = query.get("region") or settings.get("region")
    path_style = _truthy(query.get("path_style", settings.get("path_style", False)))
    return S3Target(
        parts.netloc,
        unquote(parts.path),
        endpoint_url=endpoint or None,
        region=region or None,
        path_style=path_style,
    )


register("file", _open_file)
register("s3", _open_s3)


def open_target(url: str, settings: dict[str, Any] | None = None) -> Target:
    """The target for ``url``; a plain path is taken as a local folder."""
    if "://" not in url:
        return FileTarget(Path(url).expanduser().resolve())
    scheme = url.split("://", 1)[0].lower()
    opener = _REGISTRY.get(scheme)
    if opener is None:
        known = ", ".join(f"{s}://" for s in sorted(_REGISTRY))
        raise BackupError(f"unsupported backup target {redact_url(url)!r}: use one of {known}")
    return opener(url, settings or {})
