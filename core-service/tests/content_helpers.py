"""Helpers of the test_content_* modules: members with tokens, admins, documents, threads."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from typing import Any

from django.http import HttpResponseBase
from django.test import Client
from django.utils import timezone

from alephdraad_core.accounts.models import User
from alephdraad_core.authn.models import Session
from alephdraad_core.authn.tokens import issue_user_token
from alephdraad_core.content.models import Category, Thread
from alephdraad_core.content.services import do_create_thread
from tests.admins_helpers import admin_token, make_admin

API = "/api/v1"
__all__ = ["admin_token", "make_admin"]

_numbers = itertools.count(1)


def make_member(username: str | None = None, *, verified: bool = True, **fields: Any) -> User:
    """A user without a usable password (these tests never log in through the API)."""
    name = username or f"member_{next(_numbers)}"
    return User.objects.create_user(
        email=f"{name}@example.com", username=name, password=None, is_verified=verified, **fields
    )


def user_token(user: User) -> str:
    """An access token of a live session of `user`, as login would issue it."""
    session = Session.objects.create(
        user=user,
        ip_address="203.0.113.9",
        user_agent="pytest",
        amr=["pwd"],
        expires_at=timezone.now() + timedelta(days=7),
    )
    return issue_user_token(
        user_id=user.pk, username=user.username, session_id=str(session.pk), amr=["pwd"], mfa=False
    ).token


# --- documents -------------------------------------------------------------------------------


def text(value: str, *marks: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": value}
    if marks:
        node["marks"] = list(marks)
    return node


def paragraph(*inlines: dict[str, Any] | str) -> dict[str, Any]:
    content = [text(item) if isinstance(item, str) else item for item in inlines]
    return {"type": "paragraph", "content": content} if content else {"type": "paragraph"}


def link(href: str) -> dict[str, Any]:
    return {"type": "link", "attrs": {"href": href, "target": "_blank", "rel": "noopener"}}


def doc(*blocks: dict[str, Any] | str) -> dict[str, Any]:
    """A document; plain strings become paragraphs."""
    return {
        "type": "doc",
        "content": [paragraph(block) if isinstance(block, str) else block for block in blocks],
    }


# --- threads ---------------------------------------------------------------------------------


def category(slug: str = "general") -> Category:
    return Category.objects.get(slug=slug)


def make_thread(
    author: User,
    *,
    title: str = "A thread about something",
    body: str = "Some words in the body.",
    summary: str = "",
    category_slug: str = "general",
    created_at: datetime | None = None,
    deleted: bool = False,
) -> Thread:
    """A thread written through the service (so its plain text and search vector are real)."""
    thread = do_create_thread(
        author, category_slug=category_slug, title=title, summary=summary, content_json=doc(body)
    )
    updates: dict[str, Any] = {}
    if created_at is not None:
        updates["created_at"] = created_at
    if deleted:
        updates.update(is_deleted=True, deleted_at=timezone.now())
    if updates:
        Thread.objects.filter(pk=thread.pk).update(**updates)
        thread.refresh_from_db()
    return thread


# --- HTTP ------------------------------------------------------------------------------------


def _auth(token: str | None) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}


def get(client: Client, path: str, *, token: str | None = None, **params: Any) -> HttpResponseBase:
    return client.get(f"{API}{path}", params, **_auth(token))


def send(
    client: Client, method: str, path: str, body: Any = None, *, token: str | None = None
) -> HttpResponseBase:
    """POST/PATCH/DELETE a JSON body (none when `body` is None)."""
    if body is None:
        return client.generic(method, f"{API}{path}", **_auth(token))
    return client.generic(
        method,
        f"{API}{path}",
        json.dumps(body),
        content_type="application/json",
        **_auth(token),
    )


def body_of(response: HttpResponseBase) -> Any:
    return json.loads(response.content)
