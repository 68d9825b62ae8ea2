"""Small building blocks the domains' api modules share."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import APIView


# A public endpoint: no authentication is attempted and everyone may call it. (A comment, not a
# docstring: drf-spectacular would publish a docstring as every subclass's description.)
class AnonymousAPIView(APIView):
    authentication_classes = ()
    permission_classes = ()


def no_store(data: Any, status: int = 200) -> Response:
    """A response holding secrets (tokens, challenges, TOTP seeds, backup codes): never cached
    anywhere (RFC 6749 section 5.1)."""
    response = Response(data, status=status)
    response["Cache-Control"] = "no-store"
    return response
