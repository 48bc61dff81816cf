"""Keys, sealed objects and signatures.

**Sealed object** (what a target stores)::

    b"SVOB" ‖ version (1 byte, 1) ‖ mode (1 byte)
    mode 0: zstd frame                                   (no encryption key configured)
    mode 1: key id (8 bytes) ‖ nonce (12 bytes) ‖ AES-256-GCM(zstd frame) with tag,
            the 14-byte header (magic, version, mode, key id) as associated data

and its name is the SHA-256 of those stored bytes. The name therefore proves the bytes
without the key (``backup verify`` can check a copy it cannot read), and GCM's tag proves
them again under the key. The key id is a hash of the key, never the key (DESIGN.md
"Security": key id in each manifest).

**Signatures**: Ed25519 over the canonical JSON (RFC 8785) of a manifest or check record
without its ``signature`` member. 21 CFR 11.10(c) and EU GMP Annex 11 §7.1 ask that
records be protected; a signature binds every object name, size and hash to whoever
held the signing key.

Key files are written with mode 0600 and refused when group or others can read them.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from serialvault.canonical import canonical_json
from serialvault.errors import IntegrityFailure, KeyProblem

MAGIC = b"SVOB"
VERSION = 1
MODE_PLAIN = 0
MODE_AESGCM = 1
_KEY_FILE_TAG = "serialvault-backup-key-v1"


def object_name(stored: bytes) -> str:
    return hashlib.sha256(stored).hexdigest()


def _key_id(material: bytes, label: bytes) -> str:
    return hashlib.sha256(label + material).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class EncryptionKey:
    """A 256-bit AES key; ``key_id`` names it in manifests."""

    key: bytes
    path: str

    @property
    def key_id(self) -> str:
        return _key_id(self.key, b"serialvault.encryption-key\0")

    def __repr__(self) -> str:  # never print the key
        return f"EncryptionKey(id={self.key_id}, path={self.path!r})"


@dataclass(frozen=True, slots=True)
class SigningKey:
    private: Ed25519PrivateKey
    path: str

    @property
    def public(self) -> VerifyKey:
        return VerifyKey(self.private.public_key(), self.path)

    def sign(self, doc: dict[str, Any]) -> dict[str, Any]:
        """``doc`` with a ``signature`` member over everything else in it."""
        body = {k: v for k, v in doc.items() if k != "signature"}
        sig = self.private.sign(canonical_json(body))
        return {
            **body,
            "signature": {
                "alg": "Ed25519",
                "key_id": self.public.key_id,
                "value": base64.b64encode(sig).decode("ascii"),
            },
        }

    def __repr__(self) -> str:
        return f"SigningKey(id={self.public.key_id}, path={self.path!r})"


@dataclass(frozen=True, slots=True)
class VerifyKey:
    public: Ed25519PublicKey
    path: str

    @property
    def raw(self) -> bytes:
        return self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        return _key_id(self.raw, b"serialvault.signing-key\0")

    def check(self, doc: dict[str, Any]) -> str | None:
        """``None`` when ``doc``'s signature is good, else what is wrong with it."""
        sig = doc.get("signature")
        if not isinstance(sig, dict):
            return "not signed"
        if sig.get("alg") != "Ed25519":
            return f"unknown signature algorithm {sig.get('alg')!r}"
        if sig.get("key_id") != self.key_id:
            return f"signed with key {sig.get('key_id')}, not with the trusted key {self.key_id}"
        text = str(sig.get("value", ""))
        try:
            value = base64.b64decode(text, validate=True)
            body = {k: v for k, v in doc.items() if k != "signature"}
            self.public.verify(value, canonical_json(body))
        except (InvalidSignature, ValueError, TypeError):  # TypeError: no canonical form
            return "signature does not match the content"
        if base64.b64encode(value).decode("ascii") != text:
            # spare bits set in the last base64 character decode to the same signature:
            # one signature must have one spelling, or a copy passes for a second one
            return "signature value is not in canonical base64"
        return None


# --------------------------------------------------------------------------- key files


def _check_private_file(path: Path) -> bytes:
    try:
        st = path.stat()
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyProblem(f"key file {path} does not exist") from None
    except OSError as exc:
        raise KeyProblem(f"cannot read key file {path}: {exc.strerror or exc}") from None
    if os.name == "posix" and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyProblem(
            f"key file {path} can be read by others (mode {stat.S_IMODE(st.st_mode):o}):"
            f" run chmod 600 {path}"
        )
    return data


def load_encryption_key(path: str | Path) -> EncryptionKey:
    p = Path(path).expanduser()
    text = _check_private_file(p).decode("ascii", "replace").strip().splitlines()
    if len(text) != 2 or text[0] != _KEY_FILE_TAG:
        raise KeyProblem(f"{p} is not a serialvault encryption key (made by `keys generate`)")
    try:
        key = base64.b64decode(text[1], validate=True)
    except ValueError:
        raise KeyProblem(f"{p}: the key is not valid base64") from None
    if len(key) != 32:
        raise KeyProblem(f"{p}: the key has {len(key)} bytes, AES-256 needs 32")
    return EncryptionKey(key, str(p))


