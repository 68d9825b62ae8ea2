"""Cross-cutting machinery every domain relies on: errors, request ids, MongoDB, API docs."""
