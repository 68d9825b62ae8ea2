"""Alephdraad core-service: users, auth, categories, threads, badges and admins."""

__version__ = "0.1.0"
