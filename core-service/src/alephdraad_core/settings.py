"""Django settings, derived from the validated environment in config.py (nothing is read here)."""

from __future__ import annotations

from typing import Any

import dj_database_url

from alephdraad_core import __version__
from alephdraad_core.config import CoreConfig, load_config
from alephdraad_core.platform.logging import json_logging_config

CONFIG: CoreConfig = load_config()

SECRET_KEY = CONFIG.secret_key.get_secret_value()
DEBUG = CONFIG.debug
# The gateway is the only way in and forwards whatever Host the client sent; absolute links are
# built from PUBLIC_URL, never from the Host header, so "*" is safe behind it.
ALLOWED_HOSTS = CONFIG.allowed_hosts
PUBLIC_URL = CONFIG.public_url

INSTALLED_APPS = [
    # django.contrib.auth is left out on purpose: the custom user model must exist before
    # auth's first migration runs, and it arrives with the accounts domain.
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "alephdraad_core.platform",
    "alephdraad_core.health",
]

MIDDLEWARE = [
    # First, so every response (errors and static files too) carries the id and gets logged.
    "alephdraad_core.platform.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so its process_exception sees view exceptions before Django's 500 path does.
    "alephdraad_core.platform.middleware.ProblemExceptionMiddleware",
]

ROOT_URLCONF = "alephdraad_core.urls"
WSGI_APPLICATION = "alephdraad_core.wsgi.application"
CSRF_FAILURE_VIEW = "alephdraad_core.platform.problems.csrf_failure"
# A redirect to the slashed URL would turn a POST into a GET and drop its body.
APPEND_SLASH = False

TEMPLATES = [
    {
        # Only the Swagger UI page is rendered from a template.
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": []},
    }
]


def _database(config: CoreConfig) -> dict[str, Any]:
    database = dj_database_url.parse(
        config.database_url.get_secret_value(),
        # Persistent connections are this service's pool: each gunicorn thread keeps one open.
        conn_max_age=config.db_conn_max_age,
        # Re-check a reused connection at the start of a request, so a database restart costs
        # one reconnect instead of one failed request per thread.
        conn_health_checks=True,
    )
    # dj-database-url adds OPTIONS only when the URL has query parameters.
    options: dict[str, Any] = database.setdefault("OPTIONS", {})
    # Without it an unreachable host blocks a request (and /readyz) for the OS TCP timeout.
    options.setdefault("connect_timeout", 5)
    options.setdefault("application_name", "core-service")
    return database


DATABASES = {"default": _database(CONFIG)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
# Messages are English; clients localise by the stable `code` of a problem.
USE_I18N = False
TIME_ZONE = "UTC"
USE_TZ = True

# Static files exist only for the API viewer (Swagger UI assets from drf-spectacular-sidecar).
# The URL sits under /docs/core/ because the gateway forwards that prefix unchanged; whitenoise
# serves straight from the app directories, so no collectstatic step is needed.
STATIC_URL = "/docs/core/static/"
WHITENOISE_USE_FINDERS = True

# Security headers: the gateway sets the public ones. Django's defaults stay (nosniff,
# same-origin referrer and opener policies); HSTS and TLS redirects are the gateway's job, as
# it is the only TLS endpoint, so `check --deploy` warnings about them are silenced.
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS = ["security.W004", "security.W008"]
# Cookies follow the scheme clients actually use, which only PUBLIC_URL knows.
CSRF_COOKIE_SECURE = CONFIG.public_url.startswith("https://")

LOGGING_CONFIG = "logging.config.dictConfig"
LOGGING = json_logging_config(CONFIG.log_level)

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # No authentication yet; the accounts domain adds its token authenticator here. DRF's
    # defaults would import django.contrib.auth, which is not installed.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "UNAUTHENTICATED_TOKEN": None,
    "EXCEPTION_HANDLER": "alephdraad_core.platform.problems.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS: dict[str, Any] = {
    "TITLE": "Alephdraad core-service",
    "DESCRIPTION": (
        "Users, authentication, categories, threads, badges and admins. Errors are RFC 9457 "
        "application/problem+json (see the Problem schema)."
    ),
    "VERSION": __version__,
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Tags and operation ids are derived below this prefix; fixing it keeps them stable as
    # routes are added (drf-spectacular would otherwise guess the common prefix of all paths).
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    # Single-value enums of the probes; named here because drf-spectacular would otherwise name
    # them after colliding field names ("status") with a hash suffix.
    "ENUM_NAME_OVERRIDES": {"OkEnum": ["ok"], "ReadyEnum": ["ready"]},
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
