"""State changes of badges: admins curate the catalogue and award or revoke badges; a user
picks which of their badges is primary.

Every admin action writes its security event inside the action's own transaction, so the
change and its audit record commit together or not at all (as admins/services.py does).

Lock order, the same on every path: badges row, then user_badges rows (in id order).
- An award takes the badge row FOR NO KEY UPDATE, a deletion takes it FOR UPDATE: the two
  conflict, so a badge is never deleted while an award of it is committing (the award then
  finds no badge and answers UNKNOWN_BADGE, or the deletion sees the new holder and answers
  BADGE_HELD). Two awards of one badge to different users serialise on that row briefly.
- Choosing a primary badge locks the user's user_badges rows, so two concurrent choices run
  one after the other and the partial unique index uniq_user_badges_one_primary never fires.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest

from alephdraad_core.accounts.models import User
from alephdraad_core.admins.models import Admin
from alephdraad_core.badges.errors import (
    BadgeAlreadyAwarded,
    BadgeHeld,
    BadgeNameTaken,
    BadgeNotFound,
    BadgeNotHeld,
    UnknownBadge,
    UserBadgeNotFound,
)
from alephdraad_core.badges.models import Badge, UserBadge
from alephdraad_core.security.services import record_security_event

# Fields an admin may set; the same for create and update.
BADGE_FIELDS = ("name", "description", "icon_url", "color", "rarity")
# Name of the unique constraint on (user, badge), as PostgreSQL reports it.
_USER_BADGE_CONSTRAINT = "uniq_user_badges_user_badge"


def _violated_constraint(error: IntegrityError) -> str | None:
    diag = getattr(error.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


def _name_taken(name: str, *, other_than: int | None = None) -> bool:
    badges = Badge.objects.filter(name=name)
    if other_than is not None:
        badges = badges.exclude(pk=other_than)
    return badges.exists()


def _save_checking_name(badge: Badge, **save_kwargs: Any) -> None:
    """Save in a savepoint; a unique violation on the name (a concurrent admin chose it
    first) becomes BadgeNameTaken. Call inside a transaction."""
    try:
        with transaction.atomic():
            badge.save(**save_kwargs)
    except IntegrityError:
        if _name_taken(badge.name, other_than=badge.pk):
            raise BadgeNameTaken() from None
        raise


def do_create_badge(actor: Admin, fields: dict[str, Any], *, request: HttpRequest) -> Badge:
    """Add a badge to the catalogue; record "badge_created". One transaction. The unique index
    on badges.name settles a race between two admins choosing the same name."""
    badge = Badge(**{name: fields[name] for name in BADGE_FIELDS if name in fields})
    with transaction.atomic():
        if _name_taken(badge.name):
            raise BadgeNameTaken()
        _save_checking_name(badge, force_insert=True)
        record_security_event(
            "badge_created",
            request=request,
            admin_id=actor.pk,
            details={"badge_id": badge.pk, "name": badge.name, "rarity": badge.rarity},
        )
    badge.holder_count = 0  # type: ignore[attr-defined]  # a new badge has no holders
    return badge


def do_update_badge(
    actor: Admin, badge: Badge, changes: dict[str, Any], *, request: HttpRequest
) -> Badge:
    """Change some of a badge's fields; record "badge_updated" with the old and new values of
    the fields that actually changed (nothing is written or recorded when none did).

    One transaction with the badge row locked (SELECT … FOR UPDATE), so two concurrent edits
    apply one after the other and each event's "old" values are what it really replaced.
    `badge` may carry `holder_count` (access_badge); it is kept."""
    with transaction.atomic():
        locked = Badge.objects.select_for_update().filter(pk=badge.pk).first()
        if locked is None:
            raise BadgeNotFound(f"There is no badge {badge.pk}.")
        changed = {
            name: {"old": getattr(locked, name), "new": changes[name]}
            for name in BADGE_FIELDS
            if name in changes and changes[name] != getattr(locked, name)
        }
        if changed:
            if "name" in changed and _name_taken(changes["name"], other_than=locked.pk):
                raise BadgeNameTaken()
            for name, values in changed.items():
                setattr(locked, name, values["new"])
            _save_checking_name(locked, update_fields=list(changed))
            record_security_event(
                "badge_updated",
                request=request,
                admin_id=actor.pk,
                details={"badge_id": locked.pk, "changes": changed},
            )
    for name in BADGE_FIELDS:
        setattr(badge, name, getattr(locked, name))
    return badge


def do_delete_badge(actor: Admin, badge: Badge, *, request: HttpRequest) -> None:
    """Remove a badge nobody holds; record "badge_deleted". A badge someone holds is
    BadgeHeld (409): revoke it from each holder first, each with its reason.

    One transaction with the badge row locked FOR UPDATE before the holders are counted, which
    waits for any award of this badge in flight (module docstring)."""
    with transaction.atomic():
        locked = Badge.objects.select_for_update().filter(pk=badge.pk).first()
        if locked is None:
            raise BadgeNotFound(f"There is no badge {badge.pk}.")
        holders = UserBadge.objects.filter(badge_id=locked.pk).count()
        if holders:
            raise BadgeHeld(holders)
        record_security_event(
            "badge_deleted",
            request=request,
            admin_id=actor.pk,
            details={"badge_id": locked.pk, "name": locked.name},
        )
        locked.delete()


def do_award_badge(
    actor: Admin, user: User, *, badge_id: int, reason: str, request: HttpRequest
) -> UserBadge:
    """Give `user` the badge `badge_id`, awarded by `actor`; record "badge_awarded".

    One transaction: the badge row is locked FOR NO KEY UPDATE (an unknown badge is
    UnknownBadge, 422), then the user_badges row is inserted in a savepoint; the unique index
    on (user, badge) turns a second award, concurrent or not, into BadgeAlreadyAwarded."""
    with transaction.atomic():
        badge = Badge.objects.select_for_update(no_key=True).filter(pk=badge_id).first()
        if badge is None:
            raise UnknownBadge()
        held = UserBadge(user=user, badge=badge, awarded_by=actor, reason=reason)
        try:
            with transaction.atomic():
                held.save(force_insert=True)
        except IntegrityError as error:
            if _violated_constraint(error) == _USER_BADGE_CONSTRAINT:
                raise BadgeAlreadyAwarded() from None
            raise
        record_security_event(
            "badge_awarded",
            request=request,
            admin_id=actor.pk,
            user_id=user.pk,
            details={"badge_id": badge.pk, "name": badge.name, "reason": reason},
        )
    return held


def do_revoke_badge(
    actor: Admin, user: User, *, badge_id: int, reason: str, request: HttpRequest
) -> None:
    """Take the badge `badge_id` away from `user`; record "badge_revoked" with the reason (the
    seed has no revocation columns, so the audit log is where revocations are kept). A badge
    the user does not hold, or that does not exist, is UserBadgeNotFound (404). If it was the
    primary badge, the user simply has none afterwards.

    One transaction; the user_badges row is locked (FOR UPDATE) and deleted, so a concurrent
    primary-badge choice either sees it gone or finishes first."""
    with transaction.atomic():
        held = (
            UserBadge.objects.select_for_update(of=("self",))
            .select_related("badge")
            .filter(user_id=user.pk, badge_id=badge_id)
            .first()
        )
        if held is None:
            raise UserBadgeNotFound(f"User {user.pk} does not hold badge {badge_id}.")
        record_security_event(
            "badge_revoked",
            request=request,
            admin_id=actor.pk,
            user_id=user.pk,
            details={
                "badge_id": held.badge_id,
                "name": held.badge.name,
                "reason": reason,
                "was_primary": held.is_primary,
                "awarded_at": held.awarded_at.isoformat(),
            },
        )
        held.delete()


def do_set_primary_badge(user: User, *, badge_id: int | None) -> Badge | None:
    """Make the badge `badge_id` the user's primary badge, or clear it with None; return the
    primary badge afterwards. Only a badge the user holds qualifies: any other id (unknown
    badges included) is BadgeNotHeld (422).

    One transaction that first locks all the user's user_badges rows (SELECT … FOR UPDATE, in
    id order), then clears the old primary before setting the new one. Concurrent calls for
    one user therefore run one after the other, and at no moment do two rows have
    is_primary = true, which the partial unique index uniq_user_badges_one_primary enforces."""
    with transaction.atomic():
        held = list(
            UserBadge.objects.select_for_update(of=("self",))
            .select_related("badge")
            .filter(user_id=user.pk)
            .order_by("id")
        )
        target = None
        if badge_id is not None:
            target = next((row for row in held if row.badge_id == badge_id), None)
            if target is None:
                raise BadgeNotHeld()
        stale = [row.pk for row in held if row.is_primary and row is not target]
        if stale:
            UserBadge.objects.filter(pk__in=stale).update(is_primary=False)
        if target is not None and not target.is_primary:
            UserBadge.objects.filter(pk=target.pk).update(is_primary=True)
    return target.badge if target is not None else None
