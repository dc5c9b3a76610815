"""Agent principals: who may call the API, their hashed tokens, idempotency keys and attributed writes."""
