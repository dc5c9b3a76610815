"""Portfolio snapshots: the account's value day by day."""
