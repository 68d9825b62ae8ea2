"""A middleware that fails, to exercise Django's handler500 path (exceptions outside views)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

EXPLODING_PATH = "/test/middleware-explodes"


class ExplodingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path == EXPLODING_PATH:
            raise RuntimeError("middleware-internal-state")
        return self.get_response(request)
