"""The service's whole configuration: environment variables only, validated once at start-up.

Every variable is documented in README.md (one row each). Django settings and the gunicorn
config module both read from here, so there is one parser and one set of error messages.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from alephdraad_contracts import CallerKey, KeyRing

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

_POSTGRES_SCHEMES = frozenset({"postgres", "postgresql"})
# The key signs tokens clients hold (password resets, email verification); short keys can be
# brute-forced offline from one signed value.
MIN_SECRET_KEY_LENGTH = 32
# The caller name core signs internal calls with (X-Alephdraad-Caller).
INTERNAL_CALLER = "core-service"


class CoreConfig(BaseSettings):
    """Typed view of the environment. Attribute names are short; aliases are the env names."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", frozen=True)

    database_url: SecretStr = Field(validation_alias="DATABASE_URL")
    secret_key: SecretStr = Field(validation_alias="CORE_SECRET_KEY")
    debug: bool = Field(default=False, validation_alias="CORE_DEBUG")
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default=["*"], validation_alias="CORE_ALLOWED_HOSTS", min_length=1
    )
    db_conn_max_age: int = Field(default=60, ge=0, validation_alias="CORE_DB_CONN_MAX_AGE")
    public_url: str = Field(default="http://127.0.0.1:8080", validation_alias="PUBLIC_URL")
    log_level: LogLevel = Field(default="INFO", validation_alias="LOG_LEVEL")
    host: str = Field(default="127.0.0.1", min_length=1, validation_alias="CORE_HOST")
    port: int = Field(default=8001, ge=1, le=65535, validation_alias="CORE_PORT")
    web_workers: int = Field(default=2, ge=1, validation_alias="CORE_WEB_WORKERS")
    web_threads: int = Field(default=4, ge=1, validation_alias="CORE_WEB_THREADS")
    # Access-token signing keys (authn/keys.py): a key-set file, or the same JSON in a variable
    # (for secret stores that inject environment variables). One of the two is required.
    jwt_keys_file: str | None = Field(default=None, validation_alias="CORE_JWT_KEYS_FILE")
    jwt_keys: SecretStr | None = Field(default=None, validation_alias="CORE_JWT_KEYS")
    jwt_issuer: str = Field(
        default="urn:alephdraad:core", min_length=1, validation_alias="CORE_JWT_ISSUER"
    )
    # The gateway (and only it) may tell us the client's address in X-Real-IP.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default=["127.0.0.1", "::1"], validation_alias="CORE_TRUSTED_PROXIES"
    )
    smtp_url: SecretStr = Field(
        default=SecretStr("smtp://127.0.0.1:25"), validation_alias="SMTP_URL"
    )
    mail_from: str = Field(
        default="Alephdraad <no-reply@alephdraad.local>", min_length=3, validation_alias="MAIL_FROM"
    )
    # WebAuthn relying party. Empty values are derived from PUBLIC_URL (its host is the RP id,
    # its origin the one allowed origin).
    webauthn_rp_id: str = Field(default="", validation_alias="CORE_WEBAUTHN_RP_ID")
    webauthn_rp_name: str = Field(
        default="Alephdraad", min_length=1, validation_alias="CORE_WEBAUTHN_RP_NAME"
    )
    webauthn_origins: Annotated[list[str], NoDecode] = Field(
        default=[], validation_alias="CORE_WEBAUTHN_ORIGINS"
    )
    worker_poll_seconds: float = Field(
        default=1.0, gt=0, le=60, validation_alias="CORE_WORKER_POLL_SECONDS"
    )
    # Keys of the callers whose signed /internal/v1/ requests core accepts (DESIGN section 5):
    # "caller:keyid:hexsecret[,…]". Empty refuses every internal call with 401.
    internal_accept_keys: SecretStr = Field(
        default=SecretStr(""), validation_alias="CORE_INTERNAL_ACCEPT_KEYS"
    )

    # The key core signs its own internal calls with: "core-service:keyid:hexsecret" (one entry;
    # the feature service's FEATURE_INTERNAL_ACCEPT_KEYS must hold it). Empty: core makes no
    # internal calls, so writes that need the feature service answer 503.
    internal_signing_key: SecretStr = Field(
        default=SecretStr(""), validation_alias="CORE_INTERNAL_SIGNING_KEY"
    )
    # Where the feature service's internal listener answers (never the public gateway).
    feature_internal_url: str = Field(
        default="http://127.0.0.1:8002", validation_alias="CORE_FEATURE_INTERNAL_URL"
    )
    # Seconds an internal call may take before core gives up (and fails closed with 503).
    internal_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, validation_alias="CORE_INTERNAL_TIMEOUT_SECONDS"
    )
    # Outbox dispatch: events per batch, and the longest pause between two delivery attempts
    # of one event (the backoff doubles from 1 s up to this).
    outbox_batch_size: int = Field(
        default=50, ge=1, le=1000, validation_alias="CORE_OUTBOX_BATCH_SIZE"
    )
    outbox_max_backoff_seconds: int = Field(
        default=300, ge=1, le=86_400, validation_alias="CORE_OUTBOX_MAX_BACKOFF_SECONDS"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # 12-factor: no .env files, secret dirs or constructor overrides that could make two
        # replicas of the same deployment disagree about their configuration.
        return (env_settings,)

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: SecretStr) -> SecretStr:
        scheme = urlsplit(value.get_secret_value()).scheme
        if scheme not in _POSTGRES_SCHEMES:
            raise ValueError("must be a postgresql:// URL")
        return value

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_KEY_LENGTH} characters long")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: SecretStr) -> SecretStr:
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError("must be an smtp:// or smtps:// URL with a host")
        return value

    @field_validator("internal_accept_keys")
    @classmethod
    def _key_ring(cls, value: SecretStr) -> SecretStr:
        spec = value.get_secret_value().strip()
        if spec:
            try:
                KeyRing.parse(spec)
            except ValueError as error:
                # KeyRing's messages name key ids and callers, never a secret.
                raise ValueError(f"not a key ring: {error}") from None
        return SecretStr(spec)

    @field_validator("internal_signing_key")
    @classmethod
    def _signing_key(cls, value: SecretStr) -> SecretStr:
        spec = value.get_secret_value().strip()
        if spec:
            try:
                ring = KeyRing.parse(spec)
            except ValueError as error:
                raise ValueError(f"not a caller:keyid:hexsecret key: {error}") from None
            callers = [key.caller for key in ring]
            if callers != [INTERNAL_CALLER]:
                raise ValueError(f"must be exactly one key of caller {INTERNAL_CALLER!r}")
        return SecretStr(spec)

    @field_validator("feature_internal_url")
    @classmethod
    def _internal_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError("must be an absolute http:// or https:// URL")
        return value.rstrip("/")

    def internal_signing_caller_key(self) -> CallerKey | None:
        spec = self.internal_signing_key.get_secret_value()
        return next(iter(KeyRing.parse(spec))) if spec else None

    def internal_key_ring(self) -> KeyRing:
        spec = self.internal_accept_keys.get_secret_value()
        return KeyRing.parse(spec) if spec else KeyRing([])

    @model_validator(mode="after")
    def _signing_keys_given(self) -> CoreConfig:
        if self.jwt_keys_file is None and self.jwt_keys is None:
            raise ValueError(
                "CORE_JWT_KEYS_FILE or CORE_JWT_KEYS must be set (a JSON key set; "
                "`manage.py jwt_keys init --file PATH` creates one)"
            )
        return self

    @field_validator("allowed_hosts", "trusted_proxies", "webauthn_origins", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [host.strip() for host in value.split(",") if host.strip()]
        return value

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError("must be an absolute http:// or https:// URL")
        # Links are built as PUBLIC_URL + "/api/v1/…", so a trailing slash would double up.
        return value.rstrip("/")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False):
        variable = ".".join(str(part) for part in item["loc"]) or "environment"
        problems.append(f"{variable}: {item['msg']}")
    return "; ".join(problems)


def load_config() -> CoreConfig:
    """Read and validate the environment; a bad or missing variable raises ImproperlyConfigured."""
    try:
        return CoreConfig()
    except ValidationError as error:
        raise ImproperlyConfigured(
            f"invalid core-service configuration: {_describe(error)}"
        ) from None
