"""The service's settings: environment variables only (12-factor), validated at start-up.

Every variable is documented once, in README.md. Each field is its variable's name in lower
case; errors are reported under the upper-case name the operator has to fix.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from pymongo.errors import PyMongoError
from pymongo.uri_parser import parse_uri

from alephdraad_contracts import KeyRing

SERVICE_NAME = "feature-service"

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

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        scheme, separator, rest = value.partition("://")
        if scheme not in {"http", "https"} or not separator or not rest.split("/", 1)[0]:
            raise ValueError("must be an absolute http:// or https:// URL")
        # One spelling, so links are built as f"{public_url}/api/v1/…".
        return value.rstrip("/")

    @property
    def mongodb_timeout_seconds(self) -> float:
        return self.mongodb_timeout_ms / 1000

    @property
    def internal_key_ring(self) -> KeyRing:
        """The keys `/internal/v1` accepts (empty when FEATURE_INTERNAL_ACCEPT_KEYS is unset)."""
        return _parse_key_ring(self.feature_internal_accept_keys.get_secret_value())


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


def _describe(error_location: tuple[int | str, ...]) -> str:
    name = str(error_location[0]) if error_location else "environment"
    return name.upper()


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
            problems.append(f"{_describe(error['loc'])}: {message}")
        raise SettingsError(problems) from None
