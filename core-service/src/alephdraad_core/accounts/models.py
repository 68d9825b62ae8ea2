"""Users and the single-use tokens mailed to them (seed tables `users`,
`email_verification_tokens`, `password_reset_tokens`)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.postgres.indexes import OpClass
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, username: str, password: str | None, **fields: Any) -> User:
        user = self.model(email=normalize_email(email), username=username, **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user


def normalize_email(email: str) -> str:
    """Trimmed and lower-cased as a whole: one mailbox, one account, however it is typed."""
    return email.strip().lower()


class User(AbstractBaseUser):
    """A forum member. The password column keeps the seed's name, `password_hash`."""

    email = models.EmailField(max_length=254)
    username = models.CharField(max_length=30)
    full_name = models.CharField(max_length=100, blank=True, default="")
    password = models.CharField(max_length=255, db_column="password_hash")
    avatar_url = models.URLField(max_length=2048, null=True, blank=True)
    is_verified = models.BooleanField(default=False)
    is_locked = models.BooleanField(default=False)
    # Why and until when an admin locked the account (null until = until unlocked).
    locked_reason = models.CharField(max_length=500, blank=True, default="")
    locked_until = models.DateTimeField(null=True, blank=True)
    totp_enabled = models.BooleanField(default=False)
    totp_secret = models.CharField(max_length=255, null=True, blank=True)
    # PATCH /me/username allows one change per 30 days.
    username_changed_at = models.DateTimeField(null=True, blank=True)
    # Set when the member deleted their account (DELETE /api/v1/me): the row stays as an
    # anonymised tombstone (threads keep their author id), every personal field is wiped.
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["username"]

    class Meta:
        db_table = "users"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            # The seed's idx_users_email, made case-insensitive.
            models.UniqueConstraint(Lower("email"), name="idx_users_email"),
            models.UniqueConstraint(fields=["username"], name="idx_users_username"),
        ]
        indexes: ClassVar[list[models.Index]] = [
            # The admin user list: newest first, keyset-paginated.
            models.Index(fields=["-created_at", "-id"], name="idx_users_recent"),
            # Admin search by prefix (LIKE 'q%') under any database collation.
            models.Index(
                OpClass(Lower("email"), name="text_pattern_ops"), name="idx_users_email_prefix"
            ),
            models.Index(
                OpClass("username", name="varchar_pattern_ops"), name="idx_users_username_prefix"
            ),
        ]

    def __str__(self) -> str:
        return f"User {self.pk} ({self.username})"

    def lock_is_active(self, now: Any = None) -> bool:
        """A lock counts until `locked_until` passes (or forever when it is null)."""
        if not self.is_locked:
            return False
        return self.locked_until is None or self.locked_until > (now or timezone.now())


class SingleUseToken(models.Model):
    """A random token mailed to a user. Only its SHA-256 is stored (seed column `token`)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE)
    token = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class EmailVerificationToken(SingleUseToken):
    class Meta:
        db_table = "email_verification_tokens"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["user", "created_at"], name="idx_email_verif_user_created"),
            models.Index(fields=["expires_at"], name="idx_email_verif_expires"),
        ]


class PasswordResetToken(SingleUseToken):
    class Meta:
        db_table = "password_reset_tokens"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["user", "created_at"], name="idx_pw_reset_user_created"),
            models.Index(fields=["expires_at"], name="idx_pw_reset_expires"),
        ]
