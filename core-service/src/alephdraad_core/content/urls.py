"""Content routes: `urlpatterns` at api/v1/, `admin_urlpatterns` at api/v1/admin/ (root urls.py)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from alephdraad_core.content.api import (
    AdminCategoryCreateView,
    AdminCategoryDetailView,
    AdminThreadMoveView,
    AdminThreadRestoreView,
    CategoryDetailView,
    CategoryListView,
    ThreadAcceptedReplyView,
    ThreadDetailView,
    ThreadListView,
)

urlpatterns: list[URLPattern | URLResolver] = [
    path("categories", CategoryListView.as_view(), name="categories"),
    path("categories/<slug:slug>", CategoryDetailView.as_view(), name="category"),
    path("threads", ThreadListView.as_view(), name="threads"),
    path("threads/<int:thread_id>", ThreadDetailView.as_view(), name="thread"),
    path(
        "threads/<int:thread_id>/accepted-reply",
        ThreadAcceptedReplyView.as_view(),
        name="thread-accepted-reply",
    ),
]

admin_urlpatterns: list[URLPattern | URLResolver] = [
    path("categories", AdminCategoryCreateView.as_view(), name="admin-categories"),
    path("categories/<slug:slug>", AdminCategoryDetailView.as_view(), name="admin-category"),
    path(
        "threads/<int:thread_id>/restore",
        AdminThreadRestoreView.as_view(),
        name="admin-thread-restore",
    ),
    path("threads/<int:thread_id>/move", AdminThreadMoveView.as_view(), name="admin-thread-move"),
]
