"""The gunicorn config module reads the same environment through config.py."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from types import ModuleType

import pytest

MODULE = "alephdraad_core.gunicorn_conf"


def _fresh_import() -> ModuleType:
    sys.modules.pop(MODULE, None)
    return importlib.import_module(MODULE)


@pytest.fixture(autouse=True)
def _forget_module() -> object:
    yield
    sys.modules.pop(MODULE, None)


def test_bind_and_workers_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORE_PORT", "9123")
    monkeypatch.setenv("CORE_WEB_WORKERS", "3")
    monkeypatch.delenv("CORE_HOST", raising=False)
    monkeypatch.delenv("CORE_WEB_THREADS", raising=False)

    conf = _fresh_import()

    assert conf.bind == "127.0.0.1:9123"
    assert conf.workers == 3
    assert conf.threads == 4
    assert conf.worker_class == "gthread"
    assert conf.accesslog is None
    assert conf.timeout == 30
    assert conf.graceful_timeout < conf.timeout
    assert conf.wsgi_app == "alephdraad_core.wsgi:application"


def test_ipv6_host_is_bracketed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORE_HOST", "::")
    monkeypatch.setenv("CORE_PORT", "8001")

    assert _fresh_import().bind == "[::]:8001"


# gunicorn applies logconfig_dict like this (gunicorn.glogging.Logger.setup); run in a child
# process so this test run's own logging stays as settings.LOGGING made it.
_APPLY_AS_GUNICORN_DOES = """
import logging, logging.config
from gunicorn.glogging import CONFIG_DEFAULTS
from alephdraad_core.gunicorn_conf import logconfig_dict
config = CONFIG_DEFAULTS.copy()
config.update(logconfig_dict)
logging.config.dictConfig(config)
logging.getLogger("gunicorn.error").info("Booting worker")
logging.getLogger("gunicorn.access").info("GET / 200")
"""


def test_gunicorn_log_lines_are_json_and_access_lines_are_dropped() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _APPLY_AS_GUNICORN_DOES],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(line["logger"], line["message"]) for line in lines] == [
        ("gunicorn.error", "Booting worker")
    ]
    assert lines[0]["service"] == "core-service"
    assert result.stdout == ""
