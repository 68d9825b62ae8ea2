"""The service's settings: environment variables only (12-factor), validated at start-up.

Every variable is documented once, in README.md. Each field is its variable's name in lower
case; errors are reported under the upper-case name the operator has to fix.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from pymongo.errors import PyMongoError
from pymongo.uri_parser import parse_uri

from alephdraad_contracts import CallerKey, KeyRing

SERVICE_NAME = "feature-service"
# The caller name this service signs its internal calls with (X-Alephdraad-Caller).
SIGNING_CALLER = "feature-service"

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

# Characters MongoDB refuses in a database name (plus the empty name).
_FORBIDDEN_DATABASE_CHARS = frozenset('/\\. "$\x00')


class SettingsError(Exception):
    """The environment does not describe a runnable service; the message names each variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration: " + "; ".join(problems))


class Settings(BaseSettings):
    """Typed view of the environment. Build it with `load_settings()`."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    # A SecretStr, because production URLs carry credentials and settings objects end up in
    # reprs, tracebacks and debuggers.
    mongodb_url: SecretStr
    mongodb_database: str = "alephdraad_features"
    mongodb_timeout_ms: int = Field(default=5000, ge=50, le=120_000)
    feature_debug: bool = False
    public_url: str = "http://127.0.0.1:8080"
    log_level: LogLevel = "INFO"
    feature_host: str = Field(default="127.0.0.1", min_length=1)
    feature_port: int = Field(default=8002, ge=1, le=65535)
    feature_web_workers: int = Field(default=2, ge=1, le=64)
    # Keys of the callers allowed on /internal/v1 (DESIGN section 5), as
    # "caller:keyid:hexsecret,…". Empty: every internal call is refused.
    feature_internal_accept_keys: SecretStr = SecretStr("")
    # The one key this service signs its own internal calls to core with, as
    # "feature-service:keyid:hexsecret". Empty: no outbound call is made, so every write that
    # needs core's answer fails closed (503) and the outbox waits.
    feature_internal_signing_key: SecretStr = SecretStr("")
    # core-service's internal listener, reached directly (never through the gateway).
    feature_core_internal_url: str = "http://127.0.0.1:8001"
    # Core's public signing keys (DESIGN section 4); empty: core's /.well-known/jwks.json at
    # FEATURE_CORE_INTERNAL_URL. The issuer must be core's CORE_JWT_ISSUER.
    feature_jwks_url: str = ""
    feature_jwt_issuer: str = Field(default="urn:alephdraad:core", min_length=1)
    feature_internal_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # How long a lookup answer of core is reused. Each process keeps its own cache and only
    # the process that receives an event drops its entries, so these stay short (seconds).
    feature_lookup_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    # A "does not exist" answer is kept even shorter: a user who just registered or a thread
    # just created must be usable at once from every replica.
    feature_lookup_negative_cache_seconds: float = Field(default=1.0, ge=0, le=2)
    feature_outbox_batch_size: int = Field(default=100, ge=1, le=1000)
    feature_outbox_max_backoff_seconds: float = Field(default=300.0, ge=1, le=86_400)
    feature_outbox_lease_seconds: float = Field(default=30.0, ge=1, le=3600)
    feature_dispatcher_poll_seconds: float = Field(default=1.0, ge=0.05, le=300)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only the process environment (and explicit arguments): no .env or secrets files that
        # would make a container behave differently from what its manifest says.
        return init_settings, env_settings

    @field_validator("mongodb_url", mode="before")
    @classmethod
    def _check_mongodb_url(cls, value: object) -> object:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(raw, str):
            return value
        if raw.startswith("mongodb+srv://"):
            # Parsing an SRV URI resolves DNS; leave that to the driver at connect time.
            return value
        if not raw.startswith("mongodb://"):
            raise ValueError("must be a mongodb:// or mongodb+srv:// URL")
        try:
            parse_uri(raw)
        except (PyMongoError, ValueError) as exc:
            # The driver's message can quote the URL, credentials included: keep only its kind.
            raise ValueError(
                f"is not a valid MongoDB connection string ({type(exc).__name__})"
            ) from None
        return value

    @field_validator("mongodb_database")
    @classmethod
    def _check_database_name(cls, value: str) -> str:
        if not value or any(char in _FORBIDDEN_DATABASE_CHARS for char in value):
            raise ValueError('must be a non-empty MongoDB database name without /\\. "$')
        if len(value.encode()) > 63:
            raise ValueError("must be at most 63 bytes long")
        return value

    @field_validator("feature_internal_accept_keys")
    @classmethod
    def _check_internal_accept_keys(cls, value: SecretStr) -> SecretStr:
        _parse_key_ring(value.get_secret_value())
        return value

    @field_validator("feature_internal_signing_key")
    @classmethod
    def _check_internal_signing_key(cls, value: SecretStr) -> SecretStr:
        _parse_signing_key(value.get_secret_value())
        return value

    @field_validator("feature_core_internal_url")
    @classmethod
    def _check_core_internal_url(cls, value: str) -> str:
        return _check_http_url(value)

    @model_validator(mode="after")
    def _check_lease_outlives_a_call(self) -> Self:
        # A lease shorter than one delivery attempt would let a second dispatcher claim an
        # event while the first is still sending it: a double delivery on every slow call.
        if self.feature_outbox_lease_seconds <= self.feature_internal_timeout_seconds:
            raise ValueError(
                "FEATURE_OUTBOX_LEASE_SECONDS must be greater than FEATURE_INTERNAL_TIMEOUT_SECONDS"
            )
        return self

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        # One spelling, so links are built as f"{public_url}/api/v1/…".
        return _check_http_url(value)

    @field_validator("feature_jwks_url")
    @classmethod
    def _check_jwks_url(cls, value: str) -> str:
        if value:
            scheme, separator, rest = value.partition("://")
            if scheme not in {"http", "https"} or not separator or not rest.split("/", 1)[0]:
                raise ValueError("must be an absolute http:// or https:// URL")
        return value

    @property
    def jwks_url(self) -> str:
        return self.feature_jwks_url or f"{self.feature_core_internal_url}/.well-known/jwks.json"

    @property
    def mongodb_timeout_seconds(self) -> float:
        return self.mongodb_timeout_ms / 1000

    @property
    def internal_key_ring(self) -> KeyRing:
        """The keys `/internal/v1` accepts (empty when FEATURE_INTERNAL_ACCEPT_KEYS is unset)."""
        return _parse_key_ring(self.feature_internal_accept_keys.get_secret_value())

    @property
    def internal_signing_key(self) -> CallerKey | None:
        """The key outbound calls to core are signed with; None when none is configured."""
        return _parse_signing_key(self.feature_internal_signing_key.get_secret_value())


def _check_http_url(value: str) -> str:
    scheme, separator, rest = value.partition("://")
    if scheme not in {"http", "https"} or not separator or not rest.split("/", 1)[0]:
        raise ValueError("must be an absolute http:// or https:// URL")
    return value.rstrip("/")


def _parse_key_ring(spec: str) -> KeyRing:
    if not spec.strip():
        return KeyRing([])
    try:
        return KeyRing.parse(spec)
    except ValueError as exc:
        # KeyRing's messages name key ids and callers, never a secret.
        raise ValueError(
            f"must be caller:keyid:hexsecret entries separated by commas ({exc})"
        ) from None


def _parse_signing_key(spec: str) -> CallerKey | None:
    if not spec.strip():
        return None
    ring = _parse_key_ring(spec)
    keys = list(ring)
    if len(keys) != 1:
        raise ValueError(f"must be exactly one {SIGNING_CALLER}:keyid:hexsecret key")
    if keys[0].caller != SIGNING_CALLER:
        raise ValueError(f"must be a key of caller {SIGNING_CALLER}, not {keys[0].caller!r}")
    return keys[0]


def _describe(error_location: tuple[int | str, ...], message: str) -> str:
    if not error_location:
        # A check across several variables: its message names them itself.
        return message
    return f"{str(error_location[0]).upper()}: {message}"


def load_settings() -> Settings:
    """Read and validate the environment; raise `SettingsError` naming each bad variable."""
    try:
        return Settings()  # type: ignore[call-arg]  # pydantic-settings fills fields from env
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            if error["type"] == "missing":
                message = "is required but not set"
            elif error["type"] == "value_error":
                # Our own validators' text, without pydantic's "Value error, " prefix.
                message = str(error.get("ctx", {}).get("error", error["msg"]))
            else:
                message = error["msg"]
            problems.append(_describe(error["loc"], message))
        raise SettingsError(problems) from None
