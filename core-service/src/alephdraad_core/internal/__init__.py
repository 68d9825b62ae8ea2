"""The signed service-to-service listener under /internal/v1/ (DESIGN section 5)."""
