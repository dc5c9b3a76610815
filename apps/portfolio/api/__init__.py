"""Portfolio snapshots for agents: one per exchange and day, upserted."""
