"""Nested replies under core threads (issue 8)."""
