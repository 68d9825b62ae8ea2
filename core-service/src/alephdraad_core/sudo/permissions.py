"""`HasSudo`: a DRF permission for dangerous actions (DESIGN section 4)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from alephdraad_core.authn.authentication import UserAuth
from alephdraad_core.sudo.errors import SudoRequired
from alephdraad_core.sudo.selectors import active_sudo_grant
from alephdraad_core.sudo.services import SUDO_HEADER


class HasSudo(BasePermission):
    """Passes only with a user token AND a live X-Sudo-Token of the same session.

    Put it after IsUser: `permission_classes = (IsUser, HasSudo)`; an anonymous request then
    still gets 401, and a signed-in one without sudo 403 SUDO_REQUIRED.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        auth = request.auth
        if not isinstance(auth, UserAuth):
            return False
        if active_sudo_grant(auth.session, request.headers.get(SUDO_HEADER)) is None:
            raise SudoRequired(
                "Confirm it's you first: POST /api/v1/auth/sudo (or the passkey ceremony) "
                f"and send the token as {SUDO_HEADER}."
            )
        return True
