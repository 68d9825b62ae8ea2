"""DRF authentication and permission for signed internal calls: a verified RFC 9421 signature
from a caller in settings.INTERNAL_ACCEPT_KEYS, and nothing else (never user or admin tokens)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from django.conf import settings
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from alephdraad_contracts import SignatureRejected, VerifiedCaller, verify_signed_request
from alephdraad_core.internal.errors import SignatureRejectedError
from alephdraad_core.internal.nonces import PostgresNonceStore

CHALLENGE = "Signature"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceCaller:
    """request.user on internal routes: the service that signed the request."""

    name: str
    keyid: str
    is_authenticated: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False


class SignedServiceAuthentication(BaseAuthentication):
    """Every request must be signed; an unsigned one is refused here, not passed on."""

    # The time signatures are judged against; tests replace it rather than freezing time.
    clock: ClassVar[Callable[[], datetime]] = staticmethod(timezone.now)  # type: ignore[assignment]
    nonce_store: ClassVar[PostgresNonceStore] = PostgresNonceStore()

    def authenticate(self, request: Request) -> tuple[ServiceCaller, VerifiedCaller]:
        http_request = request._request
        try:
            verified = verify_signed_request(
                http_request.method or "",
                http_request.get_full_path(),
                http_request.headers,
                # The raw bytes, read before DRF parses the body.
                http_request.body,
                keys=settings.INTERNAL_ACCEPT_KEYS,
                nonce_store=self.nonce_store,
                now=type(self).clock(),
            )
        except SignatureRejected as rejected:
            reason = rejected.reason.value
            logger.warning(
                "internal call rejected: %s",
                reason,
                extra={"reason": reason, "path": http_request.path},
            )
            raise SignatureRejectedError(
                f"The request signature was rejected: {reason}.",
                headers={"WWW-Authenticate": CHALLENGE},
                extensions={"reason": reason},
            ) from None
        return ServiceCaller(name=verified.caller, keyid=verified.keyid), verified

    def authenticate_header(self, request: Request) -> str:
        return CHALLENGE


class IsService(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, ServiceCaller) and isinstance(request.auth, VerifiedCaller)
