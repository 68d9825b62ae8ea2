"""Test URLconf: the real routes plus views that raise each kind of error on purpose."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alephdraad_contracts import ProblemType
from alephdraad_core.platform.errors import DomainError
from alephdraad_core.platform.serializers import StrictSerializer, TextField
from alephdraad_core.urls import handler400, handler403, handler404, handler500, urlpatterns

# Django looks the error handlers up on the active URLconf module.
__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]

INTERNAL_SECRET = "kaboom-internal-state-7f3a"


class ThreadNotFound(DomainError):
    problem_type = ProblemType("THREAD_NOT_FOUND", 404, "Thread not found")


class AuthorSerializer(serializers.Serializer):
    email = serializers.EmailField()


class TagSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=10)


class PostSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=5)
    author = AuthorSerializer()
    tags = TagSerializer(many=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["title"] == "same" and attrs["author"]["email"].startswith("same@"):
            raise serializers.ValidationError("title and author must differ")
        return attrs


class PostView(APIView):
    # Anonymous on purpose: these views exercise error rendering, not authentication.
    authentication_classes = ()
    permission_classes = ()

    def post(self, request: Request) -> Response:
        serializer = PostSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data, status=201)


class RulesSerializer(StrictSerializer):
    """Optional fields, each with a rule that a well-formed value can break; built like the
    service's request serializers (unknown fields and non-string text refused)."""

    count = serializers.IntegerField(min_value=1, max_value=10, required=False)
    colour = serializers.ChoiceField(choices=["red", "green"], required=False)
    name = TextField(max_length=5, required=False)

    def validate_name(self, value: str) -> str:
        # A domain rule: its own message, the "rule" code of platform/problems.py.
        if value == "admin":
            raise serializers.ValidationError("This name is reserved.", code="rule")
        return value


class RulesView(APIView):
    authentication_classes = ()
    permission_classes = ()

    def post(self, request: Request) -> Response:
        serializer = RulesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data, status=201)


def _raise(kind: str) -> None:
    if kind == "runtime":
        raise RuntimeError(INTERNAL_SECRET)
    if kind == "domain":
        raise ThreadNotFound("Thread 42 does not exist.")
    if kind == "unauthenticated":
        raise exceptions.NotAuthenticated()
    if kind == "forbidden":
        raise exceptions.PermissionDenied()
    if kind == "throttled":
        raise exceptions.Throttled(wait=12.2)
    if kind == "http404":
        raise Http404("internal lookup detail")
    raise AssertionError(f"unknown kind {kind}")


class RaiseView(APIView):
    authentication_classes = ()
    permission_classes = ()

    def get(self, request: Request, kind: str) -> Response:
        _raise(kind)
        return Response({})


def plain_raise_view(request: HttpRequest, kind: str) -> HttpResponse:
    _raise(kind)
    return HttpResponse()


@csrf_exempt
@require_POST
def plain_post_only_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("created", status=201)


def plain_form_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("saved")


urlpatterns = [
    *urlpatterns,
    path("test/posts", PostView.as_view()),
    path("test/rules", RulesView.as_view()),
    path("test/raise/<str:kind>", RaiseView.as_view()),
    path("test/plain-raise/<str:kind>", plain_raise_view),
    path("test/plain-post-only", plain_post_only_view),
    path("test/plain-form", plain_form_view),
]
