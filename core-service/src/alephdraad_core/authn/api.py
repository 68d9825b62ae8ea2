"""GET /.well-known/jwks.json; the login, refresh and session endpoints join this module."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alephdraad_core.authn.keys import keyring
from alephdraad_core.authn.schemas import JwksSerializer

# Verifiers may cache the set this long. A verifier that meets an unknown kid refetches
# (DESIGN section 4), and a retired key stays published well past this, so caching is safe.
JWKS_MAX_AGE_S = 300


class JwksView(APIView):
    authentication_classes = ()
    permission_classes = ()

    @extend_schema(
        operation_id="jwks",
        tags=["auth"],
        summary="Public keys that verify access tokens (JWKS)",
        responses={200: OpenApiResponse(JwksSerializer, description="The published keys.")},
    )
    def get(self, request: Request) -> Response:
        response = Response(keyring().jwks())
        response["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_S}"
        return response
