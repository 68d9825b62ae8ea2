"""Helpers of the test_badges_* and test_profiles_* modules: badges, awards, threads, and JSON
requests with either kind of token."""

from __future__ import annotations

import itertools
import json
import time
from datetime import datetime
from typing import Any

from django.db import connection
from django.http import HttpResponseBase
from django.test import Client

from alephdraad_core.accounts.models import User
from alephdraad_core.admins.models import Admin
from alephdraad_core.badges.models import Badge, UserBadge
from alephdraad_core.content.models import Category, Thread
from tests.admins_helpers import make_session, make_user, user_token

API = "/api/v1"
_numbers = itertools.count(1)


def make_badge(name: str | None = None, **fields: Any) -> Badge:
    return Badge.objects.create(name=name or f"Badge {next(_numbers)}", **fields)


def award(
    user: User,
    badge: Badge,
    *,
    primary: bool = False,
    by: Admin | None = None,
    awarded_at: datetime | None = None,
) -> UserBadge:
    fields: dict[str, Any] = {"is_primary": primary, "awarded_by": by, "reason": "for testing"}
    if awarded_at is not None:
        fields["awarded_at"] = awarded_at
    return UserBadge.objects.create(user=user, badge=badge, **fields)


def signed_in_token(user: User | None = None) -> tuple[User, str]:
    """A user (new unless given) with a live session, and an access token for it."""
    user = user or make_user()
    return user, user_token(user, make_session(user))


def make_category(slug: str | None = None, name: str | None = None) -> Category:
    slug = slug or f"cat-{next(_numbers)}"
    return Category.objects.create(slug=slug, name=name or slug.title())


def make_thread(
    author: User,
    category: Category,
    *,
    title: str | None = None,
    created_at: datetime | None = None,
    deleted: bool = False,
) -> Thread:
    thread = Thread.objects.create(
        title=title or f"Thread {next(_numbers)}",
        summary="A summary",
        content_json={"type": "doc", "content": []},
        category=category,
        author=author,
        is_deleted=deleted,
    )
    if created_at is not None:
        Thread.objects.filter(pk=thread.pk).update(created_at=created_at)
        thread.refresh_from_db()
    return thread


def call(
    client: Client,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    **headers: str,
) -> HttpResponseBase:
    """`method` /api/v1{path} with a JSON body (none when `body` is None) and a bearer token."""
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    if token is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if body is None:
        return client.generic(method, f"{API}{path}", **extra)
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.generic(method, f"{API}{path}", data, content_type="application/json", **extra)


def wait_until_blocked_on_a_lock(timeout: float = 10.0) -> None:
    """Until another backend waits for a lock this connection's open transaction holds."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            # pg_stat_activity is a per-transaction snapshot unless cleared.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid() "
                "AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the other transaction never blocked")
