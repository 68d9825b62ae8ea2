"""Request ids: the gateway sets one, services log it, echo it and forward it."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar, Token

REQUEST_ID_HEADER = "X-Request-ID"

# The gateway applies the same rule (gateway/nginx.conf.template): anything else is replaced
# by a fresh id, so a client cannot inject newlines or megabytes into our logs.
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

_current_request_id: ContextVar[str | None] = ContextVar("alephdraad_request_id", default=None)


def new_request_id() -> str:
    """A fresh id in the gateway's format (32 hex characters)."""
    return uuid.uuid4().hex


def is_valid_request_id(value: str | None) -> bool:
    return value is not None and REQUEST_ID_PATTERN.fullmatch(value) is not None


def accept_request_id(value: str | None) -> str:
    """The incoming id when it is well-formed, else a fresh one."""
    if value is not None and is_valid_request_id(value):
        return value
    return new_request_id()


def current_request_id() -> str | None:
    """The id of the request being handled in this context, if any."""
    return _current_request_id.get()


def bind_request_id(value: str | None) -> Token[str | None]:
    """Make `value` the current request id; pass the token to `reset_request_id` afterwards."""
    return _current_request_id.set(value)


def reset_request_id(token: Token[str | None]) -> None:
    _current_request_id.reset(token)
