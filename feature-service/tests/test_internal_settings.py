"""FEATURE_INTERNAL_ACCEPT_KEYS: the keys /internal/v1 accepts."""

from __future__ import annotations

import pytest
from internal_support import ACCEPT_KEYS, CORE_KEYID
from test_settings import environ  # noqa: F401  # the fixture

from alephdraad_feature.settings import SettingsError, load_settings


def test_unset_means_no_key_is_accepted(environ: pytest.MonkeyPatch) -> None:  # noqa: F811
    assert len(load_settings().internal_key_ring) == 0


def test_keys_are_parsed_and_kept_out_of_reprs(environ: pytest.MonkeyPatch) -> None:  # noqa: F811
    second = f"core-service:core-test-02:{'ab' * 32}"
    environ.setenv("FEATURE_INTERNAL_ACCEPT_KEYS", f"{ACCEPT_KEYS}, {second}")
    settings = load_settings()
    ring = settings.internal_key_ring
    assert [key.keyid for key in ring] == [CORE_KEYID, "core-test-02"]
    assert all(key.caller == "core-service" for key in ring)
    assert "ab" * 32 not in repr(settings)


@pytest.mark.parametrize(
    "spec",
    [
        "core-service:core-test-01",
        f"core-service:core-test-01:{'zz' * 32}",
        "core-service:core-test-01:abcd",
        f"Core Service:core-test-01:{'ab' * 32}",
        f"core-service:k1:{'ab' * 32},core-service:k1:{'cd' * 32}",
    ],
)
def test_a_malformed_spec_names_the_variable_not_the_secret(
    environ: pytest.MonkeyPatch,  # noqa: F811
    spec: str,
) -> None:
    environ.setenv("FEATURE_INTERNAL_ACCEPT_KEYS", spec)
    with pytest.raises(SettingsError, match="FEATURE_INTERNAL_ACCEPT_KEYS: must be") as raised:
        load_settings()
    assert "zz" * 32 not in str(raised.value)
