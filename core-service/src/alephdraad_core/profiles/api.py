"""Public profiles: anyone may look a user up by username and page through their threads."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from alephdraad_core.platform.schemas import problem_responses
from alephdraad_core.platform.views import AnonymousAPIView
from alephdraad_core.profiles.schemas import (
    ProfileThreadPageSerializer,
    ProfileThreadSerializer,
    ProfileThreadsQuerySerializer,
    PublicProfileSerializer,
)
from alephdraad_core.profiles.selectors import (
    access_public_user,
    live_threads_of,
    public_profile,
    thread_pages_of,
)

TAGS = ["profiles"]
_USERNAME = OpenApiParameter(
    "username", str, OpenApiParameter.PATH, description="The user's username."
)
_NOT_FOUND = {404: "USER_NOT_FOUND: nobody has this username."}


class PublicProfileView(AnonymousAPIView):
    @extend_schema(
        operation_id="profiles_retrieve",
        tags=TAGS,
        summary="A user's public profile",
        description="Public fields only; no token needed. Locked users keep their profile.",
        parameters=[_USERNAME],
        responses={
            200: OpenApiResponse(PublicProfileSerializer, description="The profile."),
            **problem_responses(_NOT_FOUND),
        },
    )
    def get(self, request: Request, username: str) -> Response:
        return Response(PublicProfileSerializer(public_profile(username)).data)


class PublicProfileThreadsView(AnonymousAPIView):
    @extend_schema(
        operation_id="profiles_threads_list",
        tags=TAGS,
        summary="A user's threads, newest first",
        description="Deleted threads are left out. Cursor pages (`next_cursor`).",
        parameters=[_USERNAME, ProfileThreadsQuerySerializer],
        responses={
            200: OpenApiResponse(ProfileThreadPageSerializer, description="One page."),
            **problem_responses(
                {
                    400: "VALIDATION_FAILED: a bad `limit`, an unknown parameter, or a cursor "
                    "that is not one of this list's.",
                    **_NOT_FOUND,
                }
            ),
        },
    )
    def get(self, request: Request, username: str) -> Response:
        query = ProfileThreadsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        user = access_public_user(username)
        page = thread_pages_of(user).paginate(
            live_threads_of(user),
            limit=query.validated_data["limit"],
            cursor=query.validated_data.get("cursor"),
        )
        return Response(
            {
                "items": ProfileThreadSerializer(page.items, many=True).data,
                "next_cursor": page.next_cursor,
            }
        )
