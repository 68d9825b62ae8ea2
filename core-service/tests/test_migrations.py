"""manage.py migrate builds the schema from nothing, and models match their migrations."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from psycopg import sql

SERVICE_DIR = Path(__file__).resolve().parents[1]


def _manage(*args: str, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=SERVICE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _admin_connection() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, connect_timeout=5)


@pytest.fixture
def empty_database_url(django_db_blocker: object) -> Iterator[str]:
    """DATABASE_URL of a freshly created, empty database on the same server."""
    name = f"core_migrate_{uuid.uuid4().hex[:12]}"
    with _admin_connection() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = os.environ["DATABASE_URL"]
    scheme, _, rest = base.partition("://")
    authority, _, path_and_query = rest.partition("/")
    _, _, query = path_and_query.partition("?")
    try:
        yield f"{scheme}://{authority}/{name}" + (f"?{query}" if query else "")
    finally:
        with _admin_connection() as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def test_migrate_builds_an_empty_database(empty_database_url: str) -> None:
    result = _manage("migrate", "--noinput", database_url=empty_database_url)

    assert result.returncode == 0, result.stderr
    assert "Applying contenttypes.0001_initial... OK" in result.stdout
    check = _manage("migrate", "--check", database_url=empty_database_url)
    assert check.returncode == 0, check.stdout + check.stderr
    with psycopg.connect(empty_database_url, connect_timeout=5) as conn:
        tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables")}
    assert {"django_content_type", "django_migrations"} <= tables


@pytest.mark.django_db
def test_models_have_no_missing_migrations() -> None:
    out = io.StringIO()

    # Exits with status 1 (SystemExit) when a model change has no migration.
    call_command("makemigrations", "--check", "--dry-run", stdout=out)

    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
def test_test_database_is_postgresql() -> None:
    # Guards the promise that tests never fall back to another engine.
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        (version,) = cursor.fetchone()
    assert int(version) >= 140000
