"""The guard of every /internal/v1 route: an RFC 9421 signature checked by the contracts package.

`verify_signed_request` (contracts) is synchronous and calls `NonceStore.remember()`
synchronously, which an async MongoDB client cannot serve. So it runs with a
`_CollectingNonceStore` that accepts the nonce and records it with its expiry; the verifier
calls it only after every other check (keyid, caller, window, signature, digest) has passed.
The guard then inserts the nonce into `signature_nonces` itself: a `DuplicateKeyError` on `_id`
means another request (on any replica) already used it, i.e. a replay, and the request is
refused like any other bad signature.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from pymongo.errors import DuplicateKeyError

from alephdraad_contracts import (
    SIGNATURE_CALLER_HEADER,
    KeyRing,
    RejectionReason,
    SignatureRejected,
    VerifiedCaller,
    verify_signed_request,
)
from alephdraad_feature.internal.errors import SignatureRejectedError
from alephdraad_feature.internal.models import SignatureNonce

logger = logging.getLogger("alephdraad_feature.internal")

KEY_RING_STATE_KEY = "internal_key_ring"
CLOCK_STATE_KEY = "clock"
# Where the guard leaves the verified caller for the handler (`request.state`).
VERIFIED_CALLER_STATE_KEY = "verified_caller"

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class _CollectingNonceStore:
    """A `NonceStore` that accepts every nonce and remembers the last one offered, so the
    caller can store it asynchronously (see the module docstring)."""

    def __init__(self) -> None:
        self.nonce: str | None = None
        self.expires_at: datetime | None = None

    def remember(self, nonce: str, expires_at: datetime) -> bool:
        self.nonce = nonce
        self.expires_at = expires_at
        return True


def _path_and_query(scope: Any) -> str:
    """The request target as the caller signed it (undecoded path, query string)."""
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope["path"]
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


def _rejection(
    reason: RejectionReason, request: Request[Any, Any, Any], detail: str = ""
) -> SignatureRejectedError:
    """Log why (with the library's detail) and build the 401 the caller sees."""
    logger.warning(
        "internal request refused",
        extra={
            "reason": reason.value,
            "why": detail,
            "caller": request.headers.get(SIGNATURE_CALLER_HEADER),
            "method": request.method,
            "path": request.url.path,
        },
    )
    return SignatureRejectedError(
        f"The request signature was rejected: {reason.value}.",
        headers={"WWW-Authenticate": "Signature"},
        extensions={"reason": reason.value},
    )


async def verify_internal_request(
    request: Request[Any, Any, Any], *, keys: KeyRing, now: datetime
) -> VerifiedCaller:
    """Verify `request` and store its nonce; raise `SignatureRejectedError` (401) otherwise."""
    body = await request.body()
    store = _CollectingNonceStore()
    try:
        verified = verify_signed_request(
            request.method,
            _path_and_query(request.scope),
            request.headers,
            body,
            keys=keys,
            nonce_store=store,
            now=now,
        )
    except SignatureRejected as exc:
        raise _rejection(exc.reason, request, exc.detail) from None
    assert store.nonce == verified.nonce
    assert store.expires_at is not None
    try:
        await SignatureNonce.get_pymongo_collection().insert_one(
            {"_id": store.nonce, "expiresAt": store.expires_at}
        )
    except DuplicateKeyError:
        raise _rejection(RejectionReason.REPLAYED_NONCE, request, "nonce already used") from None
    return verified


async def require_signature(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Litestar guard: the request must be signed by a caller of FEATURE_INTERNAL_ACCEPT_KEYS."""
    if not isinstance(connection, Request):  # pragma: no cover - no websocket routes here
        raise TypeError("internal routes are HTTP only")
    state = connection.app.state
    clock: Clock = state.get(CLOCK_STATE_KEY, utc_now)
    verified = await verify_internal_request(
        connection, keys=state[KEY_RING_STATE_KEY], now=clock()
    )
    connection.state[VERIFIED_CALLER_STATE_KEY] = verified
