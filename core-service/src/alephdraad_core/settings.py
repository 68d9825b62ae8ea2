"""Django settings, derived from the validated environment in config.py (nothing is read here)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

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
    "django.contrib.contenttypes",
    # For the password hashers and validators and AbstractBaseUser; its Permission tables are
    # unused (admins are their own table, DESIGN section 4).
    "django.contrib.auth",
    "django.contrib.staticfiles",
    # Index operator classes (OpClass) for the users prefix-search indexes.
    "django.contrib.postgres",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "alephdraad_core.platform",
    "alephdraad_core.health",
    "alephdraad_core.accounts",
    "alephdraad_core.authn",
    "alephdraad_core.security",
    "alephdraad_core.mail",
    "alephdraad_core.admins",
    "alephdraad_core.sudo",
    "alephdraad_core.content",
    "alephdraad_core.badges",
    "alephdraad_core.mfa",
    "alephdraad_core.passkeys",
    "alephdraad_core.internal",
    "alephdraad_core.outbox",
]

AUTH_USER_MODEL = "accounts.User"
# Argon2id (OWASP ASVS 5.0 V11.4.2); the others only verify hashes made by older settings.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# ASVS V6.2: length, not composition. The maximum is enforced by the serializers (128).
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "username", "full_name")},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
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

# JSON bodies of this API are small (a thread's content is at most 64 KB); anything above
# 256 KiB is refused with 413 PAYLOAD_TOO_LARGE before it is parsed (a megabyte "password"
# never reaches a serializer).
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024

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
# auth.E003 wants USERNAME_FIELD declared unique=True; users.email is unique through the
# case-insensitive functional index idx_users_email instead (one index, not two).
SILENCED_SYSTEM_CHECKS = ["security.W004", "security.W008", "auth.E003"]
# Cookies follow the scheme clients actually use, which only PUBLIC_URL knows.
CSRF_COOKIE_SECURE = CONFIG.public_url.startswith("https://")

LOGGING_CONFIG = "logging.config.dictConfig"
LOGGING = json_logging_config(CONFIG.log_level)

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # User access tokens everywhere; admin views name AdminTokenAuthentication instead, so an
    # admin token is never a user token and the reverse (DESIGN section 4).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "alephdraad_core.authn.authentication.UserTokenAuthentication"
    ],
    "DEFAULT_PERMISSION_CLASSES": ["alephdraad_core.authn.permissions.IsUser"],
    "UNAUTHENTICATED_USER": None,
    "UNAUTHENTICATED_TOKEN": None,
    "EXCEPTION_HANDLER": "alephdraad_core.platform.problems.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

JWT_ISSUER = CONFIG.jwt_issuer
JWT_KEYS_FILE = CONFIG.jwt_keys_file
JWT_KEYS = CONFIG.jwt_keys.get_secret_value() if CONFIG.jwt_keys else None
TRUSTED_PROXIES = frozenset(CONFIG.trusted_proxies)
SMTP_URL = CONFIG.smtp_url.get_secret_value()
MAIL_FROM = CONFIG.mail_from
WORKER_POLL_SECONDS = CONFIG.worker_poll_seconds
# The callers (and their keys) whose signed /internal/v1/ requests are accepted.
INTERNAL_ACCEPT_KEYS = CONFIG.internal_key_ring()
INTERNAL_SIGNING_KEY = CONFIG.internal_signing_caller_key()
FEATURE_INTERNAL_URL = CONFIG.feature_internal_url
INTERNAL_TIMEOUT_SECONDS = CONFIG.internal_timeout_seconds
OUTBOX_BATCH_SIZE = CONFIG.outbox_batch_size
OUTBOX_MAX_BACKOFF_SECONDS = CONFIG.outbox_max_backoff_seconds

_public = urlsplit(CONFIG.public_url)
WEBAUTHN_RP_ID = CONFIG.webauthn_rp_id or (_public.hostname or "localhost")
WEBAUTHN_RP_NAME = CONFIG.webauthn_rp_name
WEBAUTHN_ORIGINS = tuple(CONFIG.webauthn_origins) or (f"{_public.scheme}://{_public.netloc}",)
# django-otp: TOTP codes are SHA-1, 6 digits, 30 s (what every authenticator app supports).
OTP_TOTP_ISSUER = "Alephdraad"

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
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "alephdraad_core.platform.schemas.add_rule_violation_responses",
    ],
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "userToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "adminToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        }
    },
}
