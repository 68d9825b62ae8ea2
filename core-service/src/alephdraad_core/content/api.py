"""Categories and threads under /api/v1/ (reads open to everyone, writes by users), and their
admin routes under /api/v1/admin/ (admin token only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alephdraad_core.accounts.models import User
from alephdraad_core.admins.api import AdminAPIView
from alephdraad_core.admins.schemas import EmptyBodySerializer
from alephdraad_core.authn.permissions import IsAdmin, IsUser
from alephdraad_core.content import selectors, services
from alephdraad_core.content.authentication import USER_OR_ADMIN_AUTHENTICATION
from alephdraad_core.content.models import Thread
from alephdraad_core.content.schemas import (
    SORT_RELEVANCE,
    AcceptedReplySerializer,
    CategoryCreateSerializer,
    CategoryListSerializer,
    CategorySerializer,
    CategoryUpdateSerializer,
    ThreadCreateSerializer,
    ThreadListItemSerializer,
    ThreadListQuerySerializer,
    ThreadMoveSerializer,
    ThreadPageSerializer,
    ThreadSerializer,
    ThreadUpdateSerializer,
)
from alephdraad_core.platform.schemas import problem_responses
from alephdraad_core.platform.serializers import validated

TAGS = ["content"]
ADMIN_TAGS = ["admin"]

_BAD_INPUT = {400: "MALFORMED_REQUEST (not JSON) or VALIDATION_FAILED (see errors[])."}
_BAD_QUERY = {400: "VALIDATION_FAILED: an unknown or mistyped parameter, or a tampered cursor."}
_TOKEN_REFUSED = {
    401: "AUTH_TOKEN_INVALID or AUTH_SESSION_REVOKED: a token was sent and is refused "
    "(anonymous requests are fine)."
}
_USER_ONLY = {
    401: "UNAUTHENTICATED (no token), AUTH_TOKEN_INVALID or AUTH_SESSION_REVOKED.",
    403: "FORBIDDEN: an admin token (this is a member's action).",
}
_ADMIN_ONLY = {
    401: "AUTH_TOKEN_INVALID / UNAUTHENTICATED: no admin token, or not a valid one (a user "
    "token is not)."
}
_CONTENT_422 = (
    "UNPROCESSABLE_CONTENT (a length rule, see errors[]), UNKNOWN_CATEGORY (category_slug) or "
    "CONTENT_INVALID (errors[0].field is the path of the first bad node, e.g. "
    "content_json.content.2.content.0.marks.0.attrs.href)."
)
_THREAD_ID = OpenApiParameter("thread_id", int, OpenApiParameter.PATH, description="Thread id.")
_SLUG = OpenApiParameter("slug", str, OpenApiParameter.PATH, description="Category slug.")


def _threads_data(serializer_class: type[Any], threads: Sequence[Thread]) -> Any:
    """Threads as `serializer_class` renders them, their authors' primary badges loaded in one
    query for all of them."""
    badges = selectors.primary_badges_of(thread.author for thread in threads)
    return serializer_class(threads, many=True, context={"primary_badges": badges}).data


def _thread_data(thread: Thread) -> Any:
    return _threads_data(ThreadSerializer, [thread])[0]


# --- categories ------------------------------------------------------------------------------


class CategoryListView(APIView):
    authentication_classes = USER_OR_ADMIN_AUTHENTICATION
    permission_classes = (AllowAny,)

    @extend_schema(
        operation_id="categories_list",
        tags=TAGS,
        summary="Every category, in display order",
        description="Ordered by order_index, then id. Not paginated: a forum has a handful. "
        "No token needed.",
        responses={
            200: OpenApiResponse(CategoryListSerializer, description="The categories."),
            **problem_responses(_TOKEN_REFUSED),
        },
    )
    def get(self, request: Request) -> Response:
        categories = selectors.categories_in_order()
        return Response({"items": CategorySerializer(categories, many=True).data})


class CategoryDetailView(APIView):
    authentication_classes = USER_OR_ADMIN_AUTHENTICATION
    permission_classes = (AllowAny,)

    @extend_schema(
        operation_id="category_retrieve",
        tags=TAGS,
        summary="One category",
        parameters=[_SLUG],
        responses={
            200: OpenApiResponse(CategorySerializer, description="The category."),
            **problem_responses({**_TOKEN_REFUSED, 404: "CATEGORY_NOT_FOUND"}),
        },
    )
    def get(self, request: Request, slug: str) -> Response:
        return Response(CategorySerializer(selectors.access_category(slug)).data)


class AdminCategoryCreateView(AdminAPIView):
    @extend_schema(
        operation_id="admin_category_create",
        tags=ADMIN_TAGS,
        summary="Create a category",
        description="Without order_index it goes last. Recorded as admin_category_created.",
        request=CategoryCreateSerializer,
        responses={
            201: OpenApiResponse(CategorySerializer, description="Created."),
            **problem_responses({**_BAD_INPUT, **_ADMIN_ONLY, 409: "CATEGORY_SLUG_TAKEN"}),
        },
    )
    def post(self, request: Request) -> Response:
        body = validated(CategoryCreateSerializer, request.data)
        category = services.do_create_category(self.actor(request), request=request, **body)
        return Response(CategorySerializer(category).data, status=201)


class AdminCategoryDetailView(AdminAPIView):
    @extend_schema(
        operation_id="admin_category_update",
        tags=ADMIN_TAGS,
        summary="Change a category (any subset of its fields, the slug too)",
        description="Recorded as admin_category_updated with old and new values.",
        parameters=[_SLUG],
        request=CategoryUpdateSerializer,
        responses={
            200: OpenApiResponse(CategorySerializer, description="The category, changed."),
            **problem_responses(
                {
                    **_BAD_INPUT,
                    **_ADMIN_ONLY,
                    404: "CATEGORY_NOT_FOUND",
                    409: "CATEGORY_SLUG_TAKEN",
                }
            ),
        },
    )
    def patch(self, request: Request, slug: str) -> Response:
        body = validated(CategoryUpdateSerializer, request.data)
        category = selectors.access_category(slug)
        category = services.do_update_category(
            self.actor(request), category, request=request, changes=body
        )
        return Response(CategorySerializer(category).data)

    @extend_schema(
        operation_id="admin_category_delete",
        tags=ADMIN_TAGS,
        summary="Delete a category that no thread uses",
        description="Deleted threads count too (they may be restored): move them first. "
        "Recorded as admin_category_deleted.",
        parameters=[_SLUG],
        request=None,
        responses={
            204: OpenApiResponse(description="Deleted."),
            **problem_responses(
                {**_ADMIN_ONLY, 404: "CATEGORY_NOT_FOUND", 409: "CATEGORY_HAS_THREADS"}
            ),
        },
    )
    def delete(self, request: Request, slug: str) -> Response:
        category = selectors.access_category(slug)
        services.do_delete_category(self.actor(request), category, request=request)
        return Response(status=204)


# --- threads ---------------------------------------------------------------------------------


class _PerMethodPermissions(APIView):
    """Reads are open to anyone (AllowAny, so the OpenAPI document marks the token optional);
    each writing method names who may call it."""

    authentication_classes = USER_OR_ADMIN_AUTHENTICATION
    method_permissions: dict[str, tuple[type[BasePermission] | Any, ...]] = {}  # noqa: RUF012

    def get_permissions(self) -> list[BasePermission]:
        method = (self.request.method or "GET").upper()
        return [permission() for permission in self.method_permissions.get(method, (AllowAny,))]


class ThreadListView(_PerMethodPermissions):
    method_permissions = {"POST": (IsUser,)}  # noqa: RUF012

    @extend_schema(
        operation_id="threads_list",
        tags=TAGS,
        summary="List or search live threads",
        description="Newest first by default (`sort=oldest` for the reverse), keyset pages "
        "stable under concurrent inserts. With `q`: full-text search over title, summary and "
        "text (ranked: title above summary above text), best match first unless `sort` says "
        "otherwise. Filters combine. Deleted threads are never listed. No token needed.",
        parameters=[ThreadListQuerySerializer],
        responses={
            200: OpenApiResponse(ThreadPageSerializer, description="One page of threads."),
            **problem_responses(
                {
                    **_BAD_QUERY,
                    **_TOKEN_REFUSED,
                    422: "UNPROCESSABLE_CONTENT (limit out of range, unknown sort, relevance "
                    "without q), UNKNOWN_CATEGORY (category) or UNKNOWN_AUTHOR (author).",
                }
            ),
        },
    )
    def get(self, request: Request) -> Response:
        query = validated(ThreadListQuerySerializer, request.query_params)
        category = (
            selectors.category_named_by(query["category"], field="category")
            if query["category"]
            else None
        )
        author = (
            selectors.author_named_by(query["author"], field="author") if query["author"] else None
        )
        threads = selectors.live_threads(category=category, author=author, search=query["q"])
        if query["sort"] == SORT_RELEVANCE:
            page = selectors.search_page(
                threads, search=query["q"], limit=query["limit"], cursor=query.get("cursor")
            )
        else:
            page = selectors.thread_page(
                threads, sort=query["sort"], limit=query["limit"], cursor=query.get("cursor")
            )
        return Response(
            {
                "items": _threads_data(ThreadListItemSerializer, page.items),
                "next_cursor": page.next_cursor,
            }
        )

    @extend_schema(
        operation_id="thread_create",
        tags=TAGS,
        summary="Start a thread",
        description="Verified members only (user token). The summary defaults to the start of "
        "the text.",
        request=ThreadCreateSerializer,
        responses={
            201: OpenApiResponse(ThreadSerializer, description="The new thread."),
            **problem_responses(
                {
                    **_BAD_INPUT,
                    **_USER_ONLY,
                    422: _CONTENT_422,
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        body = validated(ThreadCreateSerializer, request.data)
        author = request.user
        assert isinstance(author, User)  # IsUser let the request in
        thread = services.do_create_thread(
            author,
            category_slug=body["category_slug"],
            title=body["title"],
            summary=body.get("summary", ""),
            content_json=body["content_json"],
        )
        return Response(_thread_data(thread), status=201)


class ThreadDetailView(_PerMethodPermissions):
    method_permissions = {"PATCH": (IsUser,), "DELETE": (IsUser | IsAdmin,)}  # noqa: RUF012

    @extend_schema(
        operation_id="thread_retrieve",
        tags=TAGS,
        summary="One thread with its content",
        description="No token needed. A deleted thread is THREAD_NOT_FOUND to everyone but "
        "admins (admin token), who see it with its deleted_at.",
        parameters=[_THREAD_ID],
        responses={
            200: OpenApiResponse(ThreadSerializer, description="The thread."),
            **problem_responses({**_TOKEN_REFUSED, 404: "THREAD_NOT_FOUND"}),
        },
    )
    def get(self, request: Request, thread_id: int) -> Response:
        return Response(_thread_data(selectors.access_thread(request.user, thread_id)))

    @extend_schema(
        operation_id="thread_update",
        tags=TAGS,
        summary="Edit your thread",
        description="Any of title, summary, content_json. Only the author: anyone else's "
        "thread answers THREAD_NOT_FOUND, never revealing that it exists.",
        parameters=[_THREAD_ID],
        request=ThreadUpdateSerializer,
        responses={
            200: OpenApiResponse(ThreadSerializer, description="The thread, edited."),
            **problem_responses(
                {
                    **_BAD_INPUT,
                    **_USER_ONLY,
                    404: "THREAD_NOT_FOUND: no such live thread of yours.",
                    422: "UNPROCESSABLE_CONTENT (a length rule) or CONTENT_INVALID (the path "
                    "of the first bad node in errors[0].field).",
                }
            ),
        },
    )
    def patch(self, request: Request, thread_id: int) -> Response:
        body = validated(ThreadUpdateSerializer, request.data)
        author = request.user
        assert isinstance(author, User)  # IsUser let the request in
        thread = selectors.access_own_thread(author, thread_id)
        thread = services.do_update_thread(author, thread, **body)
        return Response(_thread_data(thread))

    @extend_schema(
        operation_id="thread_delete",
        tags=TAGS,
        summary="Delete a thread (soft): its author or an admin",
        description="A user token deletes the caller's own live thread (anyone else's is "
        "THREAD_NOT_FOUND); an admin token deletes any thread (recorded as "
        "admin_thread_deleted; again on a deleted one is a no-op). Admins can restore it.",
        parameters=[_THREAD_ID],
        request=None,
        responses={
            204: OpenApiResponse(description="Deleted."),
            **problem_responses(
                {
                    401: "UNAUTHENTICATED (no token), AUTH_TOKEN_INVALID or AUTH_SESSION_REVOKED.",
                    404: "THREAD_NOT_FOUND",
                }
            ),
        },
    )
    def delete(self, request: Request, thread_id: int) -> Response:
        actor = request.user
        if isinstance(actor, User):
            thread = selectors.access_own_thread(actor, thread_id)
        else:
            thread = selectors.access_thread(actor, thread_id)
        services.do_delete_thread(actor, thread, request=request)
        return Response(status=204)


class ThreadAcceptedReplyView(_PerMethodPermissions):
    """The thread's accepted answer: a reply (in the feature service) its author marks."""

    method_permissions = {"PUT": (IsUser,), "DELETE": (IsUser,)}  # noqa: RUF012

    @extend_schema(
        operation_id="thread_accepted_reply_set",
        tags=TAGS,
        summary="Mark a reply of your thread as its answer",
        description="Only the thread's author: anyone else's thread, and a deleted one, is "
        "THREAD_NOT_FOUND. Core asks the feature service first whether the reply exists, is "
        "not deleted and belongs to this thread (else REPLY_NOT_IN_THREAD); when it cannot be "
        "asked, UPSTREAM_UNAVAILABLE with Retry-After and nothing changes. Replaces any "
        "accepted reply; accepting the same one again changes nothing (accepted_at stays). "
        "The answer is cleared by itself when the reply is deleted.",
        parameters=[_THREAD_ID],
        request=AcceptedReplySerializer,
        responses={
            200: OpenApiResponse(
                ThreadSerializer, description="The thread, with accepted_reply_id and accepted_at."
            ),
            **problem_responses(
                {
                    **_BAD_INPUT,
                    **_USER_ONLY,
                    404: "THREAD_NOT_FOUND: no such live thread of yours.",
                    422: "UNPROCESSABLE_CONTENT (reply_id is not `rpl_` + a ULID) or "
                    "REPLY_NOT_IN_THREAD (no live reply of this thread has this id).",
                    503: "UPSTREAM_UNAVAILABLE: the feature service could not vouch for the "
                    "reply; nothing was changed (see Retry-After).",
                }
            ),
        },
    )
    def put(self, request: Request, thread_id: int) -> Response:
        body = validated(AcceptedReplySerializer, request.data)
        author = request.user
        assert isinstance(author, User)  # IsUser let the request in
        # The thread first: a stranger learns nothing, and the feature service is not asked.
        thread = selectors.access_own_thread(author, thread_id)
        thread = services.do_accept_reply(author, thread, reply_id=body["reply_id"])
        return Response(_thread_data(thread))

    @extend_schema(
        operation_id="thread_accepted_reply_clear",
        tags=TAGS,
        summary="Unmark your thread's accepted answer",
        description="Only the thread's author (anyone else's thread is THREAD_NOT_FOUND). "
        "A thread without an accepted reply answers 204 too.",
        parameters=[_THREAD_ID],
        request=None,
        responses={
            204: OpenApiResponse(description="No accepted reply any more."),
            **problem_responses(
                {**_USER_ONLY, 404: "THREAD_NOT_FOUND: no such live thread of yours."}
            ),
        },
    )
    def delete(self, request: Request, thread_id: int) -> Response:
        author = request.user
        assert isinstance(author, User)  # IsUser let the request in
        thread = selectors.access_own_thread(author, thread_id)
        services.do_clear_accepted_reply(author, thread)
        return Response(status=204)


