"""State changes of authentication: sessions and their refresh-token families."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from alephdraad_core.authn.models import Session


def do_revoke_user_sessions(
    user_id: int, *, reason: str, keep_session_id: uuid.UUID | str | None = None
) -> int:
    """Revoke every live session of a user (optionally all but one); return how many.

    One UPDATE, so it is atomic by itself and safe to call inside a caller's transaction. A
    revoked session's refresh tokens stop working and its access tokens are refused by the
    authenticator on their next use.
    """
    live = Session.objects.filter(user_id=user_id, is_revoked=False)
    if keep_session_id is not None:
        live = live.exclude(pk=keep_session_id)
    with transaction.atomic():
        return live.update(is_revoked=True, revoked_at=timezone.now(), revoked_reason=reason)
