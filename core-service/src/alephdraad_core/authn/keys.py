"""Ed25519 signing keys for access tokens, their JWKS, and rotation.

A key set is JSON, kept in a file (`CORE_JWT_KEYS_FILE`) or an environment variable
(`CORE_JWT_KEYS`):

    {"keys": [{"kid": "…", "private_key": "<PKCS#8 PEM of an Ed25519 key>",
               "created_at": "2026-11-25T00:00:00Z", "retired_at": null}]}

The newest key without `retired_at` signs. Retired keys stay published in the JWKS until every
token they signed has expired (`RETIRED_KEY_PUBLISH_SECONDS`), then rotation prunes them.
`kid` is the RFC 7638 thumbprint of the public key. A file is re-read when it changes, so a
rotation reaches every worker without a restart.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Longest-lived token a key signs (admin tokens, 10 min) plus clock-skew leeway.
RETIRED_KEY_PUBLISH_SECONDS = 15 * 60


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def thumbprint(public_key: Ed25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256) of an OKP/Ed25519 key."""
    canonical = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": _b64url(_raw_public(public_key))},
        separators=(",", ":"),
        sort_keys=True,
    )
    return _b64url(hashlib.sha256(canonical.encode()).digest())


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey
    created_at: datetime
    retired_at: datetime | None

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def public_jwk(self) -> dict[str, str]:
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64url(_raw_public(self.public_key)),
            "kid": self.kid,
            "use": "sig",
            "alg": "EdDSA",
        }


@dataclass(frozen=True)
class KeyRing:
    keys: tuple[SigningKey, ...]

    @property
    def active(self) -> SigningKey:
        live = [key for key in self.keys if key.retired_at is None]
        if not live:
            raise ImproperlyConfigured("the JWT key set has no active (unretired) key")
        return max(live, key=lambda key: key.created_at)

    def published(self, now: datetime | None = None) -> list[SigningKey]:
        """Keys whose tokens may still be valid: the active one and recently retired ones."""
        moment = now or datetime.now(tz=UTC)
        horizon = timedelta(seconds=RETIRED_KEY_PUBLISH_SECONDS)
        return [
            key for key in self.keys if key.retired_at is None or key.retired_at + horizon > moment
        ]

    def find(self, kid: str, now: datetime | None = None) -> SigningKey | None:
        for key in self.published(now):
            if key.kid == kid:
                return key
        return None

    def jwks(self, now: datetime | None = None) -> dict[str, Any]:
        return {"keys": [key.public_jwk() for key in self.published(now)]}


def new_key_entry(now: datetime | None = None) -> dict[str, Any]:
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "kid": thumbprint(private_key.public_key()),
        "private_key": pem,
        "created_at": _iso(now or datetime.now(tz=UTC)),
        "retired_at": None,
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        # Compared with aware datetimes on every token check; a naive one would raise there.
        raise ValueError(f"timestamp {value!r} has no time zone")
    return moment


def parse_key_set(raw: str, source: str) -> KeyRing:
    try:
        document = json.loads(raw)
        keys = []
        for entry in document["keys"]:
            private_key = serialization.load_pem_private_key(
                entry["private_key"].encode(), password=None
            )
            if not isinstance(private_key, Ed25519PrivateKey):
                raise ValueError("only Ed25519 keys are accepted")
            kid = thumbprint(private_key.public_key())
            if entry.get("kid") not in (None, kid):
                raise ValueError(f"kid {entry['kid']!r} does not match its key ({kid})")
            retired = entry.get("retired_at")
            keys.append(
                SigningKey(
                    kid=kid,
                    private_key=private_key,
                    created_at=_parse_time(entry["created_at"]),
                    retired_at=_parse_time(retired) if retired else None,
                )
            )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ImproperlyConfigured(f"{source} is not a valid JWT key set: {error}") from None
    if not any(key.retired_at is None for key in keys):
        # Fail at load time, naming the source, rather than when the first token is signed.
        raise ImproperlyConfigured(
            f"{source} is not a valid JWT key set: it has no active (unretired) key"
        )
    return KeyRing(tuple(keys))


def dump_key_set(entries: list[dict[str, Any]]) -> str:
    return json.dumps({"keys": entries}, indent=2) + "\n"


def write_key_file(path: Path, entries: list[dict[str, Any]]) -> None:
    """Atomically, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(dump_key_set(entries))
    os.replace(tmp, path)


def rotated_entries(entries: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Retire the active key, add a new one, drop keys no token can need any more."""
    horizon = timedelta(seconds=RETIRED_KEY_PUBLISH_SECONDS)
    kept = []
    for entry in entries:
        retired = entry.get("retired_at")
        if retired is None:
            entry = {**entry, "retired_at": _iso(now)}
        elif _parse_time(retired) + horizon <= now:
            continue
        kept.append(entry)
    return [*kept, new_key_entry(now)]


class _KeyRingCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ring: KeyRing | None = None
        self._source: tuple[str, tuple[int, int, int] | str] | None = None

    def get(self) -> KeyRing:
        source = self._current_source()
        with self._lock:
            if self._ring is None or source != self._source:
                self._ring = self._load(source)
                self._source = source
            return self._ring

    @staticmethod
    def _current_source() -> tuple[str, tuple[int, int, int] | str]:
        if settings.JWT_KEYS:
            return ("env", settings.JWT_KEYS)
        path = settings.JWT_KEYS_FILE
        try:
            status = os.stat(path)
            # Not the mtime alone: two writes within one tick of a coarse filesystem clock
            # share it. write_key_file replaces the file, so the inode changes on every write.
            return (path, (status.st_mtime_ns, status.st_ino, status.st_size))
        except OSError as error:
            raise ImproperlyConfigured(
                f"CORE_JWT_KEYS_FILE {path} cannot be read: {error.strerror}"
            ) from None

    @staticmethod
    def _load(source: tuple[str, tuple[int, int, int] | str]) -> KeyRing:
        if source[0] == "env":
            return parse_key_set(str(source[1]), "CORE_JWT_KEYS")
        return parse_key_set(Path(source[0]).read_text(), f"CORE_JWT_KEYS_FILE {source[0]}")

    def clear(self) -> None:
        with self._lock:
            self._ring = None
            self._source = None


_cache = _KeyRingCache()


def keyring() -> KeyRing:
    """The current key set (re-read when its file changes)."""
    return _cache.get()


def clear_keyring_cache() -> None:
    _cache.clear()
