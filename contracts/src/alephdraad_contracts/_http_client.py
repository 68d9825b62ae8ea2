"""httpx clients for internal calls: every request signed, ids propagated, safe retries."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Generator
from typing import Any

import httpx

from ._request_id import REQUEST_ID_HEADER, current_request_id, new_request_id
from ._signing import sign_request

TRACEPARENT_HEADER = "traceparent"
_TRACEPARENT_PATTERN = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
# Methods that RFC 9110 calls idempotent; only these are retried, and only when the
# connection could not be made (so the peer never saw the request or its nonce).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_RETRYABLE = (httpx.ConnectError, httpx.ConnectTimeout)
DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)


class SigningAuth(httpx.Auth):
    """Signs each request (RFC 9421) after filling in X-Request-ID and traceparent."""

    requires_request_body = True

    def __init__(
        self,
        *,
        caller: str,
        keyid: str,
        secret: bytes,
        traceparent: Callable[[], str | None] | None = None,
    ) -> None:
        self._caller = caller
        self._keyid = keyid
        self._secret = secret
        self._traceparent = traceparent

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if REQUEST_ID_HEADER not in request.headers:
            request.headers[REQUEST_ID_HEADER] = current_request_id() or new_request_id()
        if TRACEPARENT_HEADER not in request.headers and self._traceparent is not None:
            value = self._traceparent()
            if value is not None and _TRACEPARENT_PATTERN.fullmatch(value):
                request.headers[TRACEPARENT_HEADER] = value
        sign_request(request, caller=self._caller, keyid=self._keyid, secret=self._secret)
        yield request


def _backoff(attempt: int, base: float) -> float:
    return float(base * (2**attempt))


class _RetryTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, retries: int, backoff: float) -> None:
        self._inner = inner
        self._retries = retries
        self._backoff = backoff

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            try:
                return self._inner.handle_request(request)
            except _RETRYABLE:
                if request.method not in IDEMPOTENT_METHODS or attempt >= self._retries:
                    raise
                time.sleep(_backoff(attempt, self._backoff))
                attempt += 1

    def close(self) -> None:
        self._inner.close()


class _AsyncRetryTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, retries: int, backoff: float) -> None:
        self._inner = inner
        self._retries = retries
        self._backoff = backoff

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            try:
                return await self._inner.handle_async_request(request)
            except _RETRYABLE:
                if request.method not in IDEMPOTENT_METHODS or attempt >= self._retries:
                    raise
                await asyncio.sleep(_backoff(attempt, self._backoff))
                attempt += 1

    async def aclose(self) -> None:
        await self._inner.aclose()


def signed_client(
    base_url: str,
    *,
    caller: str,
    keyid: str,
    secret: bytes,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    retries: int = 2,
    backoff: float = 0.1,
    traceparent: Callable[[], str | None] | None = None,
    transport: httpx.BaseTransport | None = None,
    **kwargs: Any,
) -> httpx.Client:
    """One pooled client for calls to one peer; keep it for the process's lifetime.

    Retries (up to `retries`, exponential `backoff`) only idempotent methods, only on
    connection failures. `traceparent` is called per request for the W3C trace context."""
    inner = transport if transport is not None else httpx.HTTPTransport()
    return httpx.Client(
        base_url=base_url,
        auth=SigningAuth(caller=caller, keyid=keyid, secret=secret, traceparent=traceparent),
        timeout=timeout,
        transport=_RetryTransport(inner, retries, backoff),
        follow_redirects=False,
        **kwargs,
    )


def async_signed_client(
    base_url: str,
    *,
    caller: str,
    keyid: str,
    secret: bytes,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    retries: int = 2,
    backoff: float = 0.1,
    traceparent: Callable[[], str | None] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    **kwargs: Any,
) -> httpx.AsyncClient:
    """The asyncio twin of `signed_client` (for Litestar)."""
    inner = transport if transport is not None else httpx.AsyncHTTPTransport()
    return httpx.AsyncClient(
        base_url=base_url,
        auth=SigningAuth(caller=caller, keyid=keyid, secret=secret, traceparent=traceparent),
        timeout=timeout,
        transport=_AsyncRetryTransport(inner, retries, backoff),
        follow_redirects=False,
        **kwargs,
    )
