"""Authentication routes; mounted by the root urls.py (api/v1/… and /.well-known/)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from alephdraad_core.authn.api import JwksView

well_known_urlpatterns = [
    path(".well-known/jwks.json", JwksView.as_view(), name="jwks"),
]

urlpatterns: list[URLPattern | URLResolver] = []
