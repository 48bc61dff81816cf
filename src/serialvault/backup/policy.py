"""The backup policy: copies, keys, schedule, retention — one TOML file.

Where it is read from: ``--policy PATH``, else ``SERIALVAULT_POLICY``, else
``serialvault.toml`` in the working folder if there is one; without any, a one-off
``--to URL`` still works with the keys found in ``serialvault-keys/`` (or named by
``--key`` / ``--signing-key`` / ``SERIALVAULT_BACKUP_KEY`` / ``SERIALVAULT_SIGNING_KEY``).
Relative paths in the file are relative to the file. Example::

    format = "serialvault.policy/1"

    [keys]
    encryption_key = "serialvault-keys/backup.key"   # AES-256; omit for no encryption
    signing_key = "serialvault-keys/signing.key"     # Ed25519; manifests are signed
    require_encryption = true

    [copies.onsite]
    url = "file:///srv/backup/serialvault"

    [copies.cloud]
    url = "s3://pharma-backups/site-a"
    endpoint_url = "https://s3.eu-central-1.amazonaws.com"   # optional
    region = "eu-central-1"                                  # optional
    path_style = false                                       # true for MinIO-like servers

    [schedule]
    incremental_interval = "15m"
    full_every = "7d"

    [retention]
    keep_fulls = 4        # newest full chains kept whatever their age
    keep_days = 35        # and every chain with a backup younger than this

    [compression]
    level = 3

    [follow]                  # continuous mode (`serialvault backup follow`)
    interval = "1s"           # the most a record waits before it is on every copy
    status_file = "serialvault-follow.json"       # read by `backup list`
    metrics_file = "/var/lib/node_exporter/textfile/serialvault.prom"   # optional

    [witness]                 # signed checkpoints of the chain head, one line per backup
    path = "/var/lib/serialvault/site-a.witness"  # default: beside a SQLite file, or
                                                  # $XDG_STATE_HOME/serialvault/<id>.witness

No secret is ever in this file: it names key files, which must be mode 0600.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serialvault.backup.crypto import (
    EncryptionKey,
    SigningKey,
    VerifyKey,
    load_encryption_key,
    load_signing_key,
    load_verify_key,
)
from serialvault.errors import BackupError, KeyProblem
from serialvault.settings import Settings

FORMAT = "serialvault.policy/1"
DEFAULT_POLICY = "serialvault.toml"
DEFAULT_KEY_DIR = "serialvault-keys"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_duration(text: str | int | float, what: str = "duration") -> float:
    """Seconds in ``text`` (``"1s"``, ``"15m"``, ``"4h"``, ``"7d"``, ``"500ms"``)."""
    if isinstance(text, int | float):
        return float(text)
    m = _DURATION.match(text)
    if not m:
        raise BackupError(f"{what} {text!r} is not a duration: use e.g. 30s, 15m, 4h, 7d")
    return float(m.group(1)) * _UNITS[m.group(2)]


def format_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


@dataclass(frozen=True, slots=True)
class CopySpec:
    name: str
    url: str
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Policy:
    path: Path | None = None
    copies: dict[str, CopySpec] = field(default_factory=dict)
    encryption_key: Path | None = None
    signing_key: Path | None = None
    public_key: Path | None = None
    require_encryption: bool = False
    incremental_interval: float = 900.0
    full_every: float = 7 * 86400.0
    keep_fulls: int = 4
    keep_days: float = 35.0
    compression_level: int = 3
    follow_interval: float = 1.0
    status_file: Path = Path("serialvault-follow.json")
    metrics_file: Path | None = None
    witness: Path | None = None
    #: Folder of PostgreSQL repositories' witness files (from the settings).
    state_dir: Path | None = None

    # ------------------------------------------------------------------ keys
    def load_encryption_key(self) -> EncryptionKey | None:
        if self.encryption_key is None:
            if self.require_encryption:
                raise KeyProblem("the policy requires encryption but names no encryption_key")
            return None
        return load_encryption_key(self.encryption_key)

    def load_signing_key(self) -> SigningKey:
        if self.signing_key is None:
            raise KeyProblem(
                "no signing key: manifests must be signed. Run `serialvault keys generate`,"
                " or name one with --signing-key, SERIALVAULT_SIGNING_KEY or the policy's"
                " [keys] signing_key"
            )
        return load_signing_key(self.signing_key)

    def load_verify_key(self) -> VerifyKey:
        if self.public_key is not None:
            return load_verify_key(self.public_key)
        if self.signing_key is not None:
            return load_verify_key(self.signing_key)
        raise KeyProblem(
            "no key to check signatures with: name the public key with --public-key or the"
            " policy's [keys] public_key (or a signing_key)"
        )

    def to_dict(self) -> dict[str, Any]:
        """What the policy says, with key *paths* (never key material)."""
        return {
            "path": str(self.path) if self.path else None,
            "copies": {n: c.url for n, c in self.copies.items()},
            "encryption_key": str(self.encryption_key) if self.encryption_key else None,
            "signing_key": str(self.signing_key) if self.signing_key else None,
            "require_encryption": self.require_encryption,
            "incremental_interval": format_duration(self.incremental_interval),
            "full_every": format_duration(self.full_every),
            "keep_fulls": self.keep_fulls,
            "keep_days": self.keep_days,
            "compression_level": self.compression_level,
            "follow": {
                "interval": format_duration(self.follow_interval),
                "status_file": str(self.status_file),
                "metrics_file": str(self.metrics_file) if self.metrics_file else None,
            },
            "witness": str(self.witness) if self.witness else None,
        }


def _path(base: Path, value: Any, what: str) -> Path:
    if not isinstance(value, str) or not value:
        raise BackupError(f"policy {what} must be a file path")
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p)


def parse_policy(text: str, path: Path | None = None) -> Policy:
    where = str(path) if path else "policy"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BackupError(f"{where}: not valid TOML: {exc}") from None
    fmt = data.get("format", FORMAT)
    if fmt != FORMAT:
        raise BackupError(f"{where}: format {fmt!r} is not {FORMAT!r}")
    known = {
        "format",
        "keys",
        "copies",
        "schedule",
        "retention",
        "compression",
        "follow",
        "witness",
    }
    unknown = sorted(set(data) - known)
    if unknown:
        raise BackupError(f"{where}: unknown section(s) {', '.join(unknown)}")
    base = path.parent if path else Path.cwd()
    keys = data.get("keys", {})
    copies: dict[str, CopySpec] = {}
    for name, spec in data.get("copies", {}).items():
        if not isinstance(spec, dict) or not isinstance(spec.get("url"), str):
            raise BackupError(f"{where}: copy {name!r} needs a url")
        url = spec["url"]
        settings = {k: v for k, v in spec.items() if k != "url"}
        copies[name] = CopySpec(name, url, settings)
    sched = data.get("schedule", {})
    ret = data.get("retention", {})
    fol = data.get("follow", {})
    wit = data.get("witness", {})
    if not isinstance(wit, dict) or set(wit) - {"path"}:
        raise BackupError(f"{where}: [witness] takes only path")
    try:
        return Policy(
            path=path,
            copies=copies,
            encryption_key=_path(base, keys["encryption_key"], "encryption_key")
            if "encryption_key" in keys
            else None,
            signing_key=_path(base, keys["signing_key"], "signing_key")
            if "signing_key" in keys
            else None,
            public_key=_path(base, keys["public_key"], "public_key")
            if "public_key" in keys
            else None,
            require_encryption=bool(keys.get("require_encryption", False)),
            incremental_interval=parse_duration(
                sched.get("incremental_interval", "15m"), "schedule.incremental_interval"
            ),
            full_every=parse_duration(sched.get("full_every", "7d"), "schedule.full_every"),
            keep_fulls=int(ret.get("keep_fulls", 4)),
            keep_days=float(ret.get("keep_days", 35)),
            compression_level=int(data.get("compression", {}).get("level", 3)),
            follow_interval=parse_duration(fol.get("interval", "1s"), "follow.interval"),
            status_file=_path(
                base, fol.get("status_file", "serialvault-follow.json"), "status_file"
            ),
            metrics_file=_path(base, fol["metrics_file"], "metrics_file")
            if "metrics_file" in fol
            else None,
            witness=_path(base, wit["path"], "witness.path") if "path" in wit else None,
        )
    except (TypeError, ValueError) as exc:
        raise BackupError(f"{where}: {exc}") from None


def load_policy(
    path: str | None = None,
    *,
    key: str | None = None,
    signing_key: str | None = None,
    public_key: str | None = None,
    settings: Settings | None = None,
) -> Policy:
    """The policy in force, with command-line key overrides applied.

    ``settings`` (read at the edge) supply what the environment names: the policy file,
    the keys and the witness, each below an explicit argument.
    """
    env = settings or Settings()
    chosen = path or env.policy
    if chosen:
        p = Path(chosen).expanduser()
        try:
            policy = parse_policy(p.read_text(encoding="utf-8"), p.resolve())
        except OSError as exc:
            raise BackupError(f"cannot read policy {p}: {exc.strerror or exc}") from None
    elif Path(DEFAULT_POLICY).is_file():
        p = Path(DEFAULT_POLICY).resolve()
        policy = parse_policy(p.read_text(encoding="utf-8"), p)
    else:
        kdir = Path(DEFAULT_KEY_DIR)
        enc = kdir / "backup.key"
        sig = kdir / "signing.key"
        policy = Policy(
            encryption_key=enc.resolve() if enc.is_file() else None,
            signing_key=sig.resolve() if sig.is_file() else None,
        )
    over: dict[str, Any] = {}
    key = key or env.backup_key
    signing_key = signing_key or env.signing_key
    if key:
        over["encryption_key"] = Path(key).expanduser().resolve()
    if signing_key:
        over["signing_key"] = Path(signing_key).expanduser().resolve()
    if public_key:
        over["public_key"] = Path(public_key).expanduser().resolve()
    witness = env.witness
    if witness:
        over["witness"] = Path(witness).expanduser().resolve()
    over["state_dir"] = env.state_dir
    if over:
        fields = {f: getattr(policy, f) for f in Policy.__dataclass_fields__}
        fields.update(over)
        policy = Policy(**fields)
    return policy
