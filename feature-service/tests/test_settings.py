"""Settings come from the environment only and a bad value stops start-up naming the variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from alephdraad_feature import serve
from alephdraad_feature.settings import Settings, SettingsError, load_settings

VARIABLES = (
    "MONGODB_URL",
    "MONGODB_DATABASE",
    "MONGODB_TIMEOUT_MS",
    "FEATURE_DEBUG",
    "PUBLIC_URL",
    "LOG_LEVEL",
    "FEATURE_HOST",
    "FEATURE_PORT",
    "FEATURE_WEB_WORKERS",
    "FEATURE_INTERNAL_ACCEPT_KEYS",
    "FEATURE_INTERNAL_SIGNING_KEY",
    "FEATURE_CORE_INTERNAL_URL",
    "FEATURE_INTERNAL_TIMEOUT_SECONDS",
    "FEATURE_LOOKUP_CACHE_SECONDS",
    "FEATURE_LOOKUP_NEGATIVE_CACHE_SECONDS",
    "FEATURE_OUTBOX_BATCH_SIZE",
    "FEATURE_OUTBOX_MAX_BACKOFF_SECONDS",
    "FEATURE_OUTBOX_LEASE_SECONDS",
    "FEATURE_DISPATCHER_POLL_SECONDS",
)
URL = "mongodb://127.0.0.1:27017/?directConnection=true"


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment with only MONGODB_URL among our variables."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MONGODB_URL", URL)
    return monkeypatch


def test_defaults(environ: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.mongodb_url.get_secret_value() == URL
    assert settings.mongodb_database == "alephdraad_features"
    assert settings.mongodb_timeout_ms == 5000
    assert settings.feature_debug is False
    assert settings.public_url == "http://127.0.0.1:8080"
    assert settings.log_level == "INFO"
    assert settings.feature_host == "127.0.0.1"
    assert settings.feature_port == 8002
    assert settings.feature_web_workers == 2


def test_values_are_read_and_normalised(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("FEATURE_DEBUG", "true")
    environ.setenv("LOG_LEVEL", "debug")
    environ.setenv("PUBLIC_URL", "https://forum.example/")
    environ.setenv("FEATURE_WEB_WORKERS", "4")
    environ.setenv("MONGODB_TIMEOUT_MS", "250")
    settings = load_settings()
    assert settings.feature_debug is True
    assert settings.log_level == "DEBUG"
    assert settings.public_url == "https://forum.example"
    assert settings.feature_web_workers == 4
    assert settings.mongodb_timeout_seconds == 0.25


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FEATURE_WEB_WORKERS", "abc", "FEATURE_WEB_WORKERS: Input should be a valid integer"),
        ("FEATURE_WEB_WORKERS", "0", "FEATURE_WEB_WORKERS: Input should be greater than or equal"),
        ("FEATURE_PORT", "70000", "FEATURE_PORT: Input should be less than or equal to 65535"),
        ("FEATURE_DEBUG", "maybe", "FEATURE_DEBUG: Input should be a valid boolean"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL: Input should be 'DEBUG'"),
        ("MONGODB_TIMEOUT_MS", "-1", "MONGODB_TIMEOUT_MS: Input should be greater than or equal"),
        ("MONGODB_DATABASE", "a/b", "MONGODB_DATABASE: must be a non-empty MongoDB database name"),
        ("PUBLIC_URL", "forum.example", "PUBLIC_URL: must be an absolute http:// or https:// URL"),
        ("MONGODB_URL", "postgres://u:pw@db/x", "MONGODB_URL: must be a mongodb://"),
        ("MONGODB_URL", "mongodb://u:pw@h:notaport/", "MONGODB_URL: is not a valid MongoDB"),
    ],
)
def test_a_bad_value_names_the_variable(
    environ: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    environ.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert message in str(raised.value)
    # Only the variable at fault is reported, and no value is echoed (URLs carry passwords).
    assert len(raised.value.problems) == 1
    assert value not in str(raised.value)


def test_a_missing_url_names_the_variable(environ: pytest.MonkeyPatch) -> None:
    environ.delenv("MONGODB_URL")
    with pytest.raises(SettingsError, match="MONGODB_URL: is required but not set"):
        load_settings()


def test_the_url_stays_out_of_reprs() -> None:
    settings = Settings(mongodb_url="mongodb://user:hunter2@db.example/")
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings)


def test_serve_stops_before_uvicorn_on_bad_settings(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("FEATURE_WEB_WORKERS", "abc")
    with pytest.raises(SystemExit) as raised:
        serve.main()
    assert str(raised.value).startswith("feature-service: invalid configuration: ")
    assert "FEATURE_WEB_WORKERS: Input should be a valid integer" in str(raised.value)


def test_the_process_exits_non_zero_naming_the_variable(environ: pytest.MonkeyPatch) -> None:
    environ.delenv("MONGODB_URL")
    result = subprocess.run(
        [sys.executable, "-m", "alephdraad_feature.serve"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "MONGODB_URL: is required but not set" in result.stderr
    assert "Traceback" not in result.stderr