class AdminThreadRestoreView(AdminAPIView):
    @extend_schema(
        operation_id="admin_thread_restore",
        tags=ADMIN_TAGS,
        summary="Restore a deleted thread",
        description="Takes no body (or `{}`). Recorded as admin_thread_restored; restoring a "
        "live thread is a no-op.",
        parameters=[_THREAD_ID],
        request=None,
        responses={
            200: OpenApiResponse(ThreadSerializer, description="The thread, live again."),
            **problem_responses({**_BAD_INPUT, **_ADMIN_ONLY, 404: "THREAD_NOT_FOUND"}),
        },
    )
    def post(self, request: Request, thread_id: int) -> Response:
        actor = self.actor(request)
        EmptyBodySerializer(data=request.data).is_valid(raise_exception=True)
        thread = selectors.access_thread(actor, thread_id)
        thread = services.do_restore_thread(actor, thread, request=request)
        return Response(_thread_data(thread))


class AdminThreadMoveView(AdminAPIView):
    @extend_schema(
        operation_id="admin_thread_move",
        tags=ADMIN_TAGS,
        summary="Move a thread to another category and/or author",
        description="At least one of category_slug and author_id; the reason is recorded with "
        "the change (admin_thread_moved). Works on deleted threads too.",
        parameters=[_THREAD_ID],
        request=ThreadMoveSerializer,
        responses={
            200: OpenApiResponse(ThreadSerializer, description="The thread, moved."),
            **problem_responses(
                {
                    **_BAD_INPUT,
                    **_ADMIN_ONLY,
                    404: "THREAD_NOT_FOUND",
                    422: "UNPROCESSABLE_CONTENT (neither target given, reason empty or too "
                    "long), UNKNOWN_CATEGORY (category_slug) or UNKNOWN_AUTHOR (author_id).",
                }
            ),
        },
    )
    def post(self, request: Request, thread_id: int) -> Response:
        actor = self.actor(request)
        body = validated(ThreadMoveSerializer, request.data)
        thread = selectors.access_thread(actor, thread_id)
        thread = services.do_move_thread(
            actor,
            thread,
            category_slug=body.get("category_slug"),
            author_id=body.get("author_id"),
            reason=body["reason"],
            request=request,
        )
        return Response(_thread_data(thread))
