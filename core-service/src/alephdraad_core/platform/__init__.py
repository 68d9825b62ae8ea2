"""Cross-cutting HTTP plumbing every domain relies on: problem responses, request ids, logs."""
