"""Events this service publishes: the `event_outbox` collection and its dispatcher (DESIGN 7)."""
