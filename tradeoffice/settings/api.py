"""Settings of the agent API (DRF, filtering, OpenAPI, throttling)."""
