"""Test URLconf of the test_admins_* modules: the real routes plus a minimal user endpoint.

The user endpoint keeps the project defaults (UserTokenAuthentication + IsUser), so it proves
that an admin token is refused wherever a user token is expected, whatever user endpoints
exist yet.
"""

from __future__ import annotations

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alephdraad_core.urls import handler400, handler403, handler404, handler500, urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]

USER_ENDPOINT = "/test/user-only"


class UserOnlyView(APIView):
    def get(self, request: Request) -> Response:
        return Response({"user_id": request.user.pk})


urlpatterns = [*urlpatterns, path(USER_ENDPOINT.lstrip("/"), UserOnlyView.as_view())]
