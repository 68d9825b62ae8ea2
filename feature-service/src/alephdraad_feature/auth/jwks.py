"""Core's public signing keys, fetched from its JWKS and kept in memory.

Core signs with a new key as soon as it rotates (`jwt_keys rotate`) and keeps publishing the
retired one while its tokens live. So a token whose `kid` we do not hold means our copy is
stale: we fetch again, but at most once every MIN_REFETCH_SECONDS per process, so a stream of
tokens with made-up `kid`s cannot make us hammer core (the price: for at most that long after a
rotation, tokens with the new key may be refused). The whole set is also refreshed every
REFRESH_SECONDS so retired keys drop out. When core cannot be reached we keep verifying with
the keys we have; only a token whose key we never fetched is then unverifiable (503, never a
wrong 401).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

logger = logging.getLogger("alephdraad_feature.auth")

REFRESH_SECONDS = 600.0
MIN_REFETCH_SECONDS = 5.0

JwksFetch = Callable[[], Awaitable[Mapping[str, Any]]]


class JwksUnavailable(Exception):
    """The key set could not be fetched (and we hold no key for the token)."""


def _b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def parse_jwks(document: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    """The Ed25519 signing keys of a JWKS by `kid`; other or malformed entries are skipped."""
    keys: dict[str, Ed25519PublicKey] = {}
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise ValueError("a JWKS has a `keys` array")
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        kid, x = entry.get("kid"), entry.get("x")
        if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
            continue
        if entry.get("use", "sig") != "sig" or not isinstance(kid, str) or not isinstance(x, str):
            continue
        try:
            keys[kid] = Ed25519PublicKey.from_public_bytes(_b64url_decode(x))
        except ValueError:
            logger.warning("malformed key in core's JWKS skipped", extra={"kid": kid})
    return keys


class JwksProvider:
    """The keys to verify with, refreshed as described in the module docstring."""

    def __init__(
        self,
        fetch: JwksFetch,
        *,
        clock: Callable[[], float] = time.monotonic,
        refresh_seconds: float = REFRESH_SECONDS,
        min_refetch_seconds: float = MIN_REFETCH_SECONDS,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self._min_refetch_seconds = min_refetch_seconds
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> Ed25519PublicKey | None:
        """The key `kid`, or None when core does not publish it (the token is invalid).

        Raises `JwksUnavailable` when the key set was never fetched and cannot be now."""
        now = self._clock()
        stale = self._fetched_at is None or now - self._fetched_at >= self._refresh_seconds
        if stale or kid not in self._keys:
            await self._refresh(force=stale)
        if self._fetched_at is None:
            raise JwksUnavailable("core's JWKS has never been fetched")
        return self._keys.get(kid)

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            now = self._clock()
            recently = (
                self._attempted_at is not None
                and now - self._attempted_at < self._min_refetch_seconds
            )
            if recently and not (force and self._fetched_at is None):
                return
            self._attempted_at = now
            try:
                keys = parse_jwks(await self._fetch())
            except (httpx.HTTPError, ValueError) as error:
                logger.warning(
                    "core's JWKS could not be fetched; keeping the keys we have",
                    extra={"error": type(error).__name__, "keys_held": len(self._keys)},
                )
                return
            self._keys = keys
            self._fetched_at = now


def http_jwks_fetch(client: httpx.AsyncClient, url: str) -> JwksFetch:
    """Fetch the JWKS at `url` with `client` (a 2xx JSON object, else an httpx error)."""

    async def fetch() -> Mapping[str, Any]:
        response = await client.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict):
            raise ValueError("core's JWKS is not a JSON object")
        return document

    return fetch
