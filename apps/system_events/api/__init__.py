"""System events for agents: recorded with an Idempotency-Key, read and filtered."""
