"""Who may call a view: a user (user token) or an admin (admin token), never the other."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from alephdraad_core.accounts.models import User
from alephdraad_core.admins.models import Admin


class IsUser(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, User)


class IsAdmin(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, Admin)
