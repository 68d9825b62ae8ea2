"""config.py: environment only, typed, and a bad value stops start-up naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from alephdraad_core.config import CoreConfig, load_config

SERVICE_DIR = Path(__file__).resolve().parents[1]
VARIABLES = (
    "DATABASE_URL",
    "CORE_SECRET_KEY",
    "CORE_DEBUG",
    "CORE_ALLOWED_HOSTS",
    "CORE_DB_CONN_MAX_AGE",
    "PUBLIC_URL",
    "LOG_LEVEL",
    "CORE_HOST",
    "CORE_PORT",
    "CORE_WEB_WORKERS",
    "CORE_WEB_THREADS",
)
VALID_SECRET = "s" * 32


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A clean slate with only the two required variables set."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://core:pw@db.internal:5432/core")
    monkeypatch.setenv("CORE_SECRET_KEY", VALID_SECRET)
    return monkeypatch


def test_defaults(environment: pytest.MonkeyPatch) -> None:
    config = load_config()

    assert config.debug is False
    assert config.allowed_hosts == ["*"]
    assert config.db_conn_max_age == 60
    assert config.public_url == "http://127.0.0.1:8080"
    assert config.log_level == "INFO"
    assert (config.host, config.port) == ("127.0.0.1", 8001)
    assert (config.web_workers, config.web_threads) == (2, 4)


def test_values_are_parsed_from_the_environment(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("CORE_DEBUG", "true")
    environment.setenv("CORE_ALLOWED_HOSTS", "core.internal, localhost ,")
    environment.setenv("CORE_DB_CONN_MAX_AGE", "0")
    environment.setenv("PUBLIC_URL", "https://forum.example/")
    environment.setenv("LOG_LEVEL", "debug")

    config = load_config()

    assert config.debug is True
    assert config.allowed_hosts == ["core.internal", "localhost"]
    assert config.db_conn_max_age == 0
    assert config.public_url == "https://forum.example"
    assert config.log_level == "DEBUG"


def test_secrets_stay_out_of_reprs(environment: pytest.MonkeyPatch) -> None:
    shown = repr(load_config())

    assert VALID_SECRET not in shown
    assert "pw@" not in shown


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CORE_DB_CONN_MAX_AGE", "soon", "CORE_DB_CONN_MAX_AGE: Input should be a valid integer"),
        ("CORE_DB_CONN_MAX_AGE", "-1", "CORE_DB_CONN_MAX_AGE: Input should be greater than"),
        (
            "CORE_SECRET_KEY",
            "short",
            "CORE_SECRET_KEY: Value error, must be at least 32 characters",
        ),
        ("DATABASE_URL", "sqlite:///db.sqlite3", "DATABASE_URL: Value error, must be a postgresql"),
        ("CORE_DEBUG", "maybe", "CORE_DEBUG: Input should be a valid boolean"),
        ("CORE_PORT", "70000", "CORE_PORT: Input should be less than or equal to 65535"),
        ("CORE_WEB_WORKERS", "0", "CORE_WEB_WORKERS: Input should be greater than or equal to 1"),
        ("LOG_LEVEL", "chatty", "LOG_LEVEL: Input should be 'DEBUG'"),
        ("PUBLIC_URL", "forum.example", "PUBLIC_URL: Value error, must be an absolute http"),
        ("CORE_ALLOWED_HOSTS", " , ", "CORE_ALLOWED_HOSTS: List should have at least 1 item"),
    ],
)
def test_a_bad_value_names_the_variable(
    environment: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    environment.setenv(variable, value)

    with pytest.raises(ImproperlyConfigured, match="invalid core-service configuration") as raised:
        load_config()

    assert message in str(raised.value)


def test_a_rejected_value_is_not_echoed(environment: pytest.MonkeyPatch) -> None:
    # A rejected DATABASE_URL or CORE_SECRET_KEY still holds a real secret.
    environment.setenv("DATABASE_URL", "mysql://core:hunter2-password@db/core")

    with pytest.raises(ImproperlyConfigured) as raised:
        load_config()

    assert "DATABASE_URL" in str(raised.value)
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize("variable", ["DATABASE_URL", "CORE_SECRET_KEY"])
def test_a_missing_required_variable_is_named(
    environment: pytest.MonkeyPatch, variable: str
) -> None:
    environment.delenv(variable)

    with pytest.raises(ImproperlyConfigured, match=f"{variable}: Field required"):
        load_config()


def test_dotenv_files_are_ignored(environment: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CORE_PORT=9999\n")
    environment.chdir(tmp_path)

    assert CoreConfig().port == 8001


def test_django_refuses_to_start_with_a_bad_variable() -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "alephdraad_core.settings",
        "CORE_DB_CONN_MAX_AGE": "forever",
    }

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=SERVICE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "CORE_DB_CONN_MAX_AGE: Input should be a valid integer" in result.stderr


def test_database_settings_come_from_database_url(settings: object) -> None:
    from django.conf import settings as django_settings

    database = django_settings.DATABASES["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert database["CONN_MAX_AGE"] == 60
    assert database["CONN_HEALTH_CHECKS"] is True
    assert database["OPTIONS"]["connect_timeout"] == 5
