"""Test environment, loaded as a plugin (`-p tests.env_defaults` in pyproject.toml).

pytest-django imports the settings while pytest loads its initial conftests, before any
conftest.py runs, so the variables settings require must be in place earlier than a conftest
could put them. DATABASE_URL is never defaulted: tests run against a real PostgreSQL that the
launcher (`make test-core`) or the developer provides.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

TEST_SECRET_KEY = "core-service-tests-only-secret-key-0123456789abcdef"


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    namespace = early_config.known_args_namespace
    if namespace.help or namespace.version:
        return
    if not os.environ.get("DATABASE_URL"):
        raise pytest.UsageError(
            "DATABASE_URL is not set. core-service tests need a real PostgreSQL: run "
            "`make test-core` from the repository root (it starts one), or set "
            "DATABASE_URL=postgresql://… yourself."
        )
    os.environ.setdefault("CORE_SECRET_KEY", TEST_SECRET_KEY)
    if not os.environ.get("CORE_JWT_KEYS_FILE") and not os.environ.get("CORE_JWT_KEYS"):
        # A throwaway signing key set per test run, written by the same code as production's.
        from alephdraad_core.authn.keys import new_key_entry, write_key_file

        key_dir = Path(tempfile.mkdtemp(prefix="core-test-keys-"))
        atexit.register(shutil.rmtree, key_dir, True)
        key_file = key_dir / "jwt.json"
        write_key_file(key_file, [new_key_entry()])
        os.environ["CORE_JWT_KEYS_FILE"] = str(key_file)
