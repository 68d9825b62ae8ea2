"""X-Request-ID handling and the one access-log line per request.

This is a plain ASGI wrapper around Litestar's whole handler stack (see `app.create_app`), not a
Litestar middleware: Litestar runs its middleware only for requests that matched a route, and we
want the id bound, echoed and logged for 404s, 405s and crashes too.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from litestar.serialization import encode_json
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from alephdraad_contracts import (
    INTERNAL_ERROR,
    PROBLEM_CONTENT_TYPE,
    REQUEST_ID_HEADER,
    accept_request_id,
    bind_request_id,
    reset_request_id,
)

access_logger = logging.getLogger("alephdraad_feature.access")
error_logger = logging.getLogger("alephdraad_feature.errors")

_HEADER_NAME = REQUEST_ID_HEADER.lower().encode("latin-1")


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == _HEADER_NAME:
            return value.decode("latin-1")
    return None


class RequestIdMiddleware:
    """Accept or mint the request id, bind it for logs and problem bodies, echo it, log it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = accept_request_id(_incoming_request_id(scope))
        header_value = request_id.encode("latin-1")
        token = bind_request_id(request_id)
        started = time.perf_counter()
        status: int | None = None

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # Replace, never duplicate: a handler may have set the header itself.
                headers = [
                    (name, value)
                    for name, value in message.get("headers", ())
                    if name.lower() != _HEADER_NAME
                ]
                headers.append((_HEADER_NAME, header_value))
                message = {**message, "headers": headers}  # type: ignore[assignment]
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception:
            # Litestar's exception middleware answers every error it sees; what reaches here
            # failed after the response had started, or inside that middleware itself.
            error_logger.exception("exception escaped the application")
            if status is not None:
                raise
            status = INTERNAL_ERROR.status
            await _send_internal_error(send_with_request_id, request_id)
        finally:
            self._log_request(scope, status, started)
            reset_request_id(token)

    @staticmethod
    def _log_request(scope: Scope, status: int | None, started: float) -> None:
        extra: dict[str, Any] = {
            "method": scope.get("method"),
            "path": scope.get("path"),
            # None when the client went away before any response was sent.
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        access_logger.info("request", extra=extra)


async def _send_internal_error(send: Send, request_id: str) -> None:
    body = encode_json(
        INTERNAL_ERROR.body(
            "An unexpected error occurred. Quote the request id when you report it.",
            request_id=request_id,
        )
    )
    await send(
        {
            "type": "http.response.start",
            "status": INTERNAL_ERROR.status,
            "headers": [
                (b"content-type", PROBLEM_CONTENT_TYPE.encode("latin-1")),
                (b"content-length", str(len(body)).encode("latin-1")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
