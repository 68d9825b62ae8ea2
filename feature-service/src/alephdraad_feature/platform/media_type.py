"""415 for a JSON endpoint sent a body in another format.

Litestar parses a handler's `data` as JSON whatever the Content-Type says, so a form post or a
text/plain body would otherwise be accepted (or fail as "malformed JSON"). This is an
app-level middleware rather than a `before_request` hook because Litestar keeps only the
innermost layer's `before_request`, so a domain router defining its own would silently drop it.
"""

from __future__ import annotations

from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.params import BodyKwarg
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE
from litestar.types import ASGIApp, Receive, Scope, Send

_NON_JSON_ENCODINGS = frozenset(
    {
        RequestEncodingType.MULTI_PART,
        RequestEncodingType.URL_ENCODED,
        RequestEncodingType.MESSAGEPACK,
    }
)


def expects_json_body(route_handler: object) -> bool:
    """Whether the handler declares a `data` argument that Litestar decodes from JSON."""
    if not isinstance(route_handler, HTTPRouteHandler):
        return False
    data_field = route_handler.parsed_data_field
    if data_field is None:
        return False
    kwarg = data_field.kwarg_definition
    return not (isinstance(kwarg, BodyKwarg) and kwarg.media_type in _NON_JSON_ENCODINGS)


def is_json_media_type(content_type: str) -> bool:
    """application/json or any application/*+json, parameters (charset) ignored."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _has_body(headers: dict[bytes, bytes]) -> bool:
    if b"transfer-encoding" in headers:
        return True
    try:
        return int(headers.get(b"content-length", b"0")) > 0
    except ValueError:
        # Litestar itself rejects a malformed Content-Length with a 400 when it reads the body.
        return False


class JsonContentTypeMiddleware(ASGIMiddleware):
    """Refuse a request body that is not JSON, for handlers whose `data` is JSON."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if expects_json_body(scope.get("route_handler")):
            headers = {name.lower(): value for name, value in scope.get("headers", ())}
            content_type = headers.get(b"content-type", b"").decode("latin-1")
            if _has_body(headers) and not is_json_media_type(content_type):
                raise HTTPException(
                    status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                    detail=(
                        f"This endpoint takes application/json, not {content_type}."
                        if content_type
                        else "This endpoint takes application/json; Content-Type is missing."
                    ),
                    headers={"Accept": "application/json"},
                )
        await next_app(scope, receive, send)
