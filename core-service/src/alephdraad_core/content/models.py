"""Categories and threads (seed tables `categories`, `threads`)."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone


class Category(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True, default="")
    color = models.CharField(max_length=7, blank=True, default="")  # "#RRGGBB"
    icon = models.CharField(max_length=64, blank=True, default="")
    order_index = models.IntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "categories"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["order_index", "id"], name="idx_categories_order"),
        ]

    def __str__(self) -> str:
        return self.slug


class Thread(models.Model):
    title = models.CharField(max_length=200)
    summary = models.CharField(max_length=500, blank=True, default="")
    # A ProseMirror/TipTap document, validated against contracts' content-document schema.
    content_json = models.JSONField(default=dict)
    # Plain text derived from content_json on every write (search, summaries, previews).
    content_text = models.TextField(blank=True, default="")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="threads")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="threads"
    )
    is_deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Maintained by the service on write: weighted title (A), summary (B), content (C).
    search_vector = SearchVectorField(null=True, editable=False)
    # The reply (a feature-service id, `rpl_` + ULID) its author marked as the answer, and when.
    # Another database's id, so no foreign key: it is verified through the feature service's
    # lookup before it is stored, cleared when reply.deleted arrives, and checked by
    # `manage.py reconcile` (internal/reconcile.py).
    accepted_reply_id = models.CharField(max_length=30, null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "threads"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["category"], name="idx_threads_category"),
            models.Index(fields=["author"], name="idx_threads_author"),
            models.Index(fields=["-created_at"], name="idx_threads_created"),
            # Keyset pages of live threads, newest first, overall / per category / per author.
            models.Index(
                fields=["-created_at", "-id"],
                name="idx_threads_live_recent",
                condition=models.Q(is_deleted=False),
            ),
            models.Index(
                fields=["category", "-created_at", "-id"],
                name="idx_threads_live_category",
                condition=models.Q(is_deleted=False),
            ),
            models.Index(
                fields=["author", "-created_at", "-id"],
                name="idx_threads_live_author",
                condition=models.Q(is_deleted=False),
            ),
            GinIndex(fields=["search_vector"], name="idx_threads_search"),
            # What `manage.py reconcile` walks: only the answered threads, so it stays small.
            models.Index(
                fields=["id"],
                name="idx_threads_accepted_reply",
                condition=models.Q(accepted_reply_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"Thread {self.pk}: {self.title[:40]}"
