"""Stable error codes of the admin API and of `manage.py create_admin`."""

from __future__ import annotations

from alephdraad_contracts import VALIDATION_FAILED, ProblemType
from alephdraad_core.platform.errors import DomainError


class AdminInvalidCredentials(DomainError):
    """Unknown email, wrong password and inactive account all look like this (ASVS V6.3.8)."""

    problem_type = ProblemType("ADMIN_INVALID_CREDENTIALS", 401, "Invalid credentials")


class UserNotFound(DomainError):
    problem_type = ProblemType("USER_NOT_FOUND", 404, "User not found")


class AdminEmailTaken(DomainError):
    problem_type = ProblemType("ADMIN_EMAIL_TAKEN", 409, "Admin email already registered")


class AdminUsernameTaken(DomainError):
    problem_type = ProblemType("ADMIN_USERNAME_TAKEN", 409, "Admin username already taken")


class AdminAccountInvalid(DomainError):
    """create_admin was given an email, username or password that the policy refuses."""

    problem_type = VALIDATION_FAILED
