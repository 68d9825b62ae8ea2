"""The forum's backbone through the gateway: categories, badges, threads, search, profiles."""

from __future__ import annotations

import subprocess
import uuid

import httpx

from alephdraad_stack.stack import Stack

from .conftest import REPO_ROOT, assert_problem, log_in, register_verified

ADMIN_PASSWORD = "an admin's long passphrase"


def create_admin(stack: Stack, email: str, username: str) -> None:
    """Operators create admins with the management command, as the README says."""
    core = REPO_ROOT / "core-service"
    result = subprocess.run(
        [
            str(core / ".venv" / "bin" / "python"),
            "manage.py",
            "create_admin",
            "--email",
            email,
            "--username",
            username,
            "--password-stdin",
        ],
        input=ADMIN_PASSWORD + "\n",
        capture_output=True,
        text=True,
        cwd=core,
        env=stack.service_env(),
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_admin_shapes_the_forum_and_a_member_posts_finds_and_deletes_a_thread(
    gateway: httpx.Client, stack: Stack
) -> None:
    suffix = uuid.uuid4().hex[:8]
    admin_email = f"ops.{suffix}@example.test"
    create_admin(stack, admin_email, f"ops_{suffix}")
    admin_login = gateway.post(
        "/api/v1/admin/auth/login", json={"email": admin_email, "password": ADMIN_PASSWORD}
    )
    assert admin_login.status_code == 200, admin_login.text
    admin = {"Authorization": f"Bearer {admin_login.json()['access_token']}"}

    slug = f"gardening-{suffix}"
    category = gateway.post(
        "/api/v1/admin/categories",
        json={"name": "Gardening", "slug": slug, "description": "Plants", "color": "#16a34a"},
        headers=admin,
    )
    assert category.status_code == 201, category.text
    badge = gateway.post(
        "/api/v1/admin/badges",
        json={"name": f"Green thumb {suffix}", "description": "Grew something", "rarity": "rare"},
        headers=admin,
    )
    assert badge.status_code == 201, badge.text
    badge_id = badge.json()["id"]

    username = f"gardener_{suffix}"
    register_verified(gateway, stack, username, "Gardener")
    login = log_in(gateway, username)
    member = {"Authorization": f"Bearer {login['access_token']}"}
    user_id = login["user"]["id"]

    awarded = gateway.post(
        f"/api/v1/admin/users/{user_id}/badges",
        json={"badge_id": badge_id, "reason": "first harvest"},
        headers=admin,
    )
    assert awarded.status_code == 201, awarded.text
    twice = gateway.post(
        f"/api/v1/admin/users/{user_id}/badges",
        json={"badge_id": badge_id, "reason": "again"},
        headers=admin,
    )
    assert_problem(twice, 409, "BADGE_ALREADY_AWARDED")
    primary = gateway.put("/api/v1/me/primary-badge", json={"badge_id": badge_id}, headers=member)
    assert primary.status_code == 200, primary.text

    word = f"tomatoes{suffix}"
    created = gateway.post(
        "/api/v1/threads",
        json={
            "category_slug": slug,
            "title": f"Growing {word} on a balcony",
            "summary": "What worked for me",
            "content_json": {
                "type": "doc",
                "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": "Sun and water."}]}
                ],
            },
        },
        headers=member,
    )
    assert created.status_code == 201, created.text
    thread_id = created.json()["id"]

    found = gateway.get("/api/v1/threads", params={"q": word, "category": slug})
    assert found.status_code == 200, found.text
    assert [item["id"] for item in found.json()["items"]] == [thread_id]
    assert found.json()["items"][0]["author"]["primary_badge"]["id"] == badge_id

    profile = gateway.get(f"/api/v1/users/{username}")
    assert profile.status_code == 200, profile.text
    assert profile.json()["primary_badge"]["id"] == badge_id
    assert profile.json()["thread_count"] == 1
    assert "email" not in profile.json()
    on_profile = gateway.get(f"/api/v1/users/{username}/threads")
    assert [item["id"] for item in on_profile.json()["items"]] == [thread_id]

    deleted = gateway.delete(f"/api/v1/threads/{thread_id}", headers=member)
    assert deleted.status_code == 204, deleted.text
    assert_problem(gateway.get(f"/api/v1/threads/{thread_id}"), 404, "THREAD_NOT_FOUND")
    assert gateway.get("/api/v1/threads", params={"q": word}).json()["items"] == []
    listed = gateway.get("/api/v1/threads", params={"category": slug}).json()["items"]
    assert thread_id not in [item["id"] for item in listed]
    assert gateway.get(f"/api/v1/users/{username}").json()["thread_count"] == 0
    assert gateway.get(f"/api/v1/users/{username}/threads").json()["items"] == []
    # Admins still see it, and can bring it back.
    assert gateway.get(f"/api/v1/threads/{thread_id}", headers=admin).status_code == 200