def load_signing_key(path: str | Path) -> SigningKey:
    p = Path(path).expanduser()
    data = _check_private_file(p)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyProblem(f"{p} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyProblem(f"{p} is not an Ed25519 key")
    return SigningKey(key, str(p))


def load_verify_key(path: str | Path) -> VerifyKey:
    """A public key file, or the public half of a private signing key file."""
    p = Path(path).expanduser()
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise KeyProblem(f"cannot read key file {p}: {exc.strerror or exc}") from None
    if b"PRIVATE KEY" in data:
        return load_signing_key(p).public
    return verify_key_from_pem(data, str(p))


def verify_key_from_pem(data: bytes, where: str) -> VerifyKey:
    """An Ed25519 public key from PEM bytes (``where`` names it in a refusal)."""
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise KeyProblem(f"{where} is not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyProblem(f"{where} is not an Ed25519 public key")
    return VerifyKey(key, where)


def _write_private(path: Path, data: bytes, force: bool) -> None:
    if path.exists() and not force:
        raise KeyProblem(f"{path} exists: refusing to overwrite a key (use --force)")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".tmp-{path.name}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def generate_keys(folder: Path, *, force: bool = False) -> dict[str, str]:
    """Create ``backup.key`` (AES-256), ``signing.key`` (Ed25519) and ``signing.pub``."""
    enc = folder / "backup.key"
    sig = folder / "signing.key"
    pub = folder / "signing.pub"
    aes = secrets.token_bytes(32)
    _write_private(enc, f"{_KEY_FILE_TAG}\n{base64.b64encode(aes).decode()}\n".encode(), force)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_private(sig, pem, force)
    pub.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    os.chmod(pub, 0o644)
    return {
        "encryption_key": str(enc),
        "encryption_key_id": EncryptionKey(aes, str(enc)).key_id,
        "signing_key": str(sig),
        "public_key": str(pub),
        "signing_key_id": SigningKey(private, str(sig)).public.key_id,
    }


# --------------------------------------------------------------------------- objects


class Sealer:
    """Compress (zstd) and, with a key, encrypt (AES-256-GCM) object payloads."""

    def __init__(self, key: EncryptionKey | None, level: int = 3) -> None:
        self.key = key
        self.level = level
        self._local = threading.local()
        self._aead = AESGCM(key.key) if key else None

    def seal(self, plain: bytes) -> bytes:
        # A zstd compressor must not be shared between threads: one per thread.
        zc = getattr(self._local, "zc", None)
        if zc is None:
            zc = self._local.zc = zstandard.ZstdCompressor(level=self.level)
        frame = zc.compress(plain)
        if self.key is None or self._aead is None:
            return MAGIC + bytes((VERSION, MODE_PLAIN)) + frame
        header = MAGIC + bytes((VERSION, MODE_AESGCM)) + bytes.fromhex(self.key.key_id)
        nonce = secrets.token_bytes(12)
        return header + nonce + self._aead.encrypt(nonce, frame, header)


def object_key_id(stored: bytes) -> str | None:
    """The key id a sealed object was encrypted with, ``None`` if it is not encrypted."""
    if len(stored) < 6 or stored[:4] != MAGIC:
        raise IntegrityFailure("not a serialvault backup object (bad magic)")
    if stored[5] == MODE_PLAIN:
        return None
    return stored[6:14].hex()


def unseal(stored: bytes, key: EncryptionKey | None, *, name: str = "object") -> bytes:
    """The plaintext of a sealed object; a clear error when it cannot be opened."""
    if len(stored) < 6 or stored[:4] != MAGIC:
        raise IntegrityFailure(f"{name}: not a serialvault backup object (bad magic)")
    if stored[4] != VERSION:
        raise IntegrityFailure(f"{name}: object format version {stored[4]} is not known")
    mode = stored[5]
    if mode == MODE_PLAIN:
        frame = stored[6:]
    elif mode == MODE_AESGCM:
        kid = stored[6:14].hex()
        if key is None:
            raise KeyProblem(
                f"{name} is encrypted with key {kid}: configure that key (policy"
                " encryption_key, --key or SERIALVAULT_BACKUP_KEY)"
            )
        if key.key_id != kid:
            raise KeyProblem(
                f"{name} is encrypted with key {kid}, but the key in {key.path} is {key.key_id}"
            )
        header, nonce = stored[:14], stored[14:26]
        try:
            frame = AESGCM(key.key).decrypt(nonce, stored[26:], header)
        except InvalidTag:
            raise IntegrityFailure(f"{name}: authentication failed (altered bytes)") from None
    else:
        raise IntegrityFailure(f"{name}: unknown object mode {mode}")
    try:
        return zstandard.ZstdDecompressor().decompress(frame, max_output_size=1 << 31)
    except zstandard.ZstdError as exc:
        raise IntegrityFailure(f"{name}: cannot decompress: {exc}") from None
