"""The ASGI application, `alephdraad_feature.asgi:app`, imported once per worker process."""

from __future__ import annotations

import logging.config

from alephdraad_contracts import logging_config
from alephdraad_feature.app import create_app
from alephdraad_feature.settings import SERVICE_NAME, SettingsError, load_settings

try:
    settings = load_settings()
except SettingsError as exc:
    raise SystemExit(f"{SERVICE_NAME}: {exc}") from None

# serve.py has uvicorn apply the same configuration; doing it here as well keeps the logs JSON
# when another ASGI server imports this module directly.
logging.config.dictConfig(logging_config(SERVICE_NAME, settings.log_level))

app = create_app(settings)
