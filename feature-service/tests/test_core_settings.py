"""Settings of the outbound side: the signing key, core's URL, timeouts, cache and outbox."""

from __future__ import annotations

import pytest
from core_stub import FEATURE_SIGNING_SPEC
from test_settings import environ  # noqa: F401  # the fixture

from alephdraad_feature.settings import SettingsError, load_settings

SECRET_HEX = "ab" * 32


def test_defaults(environ: pytest.MonkeyPatch) -> None:  # noqa: F811
    settings = load_settings()
    assert settings.internal_signing_key is None
    assert settings.feature_core_internal_url == "http://127.0.0.1:8001"
    assert settings.feature_internal_timeout_seconds == 5.0
    assert settings.feature_lookup_cache_seconds == 5.0
    assert settings.feature_lookup_negative_cache_seconds == 1.0
    assert settings.feature_outbox_batch_size == 100
    assert settings.feature_outbox_max_backoff_seconds == 300.0
    assert settings.feature_outbox_lease_seconds == 30.0
    assert settings.feature_dispatcher_poll_seconds == 1.0


def test_values_are_read(environ: pytest.MonkeyPatch) -> None:  # noqa: F811
    environ.setenv("FEATURE_INTERNAL_SIGNING_KEY", FEATURE_SIGNING_SPEC)
    environ.setenv("FEATURE_CORE_INTERNAL_URL", "http://core.internal:8001/")
    environ.setenv("FEATURE_INTERNAL_TIMEOUT_SECONDS", "2.5")
    environ.setenv("FEATURE_LOOKUP_CACHE_SECONDS", "0")
    environ.setenv("FEATURE_LOOKUP_NEGATIVE_CACHE_SECONDS", "2")
    environ.setenv("FEATURE_OUTBOX_BATCH_SIZE", "7")
    environ.setenv("FEATURE_OUTBOX_MAX_BACKOFF_SECONDS", "60")
    environ.setenv("FEATURE_OUTBOX_LEASE_SECONDS", "10")
    environ.setenv("FEATURE_DISPATCHER_POLL_SECONDS", "0.25")
    settings = load_settings()
    key = settings.internal_signing_key
    assert key is not None
    assert key.caller == "feature-service"
    assert key.keyid == FEATURE_SIGNING_SPEC.split(":")[1]
    assert key.secret.hex() == FEATURE_SIGNING_SPEC.split(":")[2]
    # One spelling, so paths are appended as f"{url}/internal/v1/…".
    assert settings.feature_core_internal_url == "http://core.internal:8001"
    assert settings.feature_internal_timeout_seconds == 2.5
    assert settings.feature_lookup_cache_seconds == 0
    assert settings.feature_lookup_negative_cache_seconds == 2
    assert settings.feature_outbox_batch_size == 7
    assert settings.feature_outbox_max_backoff_seconds == 60
    assert settings.feature_outbox_lease_seconds == 10
    assert settings.feature_dispatcher_poll_seconds == 0.25
    # The secret never shows in a repr.
    assert FEATURE_SIGNING_SPEC.split(":")[2] not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "FEATURE_INTERNAL_SIGNING_KEY",
            f"core-service:core-1:{SECRET_HEX}",
            "FEATURE_INTERNAL_SIGNING_KEY: must be a key of caller feature-service",
        ),
        (
            "FEATURE_INTERNAL_SIGNING_KEY",
            f"feature-service:k1:{SECRET_HEX},feature-service:k2:{SECRET_HEX}",
            "FEATURE_INTERNAL_SIGNING_KEY: must be exactly one feature-service:keyid:hexsecret",
        ),
        (
            "FEATURE_INTERNAL_SIGNING_KEY",
            "feature-service:k1:abcd",
            "FEATURE_INTERNAL_SIGNING_KEY: must be caller:keyid:hexsecret",
        ),
        (
            "FEATURE_INTERNAL_SIGNING_KEY",
            f"feature-service:{SECRET_HEX}",
            "FEATURE_INTERNAL_SIGNING_KEY: must be caller:keyid:hexsecret",
        ),
        (
            "FEATURE_CORE_INTERNAL_URL",
            "core:8001",
            "FEATURE_CORE_INTERNAL_URL: must be an absolute http:// or https:// URL",
        ),
        (
            "FEATURE_INTERNAL_TIMEOUT_SECONDS",
            "0",
            "FEATURE_INTERNAL_TIMEOUT_SECONDS: Input should be greater than 0",
        ),
        (
            "FEATURE_LOOKUP_CACHE_SECONDS",
            "-1",
            "FEATURE_LOOKUP_CACHE_SECONDS: Input should be greater than or equal to 0",
        ),
        (
            "FEATURE_LOOKUP_NEGATIVE_CACHE_SECONDS",
            "3",
            "FEATURE_LOOKUP_NEGATIVE_CACHE_SECONDS: Input should be less than or equal to 2",
        ),
        (
            "FEATURE_OUTBOX_BATCH_SIZE",
            "0",
            "FEATURE_OUTBOX_BATCH_SIZE: Input should be greater than or equal to 1",
        ),
        (
            "FEATURE_OUTBOX_MAX_BACKOFF_SECONDS",
            "soon",
            "FEATURE_OUTBOX_MAX_BACKOFF_SECONDS: Input should be a valid number",
        ),
        (
            "FEATURE_DISPATCHER_POLL_SECONDS",
            "0",
            "FEATURE_DISPATCHER_POLL_SECONDS: Input should be greater than or equal to 0.05",
        ),
    ],
)
def test_a_bad_value_names_the_variable_not_the_secret(
    environ: pytest.MonkeyPatch,  # noqa: F811
    name: str,
    value: str,
    message: str,
) -> None:
    environ.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert message in str(raised.value)
    assert len(raised.value.problems) == 1
    assert SECRET_HEX not in str(raised.value)


def test_a_lease_must_outlive_one_call(environ: pytest.MonkeyPatch) -> None:  # noqa: F811
    # Otherwise a second dispatcher could claim an event the first is still sending.
    environ.setenv("FEATURE_INTERNAL_TIMEOUT_SECONDS", "10")
    environ.setenv("FEATURE_OUTBOX_LEASE_SECONDS", "10")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert raised.value.problems == [
        "FEATURE_OUTBOX_LEASE_SECONDS must be greater than FEATURE_INTERNAL_TIMEOUT_SECONDS"
    ]
